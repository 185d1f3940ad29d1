"""Index advice that is checked: candidates from the plans, tried as hypothetical indexes (hypopg).

For one query or for the workload (the costliest statements of `pg_stat_statements`), each
statement is planned (a generic plan when it has `$n` parameters, as pg_stat_statements
records them), candidates are read from its sequential scans (`plans.candidates`), and each
candidate is created as a hypothetical index (session-local, invisible to everyone else, and
allowed in a read-only transaction) and the statement planned again. A candidate is kept only
when the planner's estimated cost drops at least MIN_GAIN times; the answer gives the
`CREATE INDEX CONCURRENTLY` statement, hypopg's estimated size and the costs before and after.
Without hypopg the planner cannot be asked: a query's first candidate is proposed, said to be
unverified, unless its filter keeps over KEEP_MAX of the table (the planner's row estimate).
Nothing is created here: the user runs the statement (pg_execute on a writable connection).
"""

from __future__ import annotations

import itertools
import json
import re
from typing import Any

import psycopg

from data_platform.config import Settings
from data_platform.errors import DatabaseError, ExpressionError
from data_platform.postgres import safety
from data_platform.postgres.connection import session
from data_platform.postgres.doctor import plans, top
from data_platform.postgres.doctor.common import Unavailable, extension, hypopg_howto, ident, savepoint
from data_platform.postgres.doctor.findings import KEEP_MAX, MIN_GAIN, Advice, Advised, Helped, Looked
from data_platform.postgres.doctor.measure import query_only

WORKLOAD = 20  # statements of pg_stat_statements looked at, costliest (total time) first
_PLANNED = {"SelectStmt", "UpdateStmt", "DeleteStmt"}
_SYSTEM = ("pg_catalog", "information_schema", "pg_toast")
_NAMES = itertools.count()


def _params(sql: str) -> int:
    """How many `$n` parameters a statement has (pg_stat_statements writes constants so)."""
    tree = json.dumps(safety.parse(sql))
    return max((int(n) for n in re.findall(r'"ParamRef": \{[^}]*?"number": (\d+)', tree)), default=0)


def plan_of(conn: psycopg.Connection[Any], sql: str) -> dict[str, Any]:
    """The planner's plan (EXPLAIN, never run); a generic plan when the statement has parameters."""
    n = _params(sql)
    if n == 0:
        row = conn.execute(f"explain (format json, verbose) {sql}").fetchone()
    else:
        # A prepared statement outlives a rolled-back savepoint: each gets its own name.
        name = f"dp_doctor_{next(_NAMES)}"
        conn.execute("set local plan_cache_mode = force_generic_plan")
        conn.execute(f"prepare {name} as {sql}")
        row = conn.execute(
            f"explain (format json, verbose) execute {name}({', '.join(['null'] * n)})"
        ).fetchone()
        conn.execute(f"deallocate {name}")
    assert row is not None
    doc = row[0] if not isinstance(row[0], str) else json.loads(row[0])
    return doc[0]["Plan"]


def _existing(conn: psycopg.Connection[Any]) -> dict[tuple[str, str], list[tuple[str, ...]]]:
    """Key columns of every valid index, by (schema, table)."""
    rows = conn.execute(
        """
        select n.nspname, t.relname,
               array(select a.attname
                     from unnest(i.indkey[0:i.indnkeyatts - 1]) with ordinality k(attnum, ord)
                     join pg_attribute a on a.attrelid = i.indrelid and a.attnum = k.attnum order by k.ord)
        from pg_index i join pg_class t on t.oid = i.indrelid join pg_namespace n on n.oid = t.relnamespace
        where i.indisvalid and n.nspname not in ('pg_catalog', 'information_schema', 'pg_toast')
        """
    ).fetchall()
    out: dict[tuple[str, str], list[tuple[str, ...]]] = {}
    for schema, table, cols in rows:
        out.setdefault((schema, table), []).append(tuple(cols))
    return out


def _statement_name(c: plans.Candidate) -> str:
    base = re.sub(r"[^a-z0-9_]+", "_", "_".join([c.table, *c.names]).lower()).strip("_")
    return (base[:59] + "_idx").lstrip("_")


def _create(c: plans.Candidate, concurrently: bool = True) -> str:
    how = "CREATE INDEX CONCURRENTLY " + ident(_statement_name(c)) if concurrently else "CREATE INDEX"
    return f"{how} ON {ident(c.schema, c.table)} ({', '.join(c.columns)})"


