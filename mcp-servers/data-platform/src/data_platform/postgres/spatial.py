"""PostGIS facts from `geometry_columns`/`geography_columns` and from the data itself.

The catalogue says what a column was declared as (`GEOMETRY`, SRID 0...); the
data says what is really there (mixed types, Z/M, several SRIDs, empty
tables). Both are reported. Table and column names are resolved as bound
values and quoted as identifiers: a table named `weird "name"` works.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from data_platform.config import Settings
from data_platform.errors import NotFoundError, did_you_mean, list_for_message
from data_platform.postgres.catalog import resolve_table
from data_platform.postgres.connection import session
from data_platform.postgres.sqltext import qualified, quote_ident

_SPATIAL_COLUMNS = """
select f_table_schema::text, f_table_name::text, f_geometry_column::text, 'geometry', type::text,
       srid, coord_dimension
from public.geometry_columns
union all
select f_table_schema::text, f_table_name::text, f_geography_column::text, 'geography', type::text,
       srid, coord_dimension
from public.geography_columns
"""


@dataclass
class SpatialColumn:
    schema: str
    table: str
    column: str
    kind: str  # geometry | geography
    declared_type: str
    srid: int
    dims: int
    relkind: str = "table"


@dataclass
class TypeCount:
    type: str
    count: int


@dataclass
class ColumnTypes:
    column: SpatialColumn
    rows: int
    nulls: int
    empty: int
    types: list[TypeCount] = field(default_factory=list)


@dataclass
class SridInfo:
    column: SpatialColumn
    found: list[tuple[int, int]]  # (srid, rows)
    name: str | None  # e.g. EPSG:4326 WGS 84
    units: str | None


@dataclass
class Extent:
    column: SpatialColumn
    xmin: float | None
    ymin: float | None
    xmax: float | None
    ymax: float | None
    srid: int | None
    rows: int
    units: str | None = None  # of the coordinates: `degrees` for a geographic SRID


def _postgis_schema(conn: Any) -> str:
    row = conn.execute(
        "select n.nspname from pg_catalog.pg_extension e join pg_catalog.pg_namespace n "
        "on n.oid = e.extnamespace where e.extname = 'postgis'"
    ).fetchone()
    if row is None:
        raise NotFoundError(
            "PostGIS is not installed in this database.",
            hint="Run CREATE EXTENSION postgis (with pg_execute) if you need spatial tools.",
        )
    return row[0]


def _all_columns(conn: Any) -> list[SpatialColumn]:
    nsp = _postgis_schema(conn)
    sql = _SPATIAL_COLUMNS.replace("public.", quote_ident(nsp) + ".")
    rows = conn.execute(
        f"""select s.*, coalesce(c.relkind::text, 'r') from ({sql}) s
            left join pg_catalog.pg_namespace n on n.nspname = s.f_table_schema
            left join pg_catalog.pg_class c on c.relnamespace = n.oid and c.relname = s.f_table_name
            order by 1, 2, 3"""
    ).fetchall()
    kinds = {"r": "table", "v": "view", "m": "materialized view", "p": "partitioned table", "f": "foreign"}
    return [replace(SpatialColumn(*r[:7]), relkind=kinds.get(r[7], r[7])) for r in rows]


def spatial_tables(settings: Settings, schema: str | None = None) -> list[SpatialColumn]:
    with session(settings) as conn:
        cols = _all_columns(conn)
    return [c for c in cols if schema is None or c.schema == schema]


def _pick(conn: Any, table: str, column: str | None, schema: str | None) -> list[SpatialColumn]:
    nsp, name, _ = resolve_table(conn, table, schema)
    cols = [c for c in _all_columns(conn) if c.schema == nsp and c.table == name]
    if not cols:
        raise NotFoundError(
            f'"{nsp}"."{name}" has no geometry or geography column.',
            hint="st_tables lists the spatial tables.",
        )
    if column is None:
        return cols
    chosen = [c for c in cols if c.column == column]
    if not chosen:
        names = [c.column for c in cols]
        raise NotFoundError(
            f'"{name}" has no spatial column "{column}".{did_you_mean(column, names)}',
            hint="Its spatial columns: " + list_for_message(names),
        )
    return chosen


def _geom(c: SpatialColumn) -> str:
    """The column as geometry (geography is cast), quoted."""
    ref = quote_ident(c.column)
    return f"{ref}::geometry" if c.kind == "geography" else ref


def geometry_types(
    settings: Settings, table: str, column: str | None = None, schema: str | None = None
) -> list[ColumnTypes]:
    """Declared type plus the types actually present, with Z/M and counts."""
    out: list[ColumnTypes] = []
    with session(settings) as conn:
        for c in _pick(conn, table, column, schema):
            g = _geom(c)
            rows = conn.execute(
                f"""select
                      case when {g} is null then null else
                        replace(upper(ST_GeometryType({g})), 'ST_', '') ||
                        case ST_Zmflag({g}) when 1 then ' M' when 2 then ' Z' when 3 then ' ZM' else '' end
                      end as t,
                      count(*), count(*) filter (where ST_IsEmpty({g}))
                    from {qualified(c.schema, c.table)} group by 1 order by 2 desc"""
            ).fetchall()
            total = sum(r[1] for r in rows)
            nulls = sum(r[1] for r in rows if r[0] is None)
            empty = sum(r[2] or 0 for r in rows)
            types = [TypeCount(r[0], r[1]) for r in rows if r[0] is not None]
            out.append(ColumnTypes(c, total, nulls, empty, types))
    return out


def srids(
    settings: Settings, table: str, column: str | None = None, schema: str | None = None
) -> list[SridInfo]:
    """Declared SRID, the SRIDs present, and what spatial_ref_sys says about them."""
    out: list[SridInfo] = []
    with session(settings) as conn:
        nsp = _postgis_schema(conn)
        for c in _pick(conn, table, column, schema):
            found = conn.execute(
                f"""select ST_SRID({quote_ident(c.column)}), count(*) from {qualified(c.schema, c.table)}
                    where {quote_ident(c.column)} is not null group by 1 order by 2 desc"""
            ).fetchall()
            srid = c.srid or (found[0][0] if found else 0)
            name, units = _reference(conn, nsp, srid)
            out.append(SridInfo(c, [(r[0], r[1]) for r in found], name, units))
    return out


def _reference(conn: Any, nsp: str, srid: int | None) -> tuple[str | None, str | None]:
    """(`EPSG:4326 WGS 84`, `degrees`) for an SRID from spatial_ref_sys; (None, None) if unknown."""
    row = conn.execute(
        f"""select auth_name || ':' || auth_srid,
              coalesce(substring(srtext from '^[A-Z]+\\["([^"]+)"'), ''),
              case when srtext like 'GEOGCS%%' or srtext like 'GEOGCRS%%' then 'degrees'
                   else coalesce(substring(srtext from '.*UNIT\\["([^"]+)"'), 'unknown') end
            from {quote_ident(nsp)}.spatial_ref_sys where srid = %s""",
        (srid,),
    ).fetchone()
    return (f"{row[0]} {row[1]}".strip(), row[2]) if row else (None, None)


def extents(
    settings: Settings, table: str, column: str | None = None, schema: str | None = None
) -> list[Extent]:
    """The exact bounding box of each spatial column (ST_Extent over the data)."""
    out: list[Extent] = []
    with session(settings) as conn:
        nsp = _postgis_schema(conn)
        for c in _pick(conn, table, column, schema):
            g = _geom(c)
            row = conn.execute(
                f"""select ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e), n, s from (
                      select ST_Extent({g}) as e, count({g}) as n, min(ST_SRID({g})) as s
                      from {qualified(c.schema, c.table)}) x"""
            ).fetchone()
            assert row is not None  # an aggregate without GROUP BY returns one row
            srid = row[5] if row[5] is not None else c.srid
            units = _reference(conn, nsp, srid)[1] if srid else None
            out.append(Extent(c, row[0], row[1], row[2], row[3], srid, row[4], units))
    return out
