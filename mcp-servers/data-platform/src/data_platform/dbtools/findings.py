"""Findings: dbt deprecations and errors as data, with what to change.

dbt reports deprecations as warnings (exit code 0), so a check of the exit
code misses them all. We read dbt's structured events instead (in-process
callbacks or `--log-format json` lines): each carries a name, a code, a level,
a message (coloured and wrapped at 80 columns for a terminal) and typed data
(often the file). A `Finding` is that event made readable, plus advice.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

Kind = Literal["deprecation", "error", "warning"]

ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
TAG = re.compile(r"^\s*\[(?:WARNING|ERROR)\](?:\[[A-Za-z]+\])?:\s*(?:Deprecated\s+functionality\s*)?", re.S)
NOISE = re.compile(r'\s*in "<unicode string>",')
FILE_PATTERNS = (
    re.compile(r"in file\s+`([^`]+)`"),
    re.compile(r"\(([\w./ -]+\.(?:ya?ml|sql|py|md|csv))\)"),
    re.compile(r"(?:file|path)[: ]+([\w./-]+\.(?:ya?ml|sql|py|md|csv))"),
    re.compile(r"\b((?:[\w.-]+/)+[\w.-]+\.(?:ya?ml|sql|py|md|csv))\b"),
)
LINE_PATTERN = re.compile(r"\bline (\d+)")

# What to change, per deprecation event dbt 1.9-1.11 can raise. `{key}` is filled from the event.
DEPRECATIONS: dict[str, str] = {
    "MissingArgumentsPropertyInGenericTestDeprecation": "Nest the generic test's keyword arguments under "
    "`arguments:` (e.g. `- accepted_values: {arguments: {values: [...]}}`); config such as severity goes "
    "under `config:`.",
    "ArgumentsPropertyInGenericTestDeprecation": "Set `flags: {require_generic_test_arguments_property: "
    "true}` in dbt_project.yml, or rename a custom test argument called `arguments`.",
    "PropertyMovedToConfigDeprecation": "Move `{key}` under the `config:` of that resource or test "
    "(e.g. `config: {severity: warn}`).",
    "DuplicateYAMLKeysDeprecation": "Remove or merge the duplicate key: YAML keeps only the last one.",
    "UnexpectedJinjaBlockDeprecation": "Remove the stray block tag (e.g. an extra `{% endmacro %}`) or add "
    "its missing opening tag.",
    "CustomTopLevelKeyDeprecation": "Remove the unknown top-level key, or move custom data under `meta:`.",
    "CustomKeyInConfigDeprecation": "Move the custom key `{key}` into `config: {meta: ...}`.",
    "CustomKeyInObjectDeprecation": "Fix the typo or remove `{key}`; custom data belongs under `meta:`.",
    "GenericJSONSchemaValidationDeprecation": "Fix the YAML so it matches dbt's schema for this file "
    "(the message names the offending key).",
    "MissingPlusPrefixDeprecation": "Prefix the config key with `+` in dbt_project.yml (e.g. `+{key}:`).",
    "ConfigDataPathDeprecation": "Rename `data-paths` to `seed-paths` in dbt_project.yml.",
    "ConfigSourcePathDeprecation": "Rename `source-paths` to `model-paths` in dbt_project.yml.",
    "ConfigLogPathDeprecation": "Remove `log-path` from dbt_project.yml; use --log-path or DBT_LOG_PATH.",
    "ConfigTargetPathDeprecation": "Remove `target-path` from dbt_project.yml; use --target-path or "
    "DBT_TARGET_PATH.",
    "ProjectFlagsMovedDeprecation": "Move the `config:` block of profiles.yml to `flags:` in "
    "dbt_project.yml.",
    "PackageInstallPathDeprecation": "Rename `modules-path` to `packages-install-path` in dbt_project.yml.",
    "PackageRedirectDeprecation": "Use the package's new name in packages.yml.",
    "PackageMaterializationOverrideDeprecation": "Set `flags: {require_explicit_package_overrides_for_"
    "builtin_materializations: true}` and override the materialization in your own project.",
    "ExposureNameDeprecation": "Use only letters, digits and underscores in the exposure's name; put the "
    "display name in `label:`.",
    "ResourceNamesWithSpacesDeprecation": "Rename the resource without spaces.",
    "SourceOverrideDeprecation": "Drop `overrides:` from the source; disable the unwanted source with "
    "`enabled: false`.",
    "EnvironmentVariableNamespaceDeprecation": "Rename the environment variable: the DBT_ prefix is reserved "
    "for dbt itself (DBT_ENV_CUSTOM_ENV_ is allowed).",
    "ModelParamUsageDeprecation": "Use --select/-s instead of --models/-m.",
    "ModulesItertoolsUsageDeprecation": "Replace `modules.itertools` with built-in Jinja filters/loops.",
    "MFTimespineWithoutYamlConfigurationDeprecation": "Configure the time spine in YAML "
    "(`time_spine:` on the model) instead of relying on `metricflow_time_spine` by name.",
    "MFCumulativeTypeParamsDeprecation": "Move `window`/`grain_to_date` under `cumulative_type_params:`.",
    "MicrobatchMacroOutsideOfBatchesDeprecation": "Set `flags: {require_batched_execution_for_custom_"
    "microbatch_strategy: true}` in dbt_project.yml.",
    "DuplicateNameDistinctNodeTypesDeprecation": "Rename one of the resources: names must be unique across "
    "models, seeds and snapshots.",
    "WEOIncludeExcludeDeprecation": "In warn_error_options use `error:` instead of `include:` and `warn:` "
    "instead of `exclude:`.",
    "CustomOutputPathInSourceFreshnessDeprecation": "Drop `--output` from `dbt source freshness`.",
    "TestsConfigDeprecation": "Rename `tests:` to `data_tests:`.",
    "SpacesInResourceNameDeprecation": "Rename the resource without spaces.",
}

# What to do about an error, recognised by its (cleaned) message.
ERROR_ADVICE: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(p, re.I | re.S), advice)
    for p, advice in (
        (
            r"depends on a node named|was not found",
            "Fix the name in ref()/source(), or create the missing model/seed.",
        ),
        (
            r"'[\w.]+' is undefined|macro.*(?:not found|undefined)",
            "Define the macro (macros/) or fix its name; an undefined macro only fails at compile time.",
        ),
        (
            r"could not find profile named|profile.*not found",
            "Create profiles.yml with that profile (in the project folder, ~/.dbt or DBT_PROFILES_DIR).",
        ),
        (
            r"does not have a target named|target.*not (?:found|defined)",
            "Use one of the profile's targets (argument `target` or DBT_TARGET), or add the target.",
        ),
        (
            r"connection refused|could not connect|could not translate host|timeout expired|"
            r"password authentication failed|no route to host|database .* does not exist",
            "Check the database is running and the profile's host/port/user/password/dbname "
            "(the data-platform doctor command tests the connection).",
        ),
        (
            r"env var required but not provided",
            "Set that environment variable (or give env_var() a default).",
        ),
        (
            r"syntax error near line|mapping values are not allowed|could not find expected|"
            r"found character|while parsing|duplicate key",
            "Fix the YAML at that line (indentation; quote values that hold ': ').",
        ),
        (
            r"unexpected end of template|unknown tag|expected token|unexpected '|jinja|"
            r"encountered unknown tag|unexpected char",
            "Fix the Jinja: every {% ... %} and {{ ... }} must be closed and blocks balanced.",
        ),
        (
            r"syntax error at or near|relation .* does not exist|column .* does not exist",
            "Fix the SQL of the failing node (see its compiled SQL with dbt_compile).",
        ),
    )
)


@dataclass(frozen=True)
class Finding:
    """One deprecation, warning or error, ready to show and to act on."""

    kind: Kind
    event: str
    code: str
    message: str
    file: str | None = None
    line: int | None = None
    node: str | None = None
    fix: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class RunFinding(Finding):
    """A deprecation in a run/test/build answer; `told_before`: an earlier answer told it in full."""

    told_before: bool = False


def strip_ansi(text: str) -> str:
    return ANSI.sub("", text)


def unwrap(text: str) -> str:
    """Undo dbt's 80-column wrapping: paragraphs join into single lines."""
    paragraphs = re.split(r"\n\s*\n", text.strip())
    return "\n".join(" ".join(p.split()) for p in paragraphs if p.strip())