def _queries(conn: psycopg.Connection[Any], sql: str | None) -> tuple[list[Looked], list[str]]:
    """The statements to look at: the one given (a query), or the workload's costliest."""
    if sql is not None:
        checked = query_only(sql, "pg_index_advice")
        # The same function checks as every path that runs a caller's SQL: planning folds
        # immutable calls, and nothing volatile should get near the planner on our behalf.
        safety.check_functions(conn, checked.functions)
        return [Looked(checked.sql.strip(), "")], []
    found = top.read(conn, "total", limit=WORKLOAD * 3)
    looked: list[Looked] = []
    for s in found.statements:
        if not s.visible:
            continue
        try:
            stmts = safety.parse(s.query).get("stmts", [])
        except ExpressionError:
            continue
        if len(stmts) != 1 or next(iter(stmts[0]["stmt"])) not in _PLANNED:
            continue
        looked.append(Looked(s.query.strip(), "", calls=s.calls))
        if len(looked) >= WORKLOAD:
            break
    return looked, found.notes


def advise(settings: Settings, sql: str | None = None) -> Advice:
    """Checked index advice for `sql`, or for the workload when `sql` is None. Writes nothing."""
    with session(settings, read_only=True) as conn:
        conn.prepare_threshold = None  # the driver's own prepared statements would clash with ours
        looked, notes = _queries(conn, sql)
        hypopg = extension(conn, "hypopg")
        existing = _existing(conn)
        plans_by_query: dict[int, list[plans.Candidate]] = {}
        for i, q in enumerate(looked):
            try:
                with savepoint(conn):
                    plan = plan_of(conn, q.query)
            except (psycopg.Error, Unavailable) as exc:
                if isinstance(exc, Unavailable) and sql is not None:
                    raise DatabaseError(
                        f"PostgreSQL refused to plan the query: {exc}.",
                        hint="The role needs SELECT on the tables the query reads (as for EXPLAIN).",
                    ) from None
                if sql is not None or isinstance(exc, psycopg.errors.QueryCanceled):
                    raise  # the one query asked about: its own error is the answer
                q.verdict = f"could not be planned: {str(exc).splitlines()[0][:150]}"
                continue
            q.cost = float(plan["Total Cost"])
            if not _user_relations(plan):
                q.verdict = "-"  # only the catalogue (the doctor's own probes...): nothing to index
                continue
            cands = [c for c in plans.candidates(plan) if c.schema not in _SYSTEM]
            served = [
                c
                for c in cands
                if any(cols[: len(c.names)] == c.names for cols in existing.get((c.schema, c.table), []))
            ]
            cands = [c for c in cands if c not in served]
            if not cands:
                scans = _seq_scans(plan)
                q.verdict = (
                    "an index already has these columns; the planner prefers to scan (low selectivity)"
                    if served
                    else "reads whole tables with no predicate to index"
                    if scans
                    else "served by indexes (no table scan)"
                )
            plans_by_query[i] = cands
        if hypopg is None:
            advised = _unverified(conn, looked, plans_by_query)
            notes = [*notes, hypopg_howto(conn)]
        else:
            advised = _checked(conn, looked, plans_by_query)
    for q in looked:
        q.verdict = q.verdict or "no candidate index could be tried"
    looked = [q for q in looked if q.verdict != "-"]
    return Advice(advised=advised, looked=looked, hypopg=hypopg, notes=notes)


def _user_relations(plan: dict[str, Any]) -> bool:
    return any("Relation Name" in n and n.get("Schema") not in _SYSTEM for n, _ in plans.nodes(plan))


def _seq_scans(plan: dict[str, Any]) -> bool:
    return any(
        n.get("Node Type") == "Seq Scan" and n.get("Schema", "public") not in _SYSTEM
        for n, _ in plans.nodes(plan)
    )


def _kept(conn: psycopg.Connection[Any], c: plans.Candidate) -> float | None:
    """The share of its table a filter candidate's scan keeps (the planner's estimates), or None."""
    if c.rows is None:
        return None
    rows = c.rows
    if c.own is not None:  # the filter has conjuncts this index would not serve: plan its own
        try:
            with savepoint(conn):
                rows = float(plan_of(conn, c.own)["Plan Rows"])
        except psycopg.errors.QueryCanceled:
            raise
        except (psycopg.Error, Unavailable):
            pass  # ($n parameters of a generic plan) the whole filter's rows: an underestimate
    row = conn.execute(
        "select reltuples from pg_class where oid = to_regclass(%s)", (ident(c.schema, c.table),)
    ).fetchone()
    return rows / float(row[0]) if row and row[0] and row[0] > 0 else None


