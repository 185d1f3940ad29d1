"""The catalogue: schemas, tables/views and columns, without system or PostGIS internals.

Objects owned by an extension (PostGIS's `spatial_ref_sys`, `geometry_columns`...)
and the system schemas are left out unless asked for. Names are looked up as
bound values, never pasted into SQL.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from data_platform.config import Settings
from data_platform.errors import NotFoundError, did_you_mean, list_for_message
from data_platform.postgres.connection import session

KINDS = {"r": "table", "p": "partitioned table", "v": "view", "m": "materialized view", "f": "foreign table"}

_USER_SCHEMA = """(n.nspname not in ('pg_catalog', 'information_schema', 'pg_toast')
  and n.nspname not like 'pg_temp_%%' and n.nspname not like 'pg_toast_temp_%%')"""
_NOT_EXTENSION = """not exists (select 1 from pg_catalog.pg_depend d
  where d.classid = 'pg_catalog.pg_class'::regclass and d.objid = c.oid and d.deptype = 'e')"""


@dataclass
class SchemaRow:
    name: str
    owner: str
    tables: int
    views: int


@dataclass
class TableRow:
    schema: str
    name: str
    kind: str
    est_rows: int | None
    size_bytes: int | None
    comment: str | None


@dataclass
class ColumnRow:
    name: str
    type: str
    nullable: bool
    default: str | None
    primary_key: bool
    comment: str | None


def schemas(settings: Settings, include_system: bool = False) -> list[SchemaRow]:
    sql = f"""
    select n.nspname, pg_catalog.pg_get_userbyid(n.nspowner),
      count(c.oid) filter (where c.relkind in ('r','p','f') and {_NOT_EXTENSION}),
      count(c.oid) filter (where c.relkind in ('v','m') and {_NOT_EXTENSION})
    from pg_catalog.pg_namespace n left join pg_catalog.pg_class c on c.relnamespace = n.oid
    where %(all)s or {_USER_SCHEMA}
    group by 1, 2 order by 1"""
    with session(settings) as conn:
        rows = conn.execute(sql, {"all": include_system}).fetchall()
    return [SchemaRow(*r) for r in rows]


def tables(settings: Settings, schema: str | None = None, include_system: bool = False) -> list[TableRow]:
    sql = f"""
    select n.nspname, c.relname, c.relkind,
      case when c.relkind in ('r','p','m') and c.reltuples >= 0 then c.reltuples::bigint end,
      case when c.relkind in ('r','p','m') then pg_catalog.pg_total_relation_size(c.oid) end,
      pg_catalog.obj_description(c.oid, 'pg_class')
    from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
    where c.relkind in ('r','p','v','m','f')
      and (%(schema)s::text is null or n.nspname = %(schema)s)
      and (%(all)s or ({_USER_SCHEMA} and {_NOT_EXTENSION}))
    order by 1, 2"""
    with session(settings) as conn:
        if schema is not None:
            _require_schema(conn, schema)
        rows = conn.execute(sql, {"schema": schema, "all": include_system}).fetchall()
    return [TableRow(r[0], r[1], KINDS[r[2]], r[3], r[4], r[5]) for r in rows]


def _require_schema(conn: Any, schema: str) -> None:
    names = [r[0] for r in conn.execute("select nspname from pg_catalog.pg_namespace").fetchall()]
    if schema not in names:
        raise NotFoundError(
            f'Schema "{schema}" not found.{did_you_mean(schema, names)}',
            hint=("Names are case-sensitive; " if any(n.lower() == schema.lower() for n in names) else "")
            + "pg_schemas lists them.",
        )


def resolve_table(conn: Any, table: str, schema: str | None = None) -> tuple[str, str, int]:
    """(schema, name, oid) of a table/view, by exact name; NotFoundError with suggestions.

    Without a schema, the first match on the search_path wins, then any schema;
    `schema.table` in one string is accepted when no table has that literal name.
    """
    rows = conn.execute(
        """select n.nspname, c.relname, c.oid,
             coalesce(array_position(pg_catalog.current_schemas(false), n.nspname), 1000)
           from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
           where c.relkind in ('r','p','v','m','f') and c.relname = %s
             and (%s::text is null or n.nspname = %s)
           order by 4, 1""",
        (table, schema, schema),
    ).fetchall()
    if rows:
        return rows[0][0], rows[0][1], rows[0][2]
    if schema is None and "." in table:
        left, _, right = table.partition(".")
        return resolve_table(conn, right.strip('"'), left.strip('"'))
    candidates = [
        r[0]
        for r in conn.execute(
            f"""select c.relname from pg_catalog.pg_class c
                join pg_catalog.pg_namespace n on n.oid = c.relnamespace
                where c.relkind in ('r','p','v','m','f') and {_USER_SCHEMA}""",
        ).fetchall()
    ]
    where = f' in schema "{schema}"' if schema else ""
    case = "Names are case-sensitive; " if any(c.lower() == table.lower() for c in candidates) else ""
    raise NotFoundError(
        f'Table "{table}" not found{where}.{did_you_mean(table, candidates)}',
        hint=f"{case}pg_tables lists them: " + list_for_message(sorted(candidates), 15),
    )


def columns(settings: Settings, table: str, schema: str | None = None) -> tuple[str, str, list[ColumnRow]]:
    with session(settings) as conn:
        nsp, name, oid = resolve_table(conn, table, schema)
        rows = conn.execute(
            """select a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod), not a.attnotnull,
                 pg_catalog.pg_get_expr(d.adbin, d.adrelid),
                 exists (select 1 from pg_catalog.pg_index i
                         where i.indrelid = a.attrelid and i.indisprimary and a.attnum = any(i.indkey)),
                 pg_catalog.col_description(a.attrelid, a.attnum)
               from pg_catalog.pg_attribute a
               left join pg_catalog.pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
               where a.attrelid = %s and a.attnum > 0 and not a.attisdropped
               order by a.attnum""",
            (oid,),
        ).fetchall()
    return nsp, name, [ColumnRow(*r) for r in rows]


def table_names(settings: Settings, limit: int = 5_000) -> tuple[list[str], list[str]]:
    """(schemas, `schema.table` names) of the user's tables and views, for completions.

    One cheap query (no sizes, no comments), at most `limit` names.
    """
    sql = f"""
    select n.nspname, c.relname
    from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
    where c.relkind in ('r','p','v','m','f') and {_USER_SCHEMA} and {_NOT_EXTENSION}
    order by 1, 2 limit %(limit)s"""
    with session(settings) as conn:
        spaces = f"select n.nspname from pg_catalog.pg_namespace n where {_USER_SCHEMA}"
        names = [r[0] for r in conn.execute(spaces, {}).fetchall()]
        rows = conn.execute(sql, {"limit": limit}).fetchall()
    return sorted(names), [f"{s}.{t}" for s, t in rows]