def clean_message(text: str, *, wrapped: bool) -> str:
    """No colour codes, no `[WARNING][Name]:` tag; unwrapped when dbt wrapped it."""
    text = NOISE.sub("", TAG.sub("", strip_ansi(text))).strip()
    text = text.removeprefix("Encountered an error:").strip()
    # A Python stack trace is for dbt's developers, not for the model: keep what precedes it.
    text = text.split("Traceback (most recent call last)", 1)[0].rstrip()
    if wrapped:
        return unwrap(text)
    lines = [line.rstrip() for line in text.splitlines()]
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines)


def find_file(text: str, data: dict[str, Any]) -> str | None:
    for key in ("file", "path", "file_path", "original_file_path"):
        value = data.get(key)
        if isinstance(value, str) and value:
            return value
    for pattern in FILE_PATTERNS:
        match = pattern.search(text)
        if match:
            return match.group(1)
    return None


def find_line(text: str, data: dict[str, Any]) -> int | None:
    for key in ("line", "lineno"):
        if isinstance(data.get(key), int) and data[key] > 0:
            return int(data[key])
    match = LINE_PATTERN.search(text)
    return int(match.group(1)) if match else None


def advice_for_error(message: str) -> str | None:
    for pattern, advice in ERROR_ADVICE:
        if pattern.search(message):
            return advice
    return None


