"""Tool arguments generated from a tool's JSON input schema, as Hypothesis strategies.

Generic over the server's `tools/list`: nothing here names a tool. Each argument is
classified by its name (and the tool's family prefix) into a domain (`ref`, `path`,
`sql`, `expr`, `columns`...) whose pool holds values that reach deep code (real refs,
real files, real column names, plausible SQL) beside hostile ones (missing refs,
paths escaping the project, malformed expressions). Around the well-shaped values,
every call may be mutated: wrong types, missing or extra fields, huge and empty
strings, control characters, enormous numbers.

Tools that may destroy refs (`harms_refs`: destructive, and not a file writer) only ever see
ref names from the throwaway pool, and no tool is ever given a protected ref as an output name: the
refs a test verifies afterwards stay out of reach of anything that may write.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st

# -- hostile values, whatever the argument -------------------------------------
HUGE = "x" * 200_000
HOSTILE_STRINGS: list[str] = [
    "",
    " ",
    "\x00",
    "a\x00b",
    "\t\r\n",
    "\x1b[31mred\x1b[0m",
    "\u202eevil",
    "\ufeffbom",
    "😀" * 20,
    "日本語のテキスト",
    "Ω≈ç√∫",
    "'",
    '"',
    "\\",
    "%s%s%n",
    "{}",
    "{{ 7*7 }}",
    "${HOME}",
    "$(id)",
    "`id`",
    "-1",
    "NaN",
    "null",
    "None",
    "true",
    "../../../../etc/passwd",
    "~",
    "a" * 65,
    "z" * 10_000,
    HUGE,
]
HOSTILE_NUMBERS: list[Any] = [
    0,
    -1,
    1,
    -(2**31),
    2**31,
    2**53 + 1,
    2**63,
    -(2**63) - 1,
    10**30,
    1.5,
    -0.0,
    1e308,
]
WRONG_TYPES: list[Any] = [None, True, False, 0, -7, 3.25, "text", [], {}, [1, "a", None], {"a": {"b": [1]}}]

# -- which domain an argument belongs to, by its name ---------------------------
_RULES: list[tuple[str, str]] = [
    (r"^(data_)?refs?$|^(left|right|other)(_ref)?$|_refs?$|^data_refs$", "ref"),
    (r"^(name|new_name|output|out|into|result|as_name|target_ref|dest_ref)$", "out_name"),
    (r"path|file|dir$|folder", "path"),
    (r"^(sql|query|statement|stmt)$", "sql"),
    (r"^(expr|expression|where|condition|predicate|filter|having)$", "expr"),
    (r"^(select|exclude|selector|models?|nodes?|resource|resources|node_name|unique_id)$", "dbt_select"),
    (
        r"^(columns|cols|select|by|keys|on|left_on|right_on|sort_by|order_by|group_by|usecols|drop)$",
        "columns",
    ),
    (r"^(column|col|key|geometry_column|geom_column|geom)$", "column"),
    (r"^(aggs?|aggregations?|metrics|agg_spec|aggregates)$", "aggs"),
    (r"^(schema|schema_name|namespace)$", "pg_schema"),
    (r"^(table|table_name|relation|view)$", "pg_ident"),
    (r"^vars?$", "dbt_vars"),
    (r"^target$", "dbt_target"),
    (r"^(encoding)$", "encoding"),
    (r"^(sep|delimiter|separator)$", "sep"),
    (r"^(params|parameters|args|bind)$", "params"),
    (r"^(how|mode|kind|format|fmt|compression|direction)$", "choice"),
]


def harms_refs(tool: dict[str, Any]) -> bool:
    """May this tool (a tools/list entry) delete or replace a ref or table? Its `destructiveHint`,
    except for a file writer (a `path` argument): it overwrites files, and only reads its ref."""
    if not (tool.get("annotations") or {}).get("destructiveHint"):
        return False
    props = (tool.get("inputSchema") or {}).get("properties") or {}
    return not any(classify(tool["name"], k) == "path" for k in props)


def classify(tool: str, arg: str, depth: int = 0) -> str | None:
    """The domain of argument `arg` of `tool` (None: no domain, use the schema alone)."""
    name = arg.lower()
    if depth > 0 and name in ("name", "as", "alias", "new_name", "output"):
        return "new_column"
    if tool.startswith("dbt_") and name in ("select", "exclude", "selector", "model", "node", "models"):
        return "dbt_select"
    if not tool.startswith("dbt_") and name in ("select", "exclude"):
        return "columns"
    for pattern, domain in _RULES:
        if re.search(pattern, name):
            return domain
    return None


@dataclass
class Pools:
    """Domain values for one fuzz session: what was seeded, and what is hostile."""

    protected_refs: list[str]
    throwaway_refs: list[str]
    columns: list[str]
    files: list[str]
    write_paths: list[str]
    extra: dict[str, list[Any]] = field(default_factory=dict)

    def ref_pool(self, destructive: bool) -> list[str]:
        missing = ["nope", "does_not_exist_42", "Seed_A", "seed", "tmp_gone", "_", "a" * 64]
        invalid = ["../../etc/passwd", "a b", "1abc", "x;drop", "é", "", "a" * 65, "ref\x00"]
        refs = self.throwaway_refs + ([] if destructive else self.protected_refs * 2)
        return refs * 2 + missing + invalid

    def out_name_pool(self) -> list[str]:
        # Never a protected ref: an output name may be overwritten by a non-destructive tool.
        return [
            *self.throwaway_refs,
            "fresh_out",
            "fresh_out",
            "a" * 64,
            "a" * 65,
            "bad name",
            "1x",
            "",
            "../x",
        ]

    def pool(self, domain: str, destructive: bool) -> list[Any]:
        if domain == "ref":
            return self.ref_pool(destructive)
        if domain == "out_name":
            return self.out_name_pool()
        if domain == "path":
            return self.files * 2 + self.write_paths + PATHS
        if domain == "columns" or domain == "column":
            return self.columns * 3 + ["nope", "Amount", "amout", "", "a\x00", '"; drop', "*", "x" * 5000]
        if domain == "new_column":
            return ["total", "n", "avg_amount", "", "x y", "a" * 300, "id"]
        if domain == "aggs":
            return AGG_FUNCS
        if domain in self.extra:
            return self.extra[domain]
        return DEFAULT_POOLS.get(domain, [])


PATHS: list[str] = [
    "/etc/passwd",
    "/etc/shadow",
    "/proc/self/environ",
    "/root/.bashrc",
    "/dev/null",
    "~",
    "~/data.csv",
    "../outside.csv",
    "../../../../../etc/passwd",
    "data/../../../../etc/hostname",
    "data/small.csv\x00.txt",
    "data/no_such_file.csv",
    "data",
    ".",
    "/",
    "",
    " ",
    "data/" + "d" * 300 + ".csv",
    "data/%s.csv",
    "data/ü n i c ø d e.csv",
    "C:\\Windows\\win.ini",
    "file:///etc/passwd",
    "http://127.0.0.1:1/x.csv",
    "s3://bucket/key.parquet",
]
AGG_FUNCS: list[str] = [
    "sum",
    "mean",
    "min",
    "max",
    "count",
    "count_distinct",
    "median",
    "std",
    "first",
    "last",
    "nope",
    "",
    "__import__",
]
EXPRESSIONS: list[str] = [
    "amount > 100",
    "amount > 100 AND region = 'EU'",
    "region IN ('EU', 'US')",
    "name IS NULL",
    "name IS NOT NULL OR id < 3",
    "name LIKE 'n1%'",
    "day >= '2025-01-15'",
    "id % 2 = 0",
    "NOT (amount <= 0)",
    "amount >",
    "((((",
    "amout > 1",
    "region = EU",
    "id = 'abc'",
    "1; DROP TABLE seed_a",
    "__import__('os').system('id')",
    "read_csv('/etc/passwd') IS NOT NULL",
    "(SELECT count(*) FROM read_text('/etc/passwd')) > 0",
    "getenv('PGPASSWORD') IS NOT NULL",
    "current_setting('threads') = '1'",
    "amount > 1e400",
    "region = 'it''s'",
    "🙂 = 1",
    "id BETWEEN 1 AND",
    "",
]
SQL: list[str] = [
    "SELECT 1 AS one",
    "SELECT * FROM seed_a",
    "SELECT region, sum(amount) AS total FROM seed_a GROUP BY region",
    "SELECT a.id, b.label FROM seed_a a JOIN seed_b b ON a.id = b.id",
    "select count(*) from fuzz_plain",
    "SELECT id, ST_AsText(geom) FROM fuzz_points",
    "SELECT ST_Extent(geom) FROM fuzz_points",
    "WITH t AS (SELECT 1 AS x) SELECT x FROM t",
    "EXPLAIN SELECT 1",
    "SELECT pg_sleep(30)",
    "SELECT generate_series(1, 1000000) AS n",
    "SELEC 1",
    "SELECT '",
    ";;",
    "",
    "SELECT * FROM nope",
    "SELECT * FROM read_csv('/etc/passwd')",
    "SELECT * FROM read_text('/proc/self/environ')",
    "SELECT getenv('PGPASSWORD')",
    "INSTALL httpfs",
    "ATTACH 'x.db'",
    "COPY (SELECT 1) TO '/root/dp_fuzz_escape.csv'",
    "CREATE TABLE IF NOT EXISTS fuzz_t (a int)",
    "INSERT INTO fuzz_t VALUES (1)",
    "DELETE FROM fuzz_t",
    "DROP TABLE IF EXISTS fuzz_t",
    "UPDATE fuzz_plain SET name = 'y' WHERE id = -1",
    "SELECT $1::int",
    "SELECT %s",
    "SELECT 1; SELECT 2",
    "SELECT 1 /* unterminated",
    "SELECT '\x00'",
    "SELECT " + "1," * 3000 + "1",
]
DEFAULT_POOLS: dict[str, list[Any]] = {
    "expr": EXPRESSIONS,
    "sql": SQL,
    "pg_ident": [
        "fuzz_plain",
        "fuzz_points",
        "public",
        "Fuzz Schema",
        'weird "name"',
        "spatial_ref_sys",
        "nope",
        "pg_catalog",
        "public.fuzz_plain",
        '"; DROP TABLE fuzz_plain; --',
        "fuzz_plain' OR '1'='1",
        "",
        "x" * 200,
    ],
    "pg_schema": [
        "public",
        "Fuzz Schema",
        "nope",
        "pg_catalog",
        "information_schema",
        "",
        '"; DROP SCHEMA public; --',
    ],
    "dbt_select": [
        "*",
        "+orders",
        "orders+",
        "tag:nightly",
        "path:models/staging",
        "nope_model",
        "@@@",
        "--full-refresh",
        "; rm -rf /tmp/dp_fuzz_pwned",
        "$(touch /tmp/dp_fuzz_pwned)",
        "",
        "config.materialized:table",
    ],
    "dbt_vars": [
        {"x": 1},
        {"start_date": "2025-01-01"},
        "{x: 1}",
        "not: [valid",
        {"leak": "{{ env_var('PGPASSWORD') }}"},
        {"leak": "{{ env_var('DP_HARDEN_PG_PASSWORD') }}"},
        "",
        {},
    ],
    "dbt_target": ["dev", "prod", "nope", "", "../x"],
    "encoding": ["utf-8", "latin-1", "cp1252", "utf-16", "nope", ""],
    "sep": [",", ";", "\t", "|", "", ",,", "\x00"],
    "params": [[1, "a", None], [], ["x" * 1000], [{"a": 1}]],
    "choice": [],
}


# -- strategies from a schema -----------------------------------------------------------
def _resolve(schema: Any, root: dict[str, Any]) -> Any:
    seen = 0
    while isinstance(schema, dict) and "$ref" in schema and seen < 20:
        ref = schema["$ref"]
        target: Any = root
        for part in ref.lstrip("#/").split("/"):
            target = target.get(part, {}) if isinstance(target, dict) else {}
        schema = {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
        seen += 1
    return schema


def _weighted(*pairs: tuple[int, st.SearchStrategy[Any]]) -> st.SearchStrategy[Any]:
    choices = [s for w, s in pairs for _ in range(w)]
    return st.integers(0, len(choices) - 1).flatmap(lambda i: choices[i])


_TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)
_JSON_SCALAR = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False), _TEXT
)


class ArgFuzzer:
    """Hypothesis strategies for the arguments of the tools of one live server."""

    def __init__(self, pools: Pools):
        self.pools = pools

    def hostile(self) -> st.SearchStrategy[Any]:
        return st.one_of(
            st.sampled_from(HOSTILE_STRINGS),
            st.sampled_from(HOSTILE_NUMBERS),
            st.sampled_from(WRONG_TYPES),
            _TEXT,
            st.integers(),
        )

    def value(
        self, tool: str, arg: str, schema: Any, root: dict[str, Any], destructive: bool, depth: int = 0
    ) -> st.SearchStrategy[Any]:
        """Mostly well-shaped (domain pools, the schema's type), sometimes hostile."""
        shaped = self.shaped(tool, arg, schema, root, destructive, depth)
        return _weighted((7, shaped), (2, self.hostile()))

    def shaped(
        self, tool: str, arg: str, schema: Any, root: dict[str, Any], destructive: bool, depth: int = 0
    ) -> st.SearchStrategy[Any]:
        schema = _resolve(schema, root)
        if not isinstance(schema, dict):
            return _JSON_SCALAR
        domain = classify(tool, arg, depth)
        pool = self.pools.pool(domain, destructive) if domain else []
        for key in ("anyOf", "oneOf"):
            if key in schema:
                branches = [_resolve(b, root) for b in schema[key]]
                real = [b for b in branches if not (isinstance(b, dict) and b.get("type") == "null")]
                options = [self.shaped(tool, arg, b, root, destructive, depth) for b in real]
                if len(real) < len(branches):
                    options.append(st.none())
                return st.one_of(options) if options else st.none()
        if "enum" in schema:
            return _weighted((9, st.sampled_from(schema["enum"])), (1, st.sampled_from(["NOPE", "", None])))
        if "const" in schema:
            return st.just(schema["const"])
        kind = schema.get("type")
        if isinstance(kind, list):
            kind = next((k for k in kind if k != "null"), None)
        if kind == "string":
            strings = [p for p in pool if isinstance(p, str)]
            if strings:
                return _weighted((8, st.sampled_from(strings)), (1, _TEXT))
            return _weighted((3, _TEXT), (1, st.sampled_from(HOSTILE_STRINGS)))
        if kind in ("integer", "number"):
            lo = schema.get("minimum", schema.get("exclusiveMinimum"))
            hi = schema.get("maximum", schema.get("exclusiveMaximum"))
            edges = [v for v in (lo, hi) if v is not None]
            near = st.integers(int(lo) if lo is not None else -5, int(hi) if hi is not None else 1_000)
            if lo is not None and hi is None:
                near = st.integers(int(lo), int(lo) + 1_000)
            num = near if kind == "integer" else st.one_of(near, st.floats(-1e6, 1e6))
            return _weighted(
                (6, num),
                (1, st.sampled_from(edges or [0])),
                (1, st.sampled_from([e - 1 for e in edges] + [e + 1 for e in edges] or [-1])),
            )
        if kind == "boolean":
            return st.booleans()
        if kind == "array":
            items = schema.get("items", {})
            if pool and not isinstance(pool[0], dict | list):
                item = _weighted(
                    (6, st.sampled_from(pool)), (1, self.shaped(tool, arg, items, root, destructive))
                )
            else:
                item = self.shaped(tool, arg, items, root, destructive, depth + 1)
            return _weighted((8, st.lists(item, min_size=1, max_size=4)), (1, st.just([])))
        if kind == "object" or "properties" in schema:
            return self.obj(tool, arg, schema, root, destructive, depth, pool)
        if pool:
            return st.sampled_from(pool)
        return _JSON_SCALAR

    def obj(
        self,
        tool: str,
        arg: str,
        schema: dict[str, Any],
        root: dict[str, Any],
        destructive: bool,
        depth: int,
        pool: list[Any],
    ) -> st.SearchStrategy[Any]:
        props = schema.get("properties") or {}
        if props:
            required = set(schema.get("required", []))
            return st.fixed_dictionaries(
                {
                    k: self.shaped(tool, k, v, root, destructive, depth + 1)
                    for k, v in props.items()
                    if k in required
                },
                optional={
                    k: self.shaped(tool, k, v, root, destructive, depth + 1)
                    for k, v in props.items()
                    if k not in required
                },
            )
        dict_pool = [p for p in pool if isinstance(p, dict)]
        if dict_pool:
            return st.sampled_from(dict_pool)
        extra = schema.get("additionalProperties")
        values = (
            self.shaped(tool, arg, extra, root, destructive, depth + 1)
            if isinstance(extra, dict)
            else _JSON_SCALAR
        )
        if classify(tool, arg, depth) == "aggs":
            values = st.sampled_from(AGG_FUNCS)
        keys = st.sampled_from([*self.pools.columns, "nope", "total", ""])
        return st.dictionaries(keys, values, max_size=4)

    def arguments(self, tool: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
        """Whole argument objects for `tool` (a tools/list entry), mutated now and then."""
        name = tool["name"]
        schema = tool.get("inputSchema") or {}
        destructive = harms_refs(tool)
        props: dict[str, Any] = schema.get("properties") or {}
        required = [k for k in schema.get("required", []) if k in props]
        optional = [k for k in props if k not in required]

        def strategy(k: str) -> st.SearchStrategy[Any]:
            return self.value(name, k, props[k], schema, destructive)

        base = st.fixed_dictionaries(
            {k: strategy(k) for k in required}, optional={k: strategy(k) for k in optional}
        )
        mutations: list[tuple[int, st.SearchStrategy[dict[str, Any]]]] = [(14, base)]
        if required:
            mutations.append(
                (2, base.flatmap(lambda a: st.sampled_from(required).map(lambda k: _without(a, k))))
            )
        mutations.append(
            (
                2,
                st.tuples(
                    base, st.sampled_from(["extra", "__proto__", "DATA_REF", "x" * 100]), self.hostile()
                ).map(lambda t: {**t[0], t[1]: t[2]}),
            )
        )
        if props:
            keys = sorted(props)
            mutations.append(
                (
                    2,
                    st.tuples(
                        base, st.sampled_from(keys), st.sampled_from(WRONG_TYPES + HOSTILE_NUMBERS)
                    ).map(lambda t: {**t[0], t[1]: t[2]}),
                )
            )
            mutations.append(
                (1, st.fixed_dictionaries({k: st.sampled_from(HOSTILE_STRINGS + WRONG_TYPES) for k in keys}))
            )
        mutations.append((1, st.just({})))
        return _weighted(*mutations)


def _without(args: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in args.items() if k != key}


def example_arguments(
    tool: dict[str, Any], pools: Pools, prefer: dict[str, Any] | None = None
) -> dict[str, Any]:
    """One deterministic, well-shaped argument set (first pool values), for non-fuzz tests."""
    schema = tool.get("inputSchema") or {}
    props: dict[str, Any] = schema.get("properties") or {}
    destructive = harms_refs(tool)
    out: dict[str, Any] = {}
    for key in schema.get("required", []):
        if key not in props:
            continue
        if prefer and key in prefer:
            out[key] = prefer[key]
            continue
        domain = classify(tool["name"], key)
        if prefer and domain in prefer:
            out[key] = prefer[domain]
            continue
        out[key] = _first_value(
            _resolve(props[key], schema), pools.pool(domain, destructive) if domain else []
        )
    for key in props:
        if key in out or not prefer:
            continue
        domain = classify(tool["name"], key)
        if key.startswith("exclude") and key not in prefer:
            continue  # a preferred selection is what to include, never what to leave out
        if key in prefer:
            out[key] = prefer[key]
        elif domain in prefer:
            out[key] = prefer[domain]
    return out


def _first_value(schema: Any, pool: list[Any]) -> Any:
    if isinstance(schema, dict):
        for key in ("anyOf", "oneOf"):
            if key in schema:
                real = [b for b in schema[key] if not (isinstance(b, dict) and b.get("type") == "null")]
                return _first_value(real[0] if real else {}, pool)
        if "enum" in schema:
            return schema["enum"][0]
        if "const" in schema:
            return schema["const"]
        if "default" in schema:
            return schema["default"]
        kind = schema.get("type")
        if kind == "array":
            return [pool[0]] if pool else []
        if kind == "integer" or kind == "number":
            return schema.get("minimum", 1)
        if kind == "boolean":
            return False
        if kind == "object":
            return {}
    return pool[0] if pool else "x"
