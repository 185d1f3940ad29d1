"""`diff` over refs, tables and queries: pushed down to PostgreSQL or streamed into DuckDB.

Each side is a data_ref, a table/view (`schema.table`) or a SELECT on a named connection.
Both sides on one connection: the whole diff runs there as SQL in a read-only session; only the
summary row and the capped examples leave the database. Otherwise each database side is streamed
(ADBC, COPY binary, batch by batch) into a temporary disk-backed ref, and the embedded DuckDB
compares the memory-mapped tables; the temporary refs are removed afterwards.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa
import pyarrow.compute as pc

from data_platform import work
from data_platform.config import Settings
from data_platform.diffing import compare, sql
from data_platform.errors import InputError, NotConfiguredError, NotFoundError, StorageError
from data_platform.frames.engine import Engine
from data_platform.postgres import safety
from data_platform.postgres.catalog import resolve_table
from data_platform.postgres.connection import session
from data_platform.postgres.sqlerror import explained
from data_platform.postgres.sqltext import qualified
from data_platform.registry import Registry
from data_platform.registry.names import NAME_PATTERN

_QUERY = re.compile(r"^\s*\(?\s*(select|with|values|table)\b", re.IGNORECASE)
EXAMPLES = 100  # rows per example ref
STREAM_MAX_ROWS = 2**62  # a streamed side is not held in memory: no row guard
_NUMERIC_PG = {"smallint", "integer", "bigint", "real", "double precision", "numeric"}
_NO_EQUALITY_PG = {"json", "xml", "point", "line", "lseg", "box", "path", "polygon", "circle"}


@dataclass(frozen=True)
class Side:
    """One side as the caller named it: a ref, or a table or query on a connection (None: default)."""

    text: str
    kind: Literal["ref", "table", "query"]
    connection: str | None = None

    @property
    def label(self) -> str:
        if self.kind == "query":
            short = " ".join(self.text.split())
            return short if len(short) <= 40 else short[:39] + "…"
        return self.text


def resolve_side(text: str, connection: str | None, explicit: bool, registry: Registry) -> Side:
    """A query if it reads like one; a ref if one has that name (unless a connection was named);
    else a table/view on the connection."""
    text = (text or "").strip()
    if not text:
        raise InputError("A side of the diff is empty.", hint="Pass a data_ref, a schema.table or a SELECT.")
    if _QUERY.match(text):
        return Side(text, "query", connection)
    if not explicit and NAME_PATTERN.fullmatch(text) and registry.exists(text):  # schema.table is no ref
        return Side(text, "ref")
    return Side(text, "table", connection)


@dataclass
class Outcome:
    """The diff and where it ran; `examples` maps a kind to the ref holding its rows."""

    result: compare.DiffResult
    left: Side
    right: Side
    where: str
    examples: dict[str, str] = field(default_factory=dict)
    example_rows: dict[str, int] = field(default_factory=dict)


SettingsFor = Callable[[str | None], Settings]


def run_diff(
    left: Side,
    right: Side,
    key: Sequence[str] | None,
    *,
    tolerance: float | None,
    settings_for: SettingsFor,
    registry: Registry,
    engine: Engine,
    examples: int = EXAMPLES,
) -> Outcome:
    """Run the diff where the data lives and store the examples as refs."""
    if tolerance is not None and tolerance < 0:
        raise InputError(f"tolerance={tolerance} is negative.", hint="Pass an absolute difference >= 0.")

    def settings_of(side: Side) -> Settings:
        try:
            return settings_for(side.connection)
        except NotConfiguredError:
            if side.kind == "table" and side.connection is None:  # most likely a ref's name, mistyped
                raise missing_side_error(side.text, registry) from None
            raise

    same_db = left.kind != "ref" and right.kind != "ref" and _conn_key(left) == _conn_key(right)
    if same_db:
        return _pushdown(left, right, key, tolerance, settings_of(left), registry, examples)
    return _streamed(left, right, key, tolerance, settings_of, registry, engine, examples)


def _conn_key(side: Side) -> str:
    return (side.connection or "default").lower()


# -- in PostgreSQL ------------------------------------------------------------------------------------
def _pg_relation(conn: Any, side: Side) -> str:
    if side.kind == "query":
        checked = safety.check_query(side.text)
        if checked.kind != "select":
            raise InputError("A query side must be one SELECT.", hint="Or name a table: schema.table.")
        safety.check_functions(conn, checked.functions)
        return f"(\n{checked.sql}\n)"
    nsp, name, _ = resolve_table(conn, side.text)
    return qualified(nsp, name)


def _pg_columns(conn: Any, relation: str) -> list[compare.SideColumn]:
    cur = conn.execute(f"SELECT * FROM {relation} AS _dp_src LIMIT 0")
    oids = [d.type_code for d in cur.description]
    names = dict(
        conn.execute("select o, format_type(o, null) from unnest(%s::oid[]) as o", (oids,)).fetchall()
    )
    out = []
    for d in cur.description:
        t = names.get(d.type_code, "?")
        out.append(compare.SideColumn(d.name, t, t in _NUMERIC_PG, t in _NO_EQUALITY_PG))
    return out


def _pushdown(
    left: Side,
    right: Side,
    key: Sequence[str] | None,
    tolerance: float | None,
    settings: Settings,
    registry: Registry,
    examples: int,
) -> Outcome:
    from data_platform.postgres import query as pgquery

    sides = "\n".join(s.text for s in (left, right) if s.kind == "query")
    with explained(settings, sides), session(settings, read_only=True) as conn:  # where, and which relation
        lrel, rrel = _pg_relation(conn, left), _pg_relation(conn, right)
        lcols, rcols = _pg_columns(conn, lrel), _pg_columns(conn, rrel)

        def execute(text: str) -> pa.Table:
            cur = conn.execute(text)
            names = [d.name for d in cur.description or []]
            return pa.Table.from_pylist([dict(zip(names, row, strict=True)) for row in cur.fetchall()])

        result = compare.diff(
            execute,
            lrel,
            rrel,
            lcols,
            rcols,
            key,
            tolerance=tolerance,
            dialect=sql.POSTGRES,
            examples=examples,
            run_examples=False,
        )
    name = settings.postgres.name if settings.postgres else "default"
    out = Outcome(result, left, right, where=f"in PostgreSQL (connection {name})")
    for kind, text in result.example_sql.items():
        work.check()
        # No name: the registry picks a free one as it publishes (a name chosen before, then
        # passed, could be taken by a diff running at the same time: "already exists").
        done = pgquery.run_query(settings, registry, text, default_name=f"diff_{kind}", max_rows=examples)
        out.examples[kind] = done.info.name
        out.example_rows[kind] = done.info.rows
    return out


# -- streamed into DuckDB -----------------------------------------------------------------------------
_FAMILIES = (
    (pa.types.is_integer, "integer"),
    (pa.types.is_floating, "float"),
    (lambda t: pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t), "string"),
)


def _loose(cols: list[compare.SideColumn], schema: pa.Schema) -> list[compare.SideColumn]:
    """Types by family (int32 ~ int64, string ~ large_string): a database and a file spell widths
    differently, and that is not a change in the data."""
    out = []
    for c, f in zip(cols, schema, strict=True):
        family = next((name for test, name in _FAMILIES if test(f.type)), c.type)
        out.append(compare.SideColumn(c.name, family, c.numeric, c.text_only))
    return out


def _sorted_unique(table: pa.Table, key: Sequence[str]) -> bool:
    """A one-column key in strictly increasing order (how tables are often exported) has no
    duplicates: proven in one vectorised pass, instead of a GROUP BY over the whole side."""
    if len(key) != 1 or key[0] not in table.column_names or table.num_rows < 2:
        return False
    col = table.column(key[0])
    t = col.type
    orderable = pa.types.is_integer(t) or pa.types.is_string(t) or pa.types.is_large_string(t)
    if not (orderable or pa.types.is_temporal(t) or pa.types.is_decimal(t)) or col.null_count:
        return False
    try:
        n = table.num_rows
        return bool(pc.all(pc.greater(col.slice(1), col.slice(0, n - 1))).as_py())
    except (pa.ArrowNotImplementedError, pa.ArrowInvalid):
        return False


def _streamed(
    left: Side,
    right: Side,
    key: Sequence[str] | None,
    tolerance: float | None,
    settings_of: Callable[[Side], Settings],
    registry: Registry,
    engine: Engine,
    examples: int,
) -> Outcome:
    from data_platform.postgres import query as pgquery

    temp: Registry | None = None  # database sides stream into refs of a scratch folder; refs need none
    try:
        tables: list[pa.Table] = []
        for side_name, side in (("left", left), ("right", right)):
            if side.kind == "ref":
                tables.append(registry.get(side.text))
                continue
            temp = temp or _scratch(registry)
            settings = settings_of(side)
            if side.kind == "query":
                text = side.text
            else:
                with session(settings, read_only=True) as conn:
                    nsp, name, _ = resolve_table(conn, side.text)
                text = f"SELECT * FROM {qualified(nsp, name)}"
            work.progress(0, None, f"streaming the {side_name} side from PostgreSQL")
            done = pgquery.run_query(settings, temp, text, name=side_name, max_rows=STREAM_MAX_ROWS)
            tables.append(temp.get(done.info.name))
        lt, rt = tables
        lcols, rcols = compare.arrow_columns(lt.schema), compare.arrow_columns(rt.schema)
        if left.kind != right.kind or _conn_key(left) != _conn_key(right):
            lcols, rcols = _loose(lcols, lt.schema), _loose(rcols, rt.schema)
        with engine.over({"_dp_left": lt, "_dp_right": rt}) as con:

            def execute(text: str) -> pa.Table:
                return engine.run(con, text)

            def materialise(select: str) -> str:
                # The differing rows, in this cursor's own temporary table (gone with the cursor).
                engine.run(con, f"CREATE OR REPLACE TEMP TABLE _dp_rows AS {select}")
                return "_dp_rows"

            result = compare.diff(
                execute,
                '"_dp_left"',
                '"_dp_right"',
                lcols,
                rcols,
                key,
                tolerance=tolerance,
                dialect=sql.DUCKDB,
                examples=examples,
                run_examples=False,
                materialise=materialise,
                unique=[n for n, t in (("left", lt), ("right", rt)) if key and _sorted_unique(t, key)],
                one_pass=True,
            )
            streamed = [s.connection or "default" for s in (left, right) if s.kind != "ref"]
            where = "in DuckDB" + (
                f" (streamed from {', '.join(dict.fromkeys(streamed))})" if streamed else ""
            )
            out = Outcome(result, left, right, where=where)
            for kind, text in result.example_sql.items():
                work.check()
                result.examples[kind] = execute(text)
            for kind, table in result.examples.items():
                info = registry.put(
                    table, default_name=f"diff_{kind}", source=f"diff {left.label} vs {right.label}: {kind}"
                )
                out.examples[kind] = info.name
                out.example_rows[kind] = info.rows
        return out
    finally:
        if temp is not None:
            temp.close()
            shutil.rmtree(temp.root, ignore_errors=True)


def _scratch(registry: Registry) -> Registry:
    """A throwaway registry in a hidden folder of the project's (same disk: files are mapped)."""
    try:
        registry.ensure_root()
        return Registry(Path(tempfile.mkdtemp(prefix=".diff-", dir=registry.root)))
    except OSError as exc:
        raise StorageError(
            f"Cannot make a scratch folder in {registry.root}: {exc.strerror or exc}.",
            hint="Check that the registry folder is writable (DATA_PLATFORM_REGISTRY_DIR).",
        ) from exc


def missing_side_error(text: str, registry: Registry) -> NotFoundError:
    names = registry.names()
    return NotFoundError(
        f"No data_ref or table named {text!r}.",
        hint="Refs: "
        + (", ".join(names[:20]) or "none")
        + ". Name a table as schema.table with a connection.",
    )
