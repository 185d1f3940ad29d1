"""PostgreSQL types as useful Arrow types: the query wrapped so the server converts what the driver
cannot decode (geometry to WKT/GeoJSON, inet/enum/composites to text) or decodes slowly (numeric
and money as numeric's text), then the Arrow that comes back finished (numeric as an exact decimal,
SRIDs noted, hidden columns dropped).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import pyarrow as pa

from data_platform.postgres.sqltext import quote_ident
from data_platform.registry.names import unique_names

GeoFormat = Literal["wkt", "geojson"]

_SPATIAL = ("geometry", "geography")
_SRID_PREFIX = "__dp_srid_"


def pg_type_of(f: pa.Field) -> str:
    meta = f.metadata or {}
    return meta.get(b"POSTGRESQL:type", b"").decode() or meta.get(b"ADBC:postgresql:typname", b"").decode()


def typmod_of(f: pa.Field) -> int:
    meta = f.metadata or {}
    try:
        return int(meta.get(b"POSTGRESQL:typmod", b"-1"))
    except ValueError:
        return -1


def _is_opaque(t: pa.DataType) -> bool:
    return isinstance(t, pa.BaseExtensionType) and t.extension_name == "arrow.opaque"


def _needs_text(f: pa.Field) -> bool:
    """Types the driver would hand over as opaque bytes: send them as text instead."""
    t = f.type
    if pg_type_of(f) == "numeric":
        return False
    if _is_opaque(t) or (isinstance(t, pa.BaseExtensionType) and t.extension_name == "arrow.uuid"):
        return True
    if pa.types.is_struct(t) or pg_type_of(f) == "record":
        return True  # composite values: the driver cannot always decode them
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        value = t.value_field
        extension = isinstance(value.type, pa.BaseExtensionType)
        return extension or _needs_text(value) or pg_type_of(value) == "numeric"
    return False


@dataclass
class Plan:
    sql: str
    spatial: dict[str, str] = field(default_factory=dict)  # output column -> hidden srid column
    pg_types: dict[str, str] = field(default_factory=dict)  # output column -> PostgreSQL type
    typmods: dict[str, int] = field(default_factory=dict)  # output numeric column -> its typmod
    renamed: str = ""  # the columns whose repeated names were made unique, said in the answer

    def numeric(self, f: pa.Field) -> tuple[bool, int]:
        """Whether a result column is numeric (sent as text or opaque), and its declared typmod."""
        if f.name in self.typmods:
            return True, self.typmods[f.name]
        return "numeric" in (self.pg_types.get(f.name), pg_type_of(f)), typmod_of(f)


def plan(sql: str, schema: pa.Schema, geo: GeoFormat) -> Plan:
    """Wrap the query so every column arrives as a useful Arrow type, or keep it as is."""
    names = list(schema.names)
    unique, renamed = unique_names(names)
    exprs: list[str] = []
    spatial: dict[str, str] = {}
    pg_types = {out: pg_type_of(f) for f, out in zip(schema, unique, strict=True)}
    typmods: dict[str, int] = {}
    changed = unique != names
    for i, (f, out) in enumerate(zip(schema, unique, strict=True)):
        ref = f"_q.{quote_ident(f'c{i}')}"
        pg_type = pg_type_of(f)
        if pg_type in _SPATIAL:
            fn = "ST_AsGeoJSON" if geo == "geojson" else "ST_AsText"
            hidden = f"{_SRID_PREFIX}{i}"
            exprs.append(f"{fn}({ref}) AS {quote_ident(out)}")
            exprs.append(f"ST_SRID({ref}) AS {quote_ident(hidden)}")
            spatial[out] = hidden
            changed = True
        elif pg_type in ("numeric", "money"):
            # numeric as the server's text: the driver's own numeric decoding costs ~3x more client
            # CPU than the server's numeric_out (bench_postgres.py); money's cents become numeric's.
            exprs.append(f"{ref}::numeric::text AS {quote_ident(out)}")
            typmods[out] = typmod_of(f) if pg_type == "numeric" else -1
            changed = True
        elif _needs_text(f):
            exprs.append(f"{ref}::text AS {quote_ident(out)}")
            changed = True
        else:
            exprs.append(f"{ref} AS {quote_ident(out)}")
    if not changed:
        return Plan(sql=sql)
    aliases = ", ".join(quote_ident(f"c{i}") for i in range(len(names)))
    # Newlines around the user's SQL so a trailing `-- comment` cannot swallow the bracket.
    wrapped = f"SELECT {', '.join(exprs)} FROM (\n{sql}\n) AS _q({aliases})"
    return Plan(sql=wrapped, spatial=spatial, pg_types=pg_types, typmods=typmods, renamed=renamed)


def _decimal_type(precision: int, scale: int) -> pa.DataType | None:
    if precision <= 38:
        return pa.decimal128(precision, scale)
    if precision <= 76:
        return pa.decimal256(precision, scale)
    return None


def _numeric_column(col: pa.ChunkedArray, typmod: int) -> tuple[pa.ChunkedArray, str | None]:
    """Numeric text (the server's, or the driver's opaque strings) to an exact decimal; text only
    if no decimal can hold them."""
    import pyarrow.compute as pc  # not at the server's start

    if _is_opaque(col.type):
        storage = pa.chunked_array([c.storage for c in col.chunks], type=pa.string())
    else:
        storage = col.cast(pa.string())
    if typmod >= 4:
        precision, scale = ((typmod - 4) >> 16) & 0xFFFF, (typmod - 4) & 0xFFFF
    else:
        if storage.null_count == len(storage):
            return storage, None
        dot = pc.find_substring(storage, ".")
        length = pc.utf8_length(storage)
        frac = pc.if_else(pc.greater_equal(dot, 0), pc.subtract(pc.subtract(length, dot), 1), 0)
        whole = pc.if_else(pc.greater_equal(dot, 0), dot, length)
        scale = int(pc.max(frac).as_py() or 0)
        digits = int(pc.max(whole).as_py() or 1)
        precision = max(digits + scale, 1)
        if precision <= 38:
            precision = 38 if scale <= 38 - max(digits, 1) else precision
    target = _decimal_type(precision, scale)
    if target is None:
        return storage, f"numeric with precision {precision} kept as text (wider than Arrow decimals)"
    try:
        return pc.cast(storage, target), None
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return storage, "numeric kept as text (NaN/Infinity or too many digits for a decimal)"


def convert(table: pa.Table, p: Plan, fmt: str = "WKT") -> tuple[pa.Table, list[str]]:
    """Finish the Arrow types: decimals, JSON as text, SRIDs noted and hidden columns dropped."""
    import pyarrow.compute as pc

    notes: list[str] = [p.renamed] if p.renamed else []
    fields: list[pa.Field] = []
    columns: list[pa.ChunkedArray] = []
    srids: dict[str, list[int]] = {}
    for hidden_of, hidden in p.spatial.items():
        idx = table.schema.get_field_index(hidden)
        values = pc.unique(table.column(idx).combine_chunks()).drop_null().to_pylist()
        srids[hidden_of] = sorted(values)
    hidden_names = set(p.spatial.values())
    for f, col in zip(table.schema, table.columns, strict=True):
        if f.name in hidden_names:
            continue
        pg_type = p.pg_types.get(f.name) or pg_type_of(f)
        meta: dict[str, str] = {"pg_type": pg_type} if pg_type else {}
        t = f.type
        is_numeric, typmod = p.numeric(f)
        if is_numeric and (_is_opaque(t) or pa.types.is_string(t) or pa.types.is_large_string(t)):
            col, note = _numeric_column(col, typmod)
            if note:
                notes.append(f"{f.name}: {note}")
        elif isinstance(t, pa.BaseExtensionType):
            col = pa.chunked_array([c.storage for c in col.chunks], type=t.storage_type)
        if f.name in p.spatial:
            found = srids.get(f.name, [])
            meta["encoding"] = fmt
            meta["srid"] = ",".join(str(s) for s in found)
            desc = "SRID " + ", ".join(str(s) for s in found) if found else "no geometries"
            notes.append(f"{f.name}: {fmt}, {desc}")
        fields.append(pa.field(f.name, col.type, nullable=True, metadata=meta or None))
        columns.append(col)
    return pa.Table.from_arrays(columns, schema=pa.schema(fields)), notes
