"""The six slash commands (ingest, profile, schema, explain, lineage, run): the one source.

Each command is data here: name, description, typed arguments, the tools it may use and
its instructions. Two things are made from it: the MCP prompts the server offers every
client (`server/prompts.py`), and the plugin's Claude Code command files
(`plugins/data-platform/commands/*.md`, written by `data-platform prompts --write-plugin`;
the plugin holds no Python, so Claude Code reads those files). The instructions are the
same text in both; only `$ARGUMENTS` differs: Claude Code fills it with what the person
typed, a prompt with its typed arguments joined into the same line the hint describes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from data_platform.config import Family
from data_platform.errors import InputError, did_you_mean, list_for_message

TOOL_PREFIX = "mcp__plugin_data-platform_data-platform__"
ARGUMENTS = "$ARGUMENTS"

Kind = Literal["text", "choice", "count", "flag"]
# What completion/complete offers for an argument (server/completions.py).
Completes = Literal["ref", "columns", "table", "source", "dbt_node", "choices"]

_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0", ""}


@dataclass(frozen=True)
class Arg:
    """One typed argument.

    `hint` is its part of the command's argument-hint; `form` how a given value joins the
    argument line (`{}` is the value; a flag's form is the word it adds when true).
    """

    name: str
    description: str
    hint: str
    form: str = "{}"
    required: bool = False
    kind: Kind = "text"
    choices: tuple[str, ...] = ()
    completes: Completes | None = None

    def normalise(self, raw: str) -> str | None:
        """The value as it goes into the line (None: leave it out); InputError if it is not one."""
        value = raw.strip()
        if self.kind == "flag":
            word = value.lower()
            if word in _TRUE or word == self.form.lower():
                return self.form
            if word in _FALSE:
                return None
            raise InputError(f"{self.name} is true or false, not {raw!r}.")
        if not value:
            if self.required:
                raise InputError(f"{self.name} is required: {self.description}.")
            return None
        if self.kind == "choice" and value not in self.choices:
            starting = [c for c in self.choices if c.startswith(value.lower())]
            if len(starting) == 1:  # a unique prefix: "up" is upstream
                return self.form.format(starting[0])
            raise InputError(
                f"{self.name} is one of {', '.join(self.choices)}, not {value!r}."
                + did_you_mean(value, self.choices)
            )
        if self.kind == "count" and not (value.isdigit() and int(value) >= 1):
            raise InputError(f"{self.name} is a whole number of 1 or more, not {value!r}.")
        return self.form.format(value)


@dataclass(frozen=True)
class Command:
    name: str
    description: str
    args: tuple[Arg, ...]
    tools: tuple[str, ...]  # data-platform tool names; others (Glob) as Claude Code names them
    body: str  # the instructions, with $ARGUMENTS once
    family: Family  # the tool family it needs: off (DATA_PLATFORM_DISABLE), no prompt

    @property
    def argument_hint(self) -> str:
        return " ".join(a.hint for a in self.args)

    def argument_line(self, values: Mapping[str, str]) -> str:
        """The typed arguments as one line in the hint's order and forms (what a person types)."""
        unknown = sorted(set(values) - {a.name for a in self.args})
        if unknown:
            names = [a.name for a in self.args]
            raise InputError(
                f"The {self.name} prompt has no argument {unknown[0]!r}."
                + did_you_mean(unknown[0], names)
                + f" Its arguments: {list_for_message(names)}."
            )
        parts = []
        for arg in self.args:
            raw = values.get(arg.name)
            if raw is None:
                if arg.required:
                    raise InputError(f"The {self.name} prompt needs {arg.name}: {arg.description}.")
                continue
            part = arg.normalise(str(raw))
            if part:
                parts.append(part)
        return " ".join(parts)

    def render(self, values: Mapping[str, str]) -> str:
        """The instructions for these arguments: the text an MCP client gets."""
        return self.body.replace(ARGUMENTS, self.argument_line(values))

    def command_file(self) -> str:
        """The Claude Code command file (`commands/<name>.md`) for this command."""
        allowed = ", ".join(t if t[0].isupper() else TOOL_PREFIX + t for t in self.tools)
        return (
            f"---\ndescription: {self.description}\n"
            f'argument-hint: "{self.argument_hint}"\n'
            f"allowed-tools: {allowed}\n---\n\n{self.body}"
        )


def plugin_commands_dir(start: Path | None = None) -> Path:
    """The plugin's `commands/` folder, found upwards from this package (repository or plugin copy)."""
    here = (start or Path(__file__)).resolve()
    for folder in here.parents:
        if (folder / "plugins" / "data-platform" / "commands").is_dir():
            return folder / "plugins" / "data-platform" / "commands"
        if (folder / ".claude-plugin" / "plugin.json").is_file() and (folder / "commands").is_dir():
            return folder / "commands"
    raise InputError(
        f"No plugin commands folder above {here.parent}.",
        hint="Name it: data-platform prompts --write-plugin plugins/data-platform/commands",
    )


def plugin_drift(folder: Path) -> list[str]:
    """What differs between `folder` and the command files made from this source (empty: none)."""
    problems = []
    for c in COMMANDS:
        path = folder / f"{c.name}.md"
        if not path.is_file():
            problems.append(f"{path}: missing")
        elif path.read_text(encoding="utf-8") != c.command_file():
            problems.append(f"{path}: differs from data_platform.commands")
    names = {f"{c.name}.md" for c in COMMANDS}
    problems += [
        f"{p}: not a command of data_platform.commands"
        for p in sorted(folder.glob("*.md"))
        if p.name not in names
    ]
    return problems


def write_plugin(folder: Path) -> list[Path]:
    """Write every command file into `folder`; the ones that changed."""
    changed = []
    for c in COMMANDS:
        path = folder / f"{c.name}.md"
        if not path.is_file() or path.read_text(encoding="utf-8") != c.command_file():
            path.write_text(c.command_file(), encoding="utf-8")
            changed.append(path)
    return changed


def command(name: str) -> Command:
    for c in COMMANDS:
        if c.name == name:
            return c
    names = [c.name for c in COMMANDS]
    raise InputError(f"No command {name!r}.{did_you_mean(name, names)} Commands: {', '.join(names)}.")


def _build() -> tuple[Command, ...]:
    return (
        Command(
            name="ingest",
            description="Load a file or a PostgreSQL query into a data_ref, then profile it",
            args=(
                Arg(
                    "source",
                    "a file path under the project, a SELECT query, or a table (schema.table)",
                    "<file path | SELECT query | schema.table>",
                    required=True,
                    completes="source",
                ),
                Arg(
                    "name",
                    "the data_ref name to give it (default: one chosen from the source)",
                    "[as <name>]",
                    form="as {}",
                ),
            ),
            tools=(
                "read_csv",
                "read_parquet",
                "read_json",
                "pg_query",
                "describe",
                "head",
                "list_data",
                "Glob",
            ),
            body=_INGEST,
            family="frames",
        ),
        Command(
            name="profile",
            description="Profile a data_ref - statistics, nulls, distinct values, data quality notes",
            args=(
                Arg("data_ref", "the data_ref to profile", "<data_ref>", required=True, completes="ref"),
                Arg(
                    "columns",
                    "only these columns, separated by spaces or commas",
                    "[columns...]",
                    completes="columns",
                ),
            ),
            tools=("list_data", "describe", "head", "tail", "sample", "groupby", "sql"),
            body=_PROFILE,
            family="frames",
        ),
        Command(
            name="schema",
            description="Show PostgreSQL schemas, tables, columns and PostGIS geometry info",
            args=(
                Arg(
                    "target",
                    "a schema, a table or schema.table (default: the whole database)",
                    "[schema | table | schema.table]",
                    completes="table",
                ),
            ),
            tools=(
                "pg_connect",
                "pg_schemas",
                "pg_tables",
                "pg_columns",
                "st_tables",
                "st_geometry_type",
                "st_srid",
                "st_extent",
            ),
            body=_SCHEMA,
            family="postgres",
        ),
        Command(
            name="explain",
            description="Show and explain a PostgreSQL query plan, with concrete tuning advice",
            args=(
                Arg("query", "the SELECT query to explain", "<SELECT query>", required=True),
                Arg(
                    "analyze",
                    "true to run the query for real timings (EXPLAIN ANALYZE, rolled back)",
                    "[analyze]",
                    form="analyze",
                    kind="flag",
                    completes="choices",
                ),
            ),
            tools=("pg_explain", "pg_tables", "pg_columns"),
            body=_EXPLAIN,
            family="postgres",
        ),
        Command(
            name="lineage",
            description="Show a dbt node's upstream and downstream lineage as a Mermaid diagram",
            args=(
                Arg(
                    "node",
                    "a dbt model, source (source.table) or seed name",
                    "<model | source | seed name>",
                    required=True,
                    completes="dbt_node",
                ),
                Arg(
                    "direction",
                    "upstream or downstream only (default: both)",
                    "[upstream|downstream]",
                    kind="choice",
                    choices=("upstream", "downstream"),
                    completes="choices",
                ),
                Arg("depth", "how many levels to follow (default: all)", "[depth]", kind="count"),
            ),
            tools=("dbt_lineage", "dbt_ls", "dbt_parse"),
            body=_LINEAGE,
            family="dbt",
        ),
        Command(
            name="run",
            description="Validate the dbt project, report deprecations, then run the selected models",
            args=(
                Arg(
                    "selection",
                    "a dbt selection, e.g. stg_orders+ or tag:daily (default: everything)",
                    "[selection]",
                    completes="dbt_node",
                ),
                Arg(
                    "full_refresh",
                    "true to rebuild incremental models from scratch",
                    "[--full-refresh]",
                    form="--full-refresh",
                    kind="flag",
                    completes="choices",
                ),
                Arg(
                    "command",
                    "run, build or test (default: run)",
                    "[build|test]",
                    kind="choice",
                    choices=("run", "build", "test"),
                    completes="choices",
                ),
            ),
            tools=("dbt_parse", "dbt_run", "dbt_test", "dbt_build", "dbt_ls", "dbt_compile"),
            body=_RUN,
            family="dbt",
        ),
    )


_INGEST = """\
Ingest this into the data-platform registry and profile it: $ARGUMENTS

Work with the data-platform MCP tools; rows stay in the registry, so never paste data into
the conversation or read the file with other tools.

1. Decide the source from the arguments:
   - a file path: `.csv`, `.tsv`, `.txt` (also `.gz`/`.zip`) → `read_csv`; `.parquet`/`.pq` →
     `read_parquet`; `.json`, `.jsonl`, `.ndjson` → `read_json`. If the path does not exist,
     look for close matches with Glob and ask before guessing.
   - a `SELECT`/`WITH` query → `pg_query`; a bare `schema.table` or `table` → `pg_query` with
     `SELECT * FROM "schema"."table"` (quote identifiers).
   - "as <name>" gives the data_ref name; otherwise let the tool choose one.
2. Load it. If the row guard stops the load, tell the user how many rows the source has and
   offer the two ways on the tool names (`chunk_size` to stream it into one ref, or a higher
   `max_rows`); do not pick one silently for a large file. If a CSV comes out wrong (one column,
   mangled accents, `NA` as text), reload with the right `sep`, `encoding` or `na_values`.
3. Profile the new ref with `describe` (and `head` if the user has not seen any rows yet).
4. Answer briefly: the data_ref name, rows x columns, the column types, and anything that
   needs attention: columns that are mostly null, text columns that look like numbers or
   dates, constant columns, likely keys and whether they are unique, suspicious ranges.
   End with two or three concrete next steps (e.g. `/data-platform:profile <ref>`, a filter
   or groupby worth running, `to_parquet` to keep a clean copy).
"""

_PROFILE = """\
Profile this data_ref from the data-platform registry: $ARGUMENTS

1. If no data_ref was given, or the name is not found, call `list_data` and show the refs
   (or suggest the closest name); stop there if nothing matches.
2. Call `describe` on the ref (restricted to the named columns, if any were given).
3. Look at a few real rows with `sample` (or `head` for small refs) to see what values look like.
4. For the one or two most interesting categorical columns, run `groupby` with a count to
   show the top values; use `sql` for checks `describe` does not answer (duplicate keys,
   rows that break an obvious rule such as end date before start date).
5. Report, compactly: shape, one line per column (type, nulls %, distinct, range or top
   value), then a short "Data quality" list of concrete problems with their counts, and what
   to do about each. Do not repeat whole tool outputs; the user has seen them.
"""

_SCHEMA = """\
Show the database structure for: $ARGUMENTS

1. If a Postgres tool fails to connect, call `pg_connect` and report what it says to fix
   (host, credentials, database name or missing configuration); stop there.
2. No argument: `pg_schemas`, then `pg_tables` for the user schemas, and `st_tables` to list
   the spatial columns. Summarise: schemas, the largest tables (estimated rows, size), views.
3. A schema name: `pg_tables` for that schema, plus `st_tables` filtered to it.
4. A table (`table` or `schema.table`): `pg_columns` (types, nullability, defaults, primary
   key, comments). If it has geometry or geography columns (`st_tables`), add
   `st_geometry_type` (the geometry types actually present), `st_srid` and `st_extent` for
   each of them.
5. Present it as short tables. For spatial columns, say the SRID and what it means when known
   (4326 is longitude/latitude in degrees), flag SRID 0 (unknown) and mixed geometry types.
   Suggest a next step, e.g. `/data-platform:ingest schema.table` or an example query.
"""

_EXPLAIN = """\
Explain the query plan of: $ARGUMENTS

1. Call `pg_explain` with the query. Use ANALYZE only when the user wrote "analyze": it runs
   the query (inside a transaction that is rolled back), which can take as long as the query.
2. Show the plan as the tool returned it (trimmed to the interesting part if it is long).
3. Explain it in plain words, from the most expensive node down: sequential scans on large
   tables, nested loops over many rows, sorts or hashes spilling to disk, and (with ANALYZE)
   estimates far from the actual rows, which point at stale statistics (`ANALYZE table`).
4. Before proposing an index, check the table's existing columns and keys with `pg_columns`
   and its size with `pg_tables`; give the exact `CREATE INDEX` statement or query rewrite, and
   say what it should change in the plan. Do not run DDL yourself; the user decides.
"""

_LINEAGE = """\
Show the dbt lineage of: $ARGUMENTS

1. Call `dbt_lineage` for the node (both directions unless the user asked for one; pass a
   depth if given). If the node is unknown, use `dbt_ls` to find the closest names and ask.
   If the project does not parse, run `dbt_parse` and report its errors instead.
2. Show the Mermaid diagram from the result in a ```mermaid code block, unchanged, so the
   user can render it.
3. Under it, list upstream (sources and seeds first) and downstream nodes (models, tests,
   exposures) by type, and point out what matters for a change to this node: how many models
   and tests depend on it, and which exposures would be affected.
"""

_RUN = """\
Run dbt for: $ARGUMENTS

1. Validate first with `dbt_parse`, always, even if the run tools validate too: the user
   must see the findings before anything runs.
   - Errors: do not run. Show each error (file, line, message) and what to change; stop.
   - Deprecations: list each one prominently (event name and code, file, what to change)
     before running. dbt only warns about them, so they are easy to miss, and later dbt
     versions turn many of them into errors. If the run tool refuses because strict mode is
     on (`DATA_PLATFORM_DBT_STRICT`), say so and stop.
2. Choose the tool: `dbt_build` if the arguments say "build", `dbt_test` for "test", else
   `dbt_run`. Pass the selection (e.g. `stg_orders+`, `tag:daily`) as `select`, and `exclude`,
   `vars`, `target` or `full_refresh` only when the arguments ask for them. Unsure what a
   selection matches? Check with `dbt_ls` first. A long run reports progress; other tools
   keep answering meanwhile.
3. Report the per-node results as a short table (node, status, time, rows affected) with the
   error of every failed node, and `dbt_compile` a failed model when its SQL would explain the
   error. End with the totals, the deprecations again in one line if there were any, and the
   next step (fix, `dbt_test`, or `/data-platform:lineage <model>`).
"""

# Built after the instructions above, which the definitions name.
COMMANDS: tuple[Command, ...] = _build()
