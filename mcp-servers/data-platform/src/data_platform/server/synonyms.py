"""Synonyms agents write from pandas, SQL, Polars and dbt habits, per tool, kept out of the schemas.

A synonym is read as the tool's own argument only where it is unambiguous for that
tool; the answer says how it was read. docs/arguments.md lists them (a test checks the
two agree). `SPECIAL` holds the few that change another argument rather than name one:
pandas' `ascending=False` becomes the `-column` form of `sort`'s `by`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from data_platform.errors import InputError
from data_platform.lakes.storage import canonical


def _same(value: Any) -> Any:
    return value


@dataclass(frozen=True)
class Synonym:
    target: str
    convert: Callable[[Any], Any] = _same
    note: str | None = None


def _to(target: str, *names: str) -> dict[str, Synonym]:
    return {name: Synonym(target) for name in names}


_IF_EXISTS = {"fail": "create", "append": "append", "replace": "replace"}


def _if_exists(value: Any) -> Any:
    """pandas' `to_sql(if_exists=...)` values as pg_load's modes."""
    if isinstance(value, str) and value in _IF_EXISTS:
        return _IF_EXISTS[value]
    raise InputError(
        f"if_exists={value!r} is not one of 'fail', 'append', 'replace'.",
        hint='pg_load takes mode="create" (fail if it exists), "append" or "replace".',
    )


# Synonyms any tool accepts when it has the target argument.
GLOBAL: dict[str, Synonym] = {
    **_to("data_ref", "ref", "df", "dataframe", "data", "dataref", "input_ref", "source_ref"),
    **_to("name", "output", "output_ref", "out", "result_name", "new_name", "as_name"),
    **_to("path", "file", "filepath", "file_path", "filename", "filepath_or_buffer", "path_or_buf"),
    **_to("columns", "usecols", "cols", "fields"),
    **_to("sep", "delimiter", "separator"),
    **_to("nrows", "n_rows", "max_lines"),
    **_to("skiprows", "skip_rows"),
    **_to("schema", "schema_name"),
    **_to("table", "table_name"),
    **_to("column", "column_name", "geom_column", "geometry_column"),
    **_to("select", "models", "model", "m", "s", "selector"),
    **_to("target", "profile_target"),
    **_to("exclude", "exclude_models"),
    **_to("sql", "query", "statement", "sql_query"),
    **_to("seed", "random_state", "random_seed"),
    **_to("overwrite", "replace", "force"),
    **_to("dtype", "dtypes", "schema_overrides", "column_types"),
    **_to("na_values", "null_values", "na_strings"),
    **_to("include_system", "system"),
    **_to("connection", "conn", "connection_name", "db", "database", "dsn"),
}

# Synonyms that only make sense for one tool (the same word means something else elsewhere).
TOOLS: dict[str, dict[str, Synonym]] = {
    "head": _to("n", "rows", "limit", "count", "num_rows"),
    "tail": _to("n", "rows", "limit", "count", "num_rows"),
    "sample": {**_to("n", "rows", "limit", "count", "num_rows", "size"), **_to("frac", "fraction")},
    "filter": _to("where", "query", "condition", "expr", "expression", "predicate", "filter", "mask"),
    "groupby": {
        **_to("by", "group_by", "groupby", "keys", "group_keys"),
        **_to("aggs", "agg", "aggregations", "aggregate", "aggfunc", "metrics"),
    },
    "sort": _to("by", "sort_by", "order_by", "columns"),
    "select": {**_to("rename", "renames", "mapping")},
    "join": {
        **_to("right", "other"),
        **_to("how", "join_type", "kind"),
        **_to("on", "keys", "join_on"),
    },
    "pg_load": {
        **_to("table", "name", "target_table"),
        "if_exists": Synonym("mode", _if_exists, "pandas' to_sql values"),
    },
    "sql": _to("query", "sql", "statement", "sql_query"),
    "diff": {
        **_to(
            "key",
            "on",
            "keys",
            "key_columns",
            "primary_key",
            "primary_keys",
            "pk",
            "join_on",
            "unique_key",
            "by",
        ),
        **_to("left", "a", "base", "before", "old", "left_ref", "expected", "source"),
        **_to("right", "b", "other", "after", "new", "right_ref", "actual", "compare_to", "current"),
        **_to("tolerance", "atol", "tol", "abs_tol", "threshold"),
        **_to("connection", "left_connection", "left_conn"),
        **_to("right_connection", "right_conn", "other_connection", "compare_connection"),
    },
    "read_csv": {**_to("dtype", "schema"), **_to("nrows", "limit"), **_to("where", "filters", "filter")},
    "read_json": {**_to("dtype", "schema"), **_to("nrows", "limit"), **_to("where", "filters", "filter")},
    "read_parquet": {
        **_to("nrows", "limit"),
        **_to("where", "filters", "filter"),
        **_to(
            "as_of",
            "version",
            "snapshot_id",
            "snapshot",
            "timestamp",
            "as_of_version",
            "as_of_timestamp",
            "timestamp_as_of",
            "version_as_of",
            "time_travel",
        ),
    },
    "dbt_lineage": _to("node", "model", "unique_id", "name", "select", "models", "resource"),
    "dbt_compile": _to("select", "node", "name", "unique_id"),
    "dbt_ls": _to("resource_type", "resource_types", "type"),
    "chart": {
        **_to("kind", "type", "mark", "chart_type", "plot_type", "chart"),
        **_to("x", "x_col", "x_column", "xcol", "geometry", "geom", "geometry_column", "geom_column"),
        **_to("y", "y_col", "y_column", "ycol", "value", "values"),
        **_to("color", "hue", "colour", "color_by", "color_col", "colour_by"),
        **_to("bins", "nbins", "n_bins", "num_bins", "bin_count"),
        **_to("agg", "aggregate", "aggfunc", "agg_func", "histfunc", "estimator", "func"),
        **_to("title", "chart_title", "plot_title"),
    },
    "dbt_impact": {
        **_to("against", "state", "base", "baseline", "compare_to", "vs", "defer_target", "state_path"),
        **_to("key", "keys", "primary_key", "unique_key", "on", "pk"),
        **_to("select", "models", "model"),
    },
    "dbt_compare": {
        **_to("model", "select", "node", "models", "relation", "table"),
        **_to(
            "against",
            "base",
            "baseline",
            "compare_to",
            "other",
            "other_target",
            "prod",
            "vs",
            "against_target",
            "against_schema",
            "target_b",
            "defer_target",
        ),
        **_to("key", "keys", "primary_key", "unique_key", "on", "join_on", "pk", "by"),
    },
    "dbt_show": {
        **_to("model", "select", "node", "models", "m", "s", "resource", "unique_id"),
        **_to("sql", "inline", "query", "statement", "sql_query"),
        **_to("limit", "n", "rows", "head", "max_rows", "nrows", "num_rows", "count"),
    },
}


def _values(table: dict[Any, str]) -> Callable[[Any], Any]:
    def convert(value: Any) -> Any:
        key = value.lower() if isinstance(value, str) else value
        if isinstance(key, bool | int | str) and key in table:
            return table[key]
        return value

    convert.__doc__ = ", ".join(f"`{k}` as `{v}`" for k, v in table.items())
    return convert


def _header(value: Any) -> Any:
    """`0` or `true` as `yes` (pandas: the first row is the header), `false` as `no`, `infer` as `auto`."""
    if value is True or (type(value) is int and value == 0):
        return "yes"
    if value is False:
        return "no"
    return "auto" if value == "infer" else value


_DNF_OPS = {"=": "==", "==": "==", "!=": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">=", "in": "in",
            "not in": "not in"}  # fmt: skip


def _literal(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_literal(v) for v in value) + "]"
    raise ValueError(value)


def _condition(item: Any) -> str:
    col, op, value = item  # a ValueError/TypeError if not three: refused below
    if not isinstance(col, str) or not isinstance(op, str) or op.lower() not in _DNF_OPS:
        raise ValueError(item)
    name = col if col.isidentifier() else "`" + col.replace("`", "") + "`"
    return f"{name} {_DNF_OPS[op.lower()]} {_literal(value)}"


def _dnf(value: Any) -> Any:
    """pyarrow's `filters` `[[col, op, value], ...]` (and; a list of such lists: or) as an expression."""
    if not isinstance(value, list | tuple):
        return value
    try:
        if value and isinstance(value[0], str):  # one condition, not in a list
            return _condition(value)
        if value and all(isinstance(v, list) and v and isinstance(v[0], list | tuple) for v in value):
            ors = [" and ".join(_condition(c) for c in conj) for conj in value]
            return " or ".join(f"({o})" if len(value) > 1 and " and " in o else o for o in ors)
        if value:
            return " and ".join(_condition(c) for c in value)
    except (ValueError, TypeError):
        pass
    raise InputError(
        f"filters={json.dumps(value, default=str)[:120]} is not a filter this tool reads.",
        hint="Send where as an expression, e.g. where=\"species == 'Adelie' and year >= 2008\", or pyarrow's "
        '[["species", "==", "Adelie"], ["year", ">=", 2008]] (ops: == != < <= > >= in, not in).',
    )


