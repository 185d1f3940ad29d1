"""The six slash commands (ingest, profile, schema, explain, lineage, run): the one source.

Each command is data here: name, description, typed arguments, the tools it may use and
its instructions (their text is in `command_texts.py`). Two things are made from it: the
MCP prompts the server offers every client (`server/prompts.py`), and the plugin's Claude
Code command files (`plugins/data-platform/commands/*.md`, written by `data-platform
prompts --write-plugin`; the plugin holds no Python, so Claude Code reads those files).
The instructions are the same text in both; only `$ARGUMENTS` differs: Claude Code fills
it with what the person typed, a prompt with its typed arguments joined into the same line
the hint describes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from data_platform import command_texts as texts
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


COMMANDS: tuple[Command, ...] = (
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
        body=texts.INGEST,
        family="frames",
    ),
    Command(
        name="profile",
        description="Profile a data_ref - data quality problems, keys, histograms, an HTML report",
        args=(
            Arg("data_ref", "the data_ref to profile", "<data_ref>", required=True, completes="ref"),
            Arg(
                "columns",
                "only these columns, separated by spaces or commas",
                "[columns...]",
                completes="columns",
            ),
        ),
        tools=("list_data", "profile", "chart", "describe", "head", "tail", "sample", "filter", "sql"),
        body=texts.PROFILE,
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
        body=texts.SCHEMA,
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
        tools=("pg_explain", "pg_index_advice", "pg_tables", "pg_columns"),
        body=texts.EXPLAIN,
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
        body=texts.LINEAGE,
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
        body=texts.RUN,
        family="dbt",
    ),
)