def is_deprecation(name: str, code: str) -> bool:
    return name in DEPRECATIONS or name.endswith("Deprecation") or (code.startswith("D") and code != "D028")


# Events that are not findings: the summary of counts, and dbt's own Python stack trace
# (MainStackTrace, Z003, logged at error level after MainEncounteredError says what failed).
NOT_FINDINGS = frozenset({"DeprecationsSummary", "MainStackTrace"})


def from_event(name: str, code: str, level: str, msg: str, data: dict[str, Any]) -> Finding | None:
    """A finding from one structured event, or None for events that are not findings."""
    if name in NOT_FINDINGS or level not in ("warn", "error"):
        return None
    if is_deprecation(name, code):
        message = clean_message(msg, wrapped=True)
        fix = DEPRECATIONS.get(name, "See dbt's deprecation docs for this event.")
        key = data.get("key")
        if "{key}" in fix:
            fix = fix.replace("{key}", str(key) if key else "that key")
        return Finding(
            kind="deprecation",
            event=name,
            code=code,
            message=message,
            file=find_file(message, data),
            line=find_line(message, data),
            fix=fix,
        )
    message = clean_message(msg, wrapped=False)
    if not message:
        return None
    kind: Kind = "error" if level == "error" else "warning"
    node = None
    node_info = data.get("node_info")
    if isinstance(node_info, dict):
        node = node_info.get("unique_id") or None
    return Finding(
        kind=kind,
        event=name,
        code=code,
        message=message,
        file=find_file(message, data),
        line=find_line(message, data),
        node=node,
        fix=advice_for_error(message) if kind == "error" else None,
    )


def error_from_exception(exc: BaseException) -> Finding:
    """A finding for an exception dbt raised instead of logging an event."""
    message = clean_message(str(exc), wrapped=False) or type(exc).__name__
    return Finding(
        kind="error",
        event=type(exc).__name__,
        code="",
        message=message,
        file=find_file(message, {}),
        line=find_line(message, {}),
        fix=advice_for_error(message),
    )


def dedupe(findings: list[Finding]) -> list[Finding]:
    """Drop repeats (dbt logs some errors twice: as the event and in the final summary)."""
    seen: set[tuple[str, str, str | None]] = set()
    out: list[Finding] = []
    for f in findings:
        key = (f.event, f.message, f.file)
        if key in seen:
            continue
        seen.add(key)
        out.append(f)
    return out


# A deprecation stays the same one when an edit above it moves its line.
POSITION = re.compile(r"\b(line|column) \d+")
DeprecationKey = tuple[str, str | None, str]


def deprecation_key(finding: Finding) -> DeprecationKey:
    """What a deprecation is (its event, file and message), not where in the file it sits."""
    return (finding.event, finding.file, POSITION.sub(r"\1", finding.message))


class ToldDeprecations:
    """Which deprecations a run/test/build answer already told in full, per project.

    Runs repeat the project's deprecations on every call; the reader needs them in
    full once, then a line, unless new ones appear. Kept by the service (server state).
    """

    def __init__(self) -> None:
        self._told: dict[Path, set[DeprecationKey]] = {}

    def before(self, project: Path, deprecations: list[Finding]) -> list[Finding]:
        """Those of `deprecations` told before; all of them count as told from now on.

        Only the current ones are remembered: one fixed and brought back is new again.
        """
        told = self._told.get(project, set())
        keys = [deprecation_key(f) for f in deprecations]
        self._told[project] = set(keys)
        return [f for f, key in zip(deprecations, keys, strict=True) if key in told]


class HasFindings:
    """`errors` and `deprecations` of anything that carries `findings` (a validation, a dbt call)."""

    findings: list[Finding]

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.kind == "error"]

    @property
    def deprecations(self) -> list[Finding]:
        return [f for f in self.findings if f.kind == "deprecation"]