def _s3_url(value: Any) -> Any:
    """Spark's `s3a://` and `s3n://` as `s3://` (the same object; storage entries match it)."""
    if isinstance(value, list):
        return [_s3_url(v) for v in value]
    return canonical(value) if isinstance(value, str) else value


# Values written from other tools' vocabularies, read as this tool's (the answer says so).
VALUES: dict[tuple[str, str], Callable[[Any], Any]] = {
    **{(tool, "path"): _s3_url for tool in ("read_parquet", "read_csv", "read_json", "list_files",
                                            "to_csv", "to_parquet")},
    ("write_table", "table"): _s3_url,
    ("read_parquet", "where"): _dnf,
    ("read_csv", "where"): _dnf,
    ("read_json", "where"): _dnf,
    ("read_csv", "header"): _header,
    ("join", "how"): _values({"full": "outer", "full_outer": "outer", "outer_join": "outer",
                              "left_outer": "left", "right_outer": "right", "left_semi": "semi",
                              "left_anti": "anti"}),
    ("dbt_lineage", "direction"): _values({"upstream": "up", "downstream": "down", "parents": "up",
                                            "children": "down", "all": "both"}),
    ("dbt_ls", "resource_type"): _values({"models": "model", "seeds": "seed", "snapshots": "snapshot",
                                          "sources": "source", "tests": "test", "data_test": "test"}),
    ("pg_explain", "format"): _values({"txt": "text"}),
    ("join", "validate"): _values({"1:1": "one_to_one", "1:m": "one_to_many", "m:1": "many_to_one",
                                   "m:m": "many_to_many"}),
    ("chart", "agg"): _values({"avg": "mean", "average": "mean", "size": "count", "total": "sum",
                               "minimum": "min", "maximum": "max"}),
}  # fmt: skip