def _unverified(
    conn: psycopg.Connection[Any], looked: list[Looked], found: dict[int, list[plans.Candidate]]
) -> list[Advised]:
    out: dict[str, Advised] = {}
    for i, cands in found.items():
        wide = [(share, c) for c in cands if (share := _kept(conn, c)) is not None and share > KEEP_MAX]
        cands = [c for c in cands if c not in {w for _, w in wide}]
        if not cands:
            if wide:
                share, c = wide[0]
                looked[i].verdict = (
                    f"the filter keeps ~{min(share, 1.0):.0%} of {c.table}'s rows (planner's estimate): "
                    "an index would not be used"
                )
            continue
        c = cands[0]  # without hypopg, the first candidate left: a guess, said to be one
        a = out.setdefault(_create(c), _advised(c, verified=False))
        a.helps.append(Helped(looked[i].query, looked[i].cost or 0.0, looked[i].cost or 0.0))
        looked[i].verdict = "candidate index (unverified: no hypopg)"
    return list(out.values())


def _advised(c: plans.Candidate, verified: bool, size: int | None = None) -> Advised:
    return Advised(
        table=ident(c.schema, c.table),
        columns=list(c.columns),
        create=_create(c),
        drop=f"DROP INDEX CONCURRENTLY {ident(c.schema, _statement_name(c))}",
        verified=verified,
        size_bytes=size,
    )


def _checked(
    conn: psycopg.Connection[Any], looked: list[Looked], found: dict[int, list[plans.Candidate]]
) -> list[Advised]:
    """Each candidate as a hypothetical index; each query's best one kept if it gains MIN_GAIN."""
    conn.execute("select hypopg_reset()")
    tried: dict[plans.Candidate, tuple[int, dict[int, float]]] = {}
    every = list(dict.fromkeys(c for cands in found.values() for c in cands))
    for c in every:
        try:  # a column type without a b-tree operator class (json, point...) cannot be indexed so
            with savepoint(conn):
                row = conn.execute("select indexrelid from hypopg_create_index(%s)", (_create(c, False),))
                oid = row.fetchone()
        except psycopg.errors.QueryCanceled:
            raise
        except (psycopg.Error, Unavailable):
            continue
        assert oid is not None
        size = conn.execute("select hypopg_relation_size(%s)", (oid[0],)).fetchone()
        costs: dict[int, float] = {}
        for i, cands in found.items():
            if any((o.schema, o.table) == (c.schema, c.table) for o in cands):
                try:
                    with savepoint(conn):
                        costs[i] = float(plan_of(conn, looked[i].query)["Total Cost"])
                except psycopg.errors.QueryCanceled:
                    raise
                except (psycopg.Error, Unavailable):
                    pass
        conn.execute("select hypopg_drop_index(%s)", (oid[0],))
        tried[c] = (int(size[0]) if size else 0, costs)
    out: dict[str, Advised] = {}
    for i, cands in found.items():
        q = looked[i]
        best: tuple[float, plans.Candidate] | None = None
        for c in cands:
            after = tried[c][1].get(i) if c in tried else None
            if after is None or q.cost is None:
                continue
            gain = q.cost / after if after > 0 else float("inf")
            if (
                best is None
                or gain > best[0] * 1.05
                or (gain >= best[0] / 1.05 and len(c.columns) < len(best[1].columns))
            ):
                best = (gain, c)
        if best is None:
            continue
        if best[0] < MIN_GAIN:
            tried_best = f"{best[1].table} ({', '.join(best[1].columns)})"
            q.verdict = f"no index helps {MIN_GAIN:g}x (best {best[0]:.1f}x: {tried_best})"
            continue
        c = best[1]
        a = out.setdefault(_create(c), _advised(c, verified=True, size=tried[c][0]))
        a.helps.append(Helped(q.query, q.cost or 0.0, tried[c][1][i]))
        q.verdict = f"index advised: {best[0]:,.0f}x lower cost"
    return list(out.values())
