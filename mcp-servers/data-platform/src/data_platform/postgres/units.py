"""PostGIS measurements in degrees: said, where a model would rank countries by square degrees.

`ST_Area(geom)` on a geometry in a geographic SRID (4326...) returns square degrees, and
`ST_DWithin(geom, other, 1000)` reads 1000 as degrees. The query's parse tree (pglast) gives each
measurement call and its geometry arguments; a plain column is resolved to its table through the
FROM clause and its SRID read from `geometry_columns`, `ST_Transform`/`ST_SetSRID` to a literal
SRID set it; whether that SRID is geographic comes from `spatial_ref_sys`. A cast to geography
measures in metres: no note. What cannot be resolved (a CTE's column, a generic geometry column
of SRID 0) gets no note: a note that may not apply is worse than none.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from data_platform.config import Settings
from data_platform.errors import DataPlatformError
from data_platform.postgres import safety
from data_platform.postgres.sqltext import qualified, quote_ident

# measurement -> what its result (or its distance argument) is in, for a geometry in degrees
_UNITS = {
    "ST_Area": "square degrees",
    "ST_Length": "degrees",
    "ST_Length2D": "degrees",
    "ST_3DLength": "degrees",
    "ST_Perimeter": "degrees",
    "ST_Perimeter2D": "degrees",
    "ST_3DPerimeter": "degrees",
    "ST_Distance": "degrees",
    "ST_3DDistance": "degrees",
    "ST_MaxDistance": "degrees",
    "ST_3DMaxDistance": "degrees",
    "ST_HausdorffDistance": "degrees",
    "ST_FrechetDistance": "degrees",
    "ST_DWithin": "degrees (its distance argument too)",
    "ST_3DDWithin": "degrees (its distance argument too)",
    "ST_DFullyWithin": "degrees (its distance argument too)",
    "ST_Buffer": "degrees (its radius argument)",
    "ST_Expand": "degrees (its distance argument)",
}
MEASURES = {name.lower(): (name, unit) for name, unit in _UNITS.items()}
_TWO_GEOMETRIES = frozenset(
    {
        "st_distance",
        "st_3ddistance",
        "st_maxdistance",
        "st_3dmaxdistance",
        "st_hausdorffdistance",
        "st_frechetdistance",
        "st_dwithin",
        "st_3ddwithin",
        "st_dfullywithin",
    }
)
_SRID_SETTERS = frozenset({"st_transform", "st_setsrid"})


@dataclass(frozen=True)
class _Geometry:
    """A geometry argument traced to a column (`column`) and/or a literal SRID (`srid`)."""

    label: str
    column: tuple[str | None, str, str] | None = None  # (schema, table, column) of a geometry column
    srid: int | None = None


def _name(parts: list[dict[str, Any]]) -> list[str]:
    return [p["String"]["sval"] for p in parts if "String" in p]


def _walk(node: Any) -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(node, dict):
        for key, value in node.items():
            if isinstance(value, dict):
                yield key, value
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


class _Query:
    """The relations a query reads (alias -> schema, table) and its measurement calls."""

    def __init__(self, tree: dict[str, Any]) -> None:
        ctes = {v["ctename"] for k, v in _walk(tree) if k == "CommonTableExpr"}
        # A CTE or a subquery in FROM may rename or transform a column: an unqualified one is not traced.
        self.derived = bool(ctes) or any(k == "RangeSubselect" for k, _ in _walk(tree))
        self.relations: dict[str, tuple[str | None, str]] = {}
        for key, value in _walk(tree):
            if key == "RangeVar" and not (value.get("relname") in ctes and not value.get("schemaname")):
                alias = (value.get("alias") or {}).get("aliasname") or value["relname"]
                self.relations[alias] = (value.get("schemaname"), value["relname"])
        self.calls = [
            (fn, v.get("args") or [])
            for k, v in _walk(tree)
            if k == "FuncCall" and (fn := (_name(v.get("funcname", [])) or [""])[-1].lower()) in MEASURES
        ]

    def geometry(self, node: dict[str, Any]) -> _Geometry | None:
        """What a geometry argument is, or None: geography, or not traceable."""
        if "ColumnRef" in node:
            fields = _name(node["ColumnRef"].get("fields", []))
            if len(fields) == 1:
                if self.derived:
                    return None
                tables = list(self.relations.values())
                if len(tables) != 1:  # several tables: which one has it is asked of the catalogue
                    return _Geometry(fields[0], column=(None, "", fields[0]))
                schema, table = tables[0]
            elif len(fields) == 2 and fields[0] in self.relations:
                schema, table = self.relations[fields[0]]
            elif len(fields) == 3:
                schema, table = fields[0], fields[1]
            else:
                return None
            return _Geometry(".".join(fields), column=(schema, table, fields[-1]))
        if "TypeCast" in node:
            target = (_name(node["TypeCast"]["typeName"].get("names", [])) or [""])[-1].lower()
            return self.geometry(node["TypeCast"]["arg"]) if target == "geometry" else None
        if "FuncCall" in node:
            call = node["FuncCall"]
            fn = (_name(call.get("funcname", [])) or [""])[-1].lower()
            args = call.get("args") or []
            if fn in _SRID_SETTERS and len(args) == 2:  # ST_Transform(g, 3857), ST_SetSRID(g, 4326)
                srid = (args[1].get("A_Const") or {}).get("ival", {}).get("ival")
                return _Geometry(f"{fn}(..., {srid})", srid=srid) if isinstance(srid, int) else None
            if fn.startswith("st_") and fn not in MEASURES and args:
                return self.geometry(args[0])  # ST_Union, ST_Centroid...: the first argument's SRID
        return None


def degree_notes(conn: Any, sql: str) -> list[str]:
    """One note per measurement applied to a geometry in a geographic SRID (none if none)."""
    query = _Query(safety.parse(sql))
    found: list[tuple[str, _Geometry]] = []
    for fn, args in query.calls:
        for arg in args[: 2 if fn in _TWO_GEOMETRIES else 1]:
            geometry = query.geometry(arg)
            if geometry is not None:
                found.append((fn, geometry))
    if not found:
        return []
    srids = _resolve(conn, query, [g for _, g in found])
    notes: list[str] = []
    for fn, geometry in found:
        if geometry not in srids:
            continue
        srid, crs = srids[geometry]
        name, unit = MEASURES[fn]
        metres = f"{name}({geometry.label}::geography)" if geometry.column else "::geography"
        note = (
            f"{name}({geometry.label}) is in {unit}, not metres: a geometry in SRID {srid} ({crs}, "
            f"geographic). For metres cast to geography ({metres}) or ST_Transform to a projected SRID."
        )
        if note not in notes:
            notes.append(note)
    return notes


def _resolve(conn: Any, query: _Query, geometries: list[_Geometry]) -> dict[_Geometry, tuple[int, str]]:
    """Each geometry's SRID when it is geographic: (srid, reference system name)."""
    nsp = _postgis_schema(conn)
    if nsp is None:
        return {}
    tables = sorted({qualified(s, t) for s, t in query.relations.values()})
    rows = conn.execute(
        f"""select n.nspname, c.relname, g.f_geometry_column::text, g.srid
            from unnest(%s::text[]) as r(name)
            join pg_catalog.pg_class c on c.oid = to_regclass(r.name)
            join pg_catalog.pg_namespace n on n.oid = c.relnamespace
            join {quote_ident(nsp)}.geometry_columns g
              on g.f_table_schema = n.nspname and g.f_table_name = c.relname""",
        (tables,),
    ).fetchall()
    by_table: dict[tuple[str | None, str], dict[str, int]] = {}
    for schema, table, column, srid in rows:
        for alias_schema, alias_table in query.relations.values():
            if alias_table == table and alias_schema in (None, schema):
                by_table.setdefault((alias_schema, alias_table), {})[column] = srid
    srid_of: dict[_Geometry, int] = {}
    for g in geometries:
        if g.srid is not None:
            srid_of[g] = g.srid
        elif g.column is not None:
            schema, table, column = g.column
            if table:
                srid = by_table.get((schema, table), {}).get(column)
            else:  # an unqualified column over several tables: only if exactly one has it
                matches = {cols[column] for cols in by_table.values() if column in cols}
                srid = matches.pop() if len(matches) == 1 else None
            if srid:
                srid_of[g] = srid
    if not srid_of:
        return {}
    geographic = dict(
        conn.execute(
            f"""select srid, auth_name || ':' || auth_srid from {quote_ident(nsp)}.spatial_ref_sys
                where srid = any(%s) and (srtext like 'GEOGCS%%' or srtext like 'GEOGCRS%%')""",
            (sorted(set(srid_of.values())),),
        ).fetchall()
    )
    return {g: (s, geographic[s]) for g, s in srid_of.items() if s in geographic}


def _postgis_schema(conn: Any) -> str | None:
    row = conn.execute(
        "select n.nspname from pg_catalog.pg_extension e join pg_catalog.pg_namespace n "
        "on n.oid = e.extnamespace where e.extname = 'postgis'"
    ).fetchone()
    return row[0] if row else None


def notes_for(settings: Settings, sql: str, functions: set[str]) -> list[str]:
    """The degree notes of a query that ran (a separate short read-only session; only when the
    query calls a measurement). A failure here never fails the query: no note."""
    if not functions & MEASURES.keys():
        return []
    from data_platform.postgres.connection import session

    try:
        with session(settings, read_only=True) as conn:
            return degree_notes(conn, sql)
    except DataPlatformError:
        return []