def _ascending(args: dict[str, Any], value: Any) -> str:
    """pandas' `ascending=false` (or one bool per `by` column) as the `-column` form of `by`."""
    by = args.get("by")
    if not isinstance(by, list) or not by:
        raise InputError("ascending= needs by=[...] to name the columns.", hint='sort(by=["-amount", "id"]).')
    flags = value if isinstance(value, list) else [value] * len(by)
    if len(flags) != len(by) or not all(isinstance(f, bool) for f in flags):
        raise InputError(
            f"ascending={value!r} does not match by={by!r}.",
            hint="Send one true/false, or one per column; or prefix a column with - for descending.",
        )
    args["by"] = [col if up else f"-{col.lstrip('-')}" for col, up in zip(by, flags, strict=True)]
    return f"read `ascending={json_bool(value)}` as by={args['by']}"


def _descending(args: dict[str, Any], value: Any) -> str:
    """`descending=true` (or `reverse`) as the `-column` form of `by`."""
    if not isinstance(value, bool):
        raise InputError(f"descending={value!r} is not true or false.", hint='sort(by=["-amount"]).')
    note = _ascending(args, not value)
    return note.replace(f"`ascending={json_bool(not value)}`", f"`descending={json_bool(value)}`")


def json_bool(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(json_bool(v) for v in value) + "]"
    return "true" if value is True else "false" if value is False else repr(value)


def _index(args: dict[str, Any], value: Any) -> str:
    """pandas' `to_csv(index=False)`: refs have no index, so False is what happens anyway."""
    if value is False:
        return "`index=false`: refs have no index, none is written"
    raise InputError(
        f"index={value!r}: refs have no index to write.",
        hint="Add a column first (sql: SELECT row_number() OVER () - 1 AS index, * FROM ref).",
    )


SPECIAL: dict[tuple[str, str], Callable[[dict[str, Any], Any], str]] = {
    ("sort", "ascending"): _ascending,
    ("sort", "descending"): _descending,
    ("sort", "reverse"): _descending,
    ("to_csv", "index"): _index,
    ("to_parquet", "index"): _index,
}


def markdown() -> str:
    """The tables docs/arguments.md embeds (tests/integration/server/test_arguments.py checks they agree)."""
    lines = ["| argument | also read from |", "|---|---|"]
    by_target: dict[str, list[str]] = {}
    for alias, syn in GLOBAL.items():
        by_target.setdefault(syn.target, []).append(alias)
    lines += [f"| `{t}` | {', '.join(f'`{a}`' for a in names)} |" for t, names in by_target.items()]
    lines += ["", "| tool | argument | also read from |", "|---|---|---|"]
    for tool, table in TOOLS.items():
        per: dict[str, list[str]] = {}
        for alias, syn in table.items():
            per.setdefault(syn.target, []).append(alias)
        lines += [f"| {tool} | `{t}` | {', '.join(f'`{a}`' for a in names)} |" for t, names in per.items()]
    lines += [f"| {tool} | {(fn.__doc__ or '').strip().splitlines()[0]} | `{alias}` |"
              for (tool, alias), fn in SPECIAL.items()]  # fmt: skip
    lines += ["", "| tool | argument | values read as the tool's own |", "|---|---|---|"]
    lines += [f"| {tool} | `{arg}` | {fn.__doc__.strip().splitlines()[0] if fn.__doc__ else ''} |"
              for (tool, arg), fn in VALUES.items()]  # fmt: skip
    return "\n".join(lines)
