"""The dbt operations the tools call: validate, run/test/build, compile, ls, docs, lineage.

Validation is in-process and cached by the project's file state: the first
parse of a given file state runs without partial parsing (partial parsing
skips unchanged files and with them their deprecation warnings) and its
findings are kept; a later parse of the same state is a fast partial parse
plus the kept findings. Runs are `dbt` subprocesses (runs.py, runner.py);
ls, compile and lineage run in-process, here, on the last clean parse kept in
memory (`parsed`) while nothing dbt reads has changed: reading dbt's saved
partial parse back was most of a warm compile.

A run/test/build tells the project's deprecations in full the first time it
sees them; the service remembers which it told (per project, by event, file
and message), so a later run names only the new ones in full.
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from data_platform.config import Settings
from data_platform.dbtools import early
from data_platform.dbtools import lineage as lineage_mod
from data_platform.dbtools import state as state_mod
from data_platform.dbtools import validation as validation_mod
from data_platform.dbtools.artifacts import DocsReport, Resource, load_json, resource_from_ls_line
from data_platform.dbtools.column_lineage import ColumnLineage
from data_platform.dbtools.findings import Finding, ToldDeprecations
from data_platform.dbtools.project import DbtProject, fingerprint, locate
from data_platform.dbtools.runner import InProcessDbt
from data_platform.dbtools.runs import RunOutcome, Runs
from data_platform.dbtools.target import Where, schemas_of, target_name
from data_platform.dbtools.validation import Cached, Validation, closing_hint, findings_text, project_relative
from data_platform.errors import DbtError, InputError

if TYPE_CHECKING:
    from data_platform.dbtools.column_service import Columns

log = logging.getLogger("data_platform.dbt")

__all__ = ["ColumnLineage", "Compiled", "DbtService", "RunOutcome", "Validation"]


@dataclass
class Compiled:
    unique_id: str
    name: str
    sql: str
    relation: str | None = None  # `database.schema` dbt resolved for it


class DbtService:
    """One per server: owns the in-process dbt and the validation cache."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.inproc = InProcessDbt()
        self._cache: dict[Path, Cached] = {}
        self._validating = threading.Lock()
        self._manifest_cache: tuple[Path, int, dict[str, Any]] | None = None
        self.told = ToldDeprecations()
        self.runs = Runs(self)

    @cached_property
    def columns(self) -> Columns:
        """Column lineage (column_service.py), imported on first use: its SQL parser is not needed by
        the early parse's process (early.py), whose import time the first dbt call waits for."""
        from data_platform.dbtools.column_service import Columns

        return Columns(self)

    # -- where things are -------------------------------------------------------------------
    def project(self) -> DbtProject:
        return locate(
            self.settings.dbt_project_dir, self.settings.dbt_profiles_dir, self.settings.project_dir
        )

    def base_args(self, project: DbtProject, target: str | None, vars: dict[str, Any] | None) -> list[str]:
        args = ["--project-dir", str(project.root), "--profiles-dir", str(project.profiles_dir)]
        target = target or self.settings.dbt_target
        if target:
            args += ["--target", target]
        if vars:
            try:
                args += ["--vars", json.dumps(vars)]
            except (TypeError, ValueError) as exc:
                raise InputError(f"vars must be JSON-serialisable: {exc}.") from None
        return args

    def compile_args(
        self,
        project: DbtProject,
        target: str | None,
        vars: dict[str, Any] | None,
        *rest: str,
        folder: str = "",
    ) -> list[str]:
        """`dbt compile` writing under the server's own target folder, never the project's `target/`."""
        path = project.validation_path / folder if folder else project.validation_path
        return ["compile", *self.base_args(project, target, vars), "--target-path", str(path), *rest]

    def state_args(self, state: str | None, defer: bool, target: str | None) -> list[str]:
        """dbt's `--state`/`--defer` for a baseline named as state.py's FORMS (made when needed)."""
        return state_mod.state_args(state_mod.resolve(self, state, target) if state else None, defer)

    @staticmethod
    def selection(select: str | None, exclude: str | None) -> list[str]:
        """dbt's --select/--exclude from selectors separated by spaces; a flag inside is refused,
        never passed on (`select="orders --target prod"` would otherwise run against prod)."""
        args: list[str] = []
        for flag, text in (("--select", select), ("--exclude", exclude)):
            words = (text or "").split()
            flags = [w for w in words if w.startswith("-")]
            if flags:
                raise InputError(
                    f"{flag[2:]} takes dbt selectors, not flags: got {', '.join(flags)}.",
                    hint=f"Pass selectors only, e.g. {flag[2:]}='stg_orders+ tag:daily', and options as "
                    "arguments of their own: target='prod', full_refresh=true.",
                )
            if words:
                args += [flag, *words]
        return args

    # -- validation -------------------------------------------------------------------------
    def validate(self, target: str | None = None, vars: dict[str, Any] | None = None) -> Validation:
        """Parse the project; deprecations are reported on every call, not only the first."""
        with self._validating:  # a second caller (the warm-up, then the first call) reuses the first's parse
            return self._validate(target, vars)[0]

    def parsed(self, target: str | None = None, vars: dict[str, Any] | None = None) -> Any:
        """The project parsed for `target`/`vars` as dbt would parse it now, kept in memory: a
        command given it skips dbt's parse (InProcessDbt.invoke). None when the project has errors
        (the command then parses, and says what dbt says). A command with `--state`/`--defer` must
        not be given it: deferral writes the baseline's relations into the manifest's nodes."""
        with self._validating:
            validation, manifest = self._validate(target, vars, need_manifest=True)
        return manifest if validation.ok else None

    def _validate(
        self, target: str | None, vars: dict[str, Any] | None, need_manifest: bool = False
    ) -> tuple[Validation, Any]:
        """The validation, and the kept manifest of its parse (None if not kept). `need_manifest`:
        parse (partially: dbt reads its saved parse) where the saved findings alone would answer."""
        early.settle()  # the project's first parse, if running in its own process (early.py)
        project = self.project()
        folder = project.validation_path
        extra = [target or self.settings.dbt_target, vars, self.inproc.version]
        key = fingerprint(project, extra=json.dumps(extra, sort_keys=True))
        cached = self._cache.get(project.root)
        if cached is None or cached.fingerprint != key:
            # A new process: the findings of an earlier session's full parse of these same files.
            cached = validation_mod.load_saved(folder, key) or cached
        current = cached is not None and cached.fingerprint == key
        if cached is not None and current and any(f.kind == "error" for f in cached.findings):
            # The same files failed before: same answer, without asking dbt again.
            return Validation(project, cached.findings, 0.0, True, folder / "manifest.json"), None
        if (
            cached is not None
            and current
            and validation_mod.unchanged(folder, cached.stamp)
            and (cached.manifest is not None or not need_manifest)
        ):
            # Nothing dbt reads changed since the parse that wrote the manifest (dbt's partial parse
            # would parse no file): its findings and manifest are the answer, without dbt.
            self._cache[project.root] = cached
            return Validation(project, cached.findings, 0.0, True, folder / "manifest.json"), cached.manifest
        args = ["parse", *self.base_args(project, target, vars), "--target-path", str(folder)]
        if self.inproc.supports("--show-all-deprecations"):
            args.append("--show-all-deprecations")
        if not current:
            args.append("--no-partial-parse")
        inv = self.inproc.invoke(args, after=lambda _: validation_mod.manifest_stat(folder))
        if cached is not None and current:
            kept = [f for f in cached.findings if f.kind != "error"]
            findings = kept + [f for f in inv.findings if f.kind == "error"]
        else:
            findings = inv.findings
        if not inv.success and not any(f.kind == "error" for f in findings):
            findings = [
                *findings,
                Finding(kind="error", event="ParseFailed", code="", message="dbt parse failed."),
            ]
        findings = [project_relative(f, project.root) for f in findings]
        clean = inv.success and not any(f.kind == "error" for f in findings)
        seen = getattr(inv.result, "env_vars", None) or {}  # the variables dbt's parse read
        kept_stamp = validation_mod.stamp(project, inv.after, seen) if clean else None
        manifest = inv.result if kept_stamp is not None else None
        if not current or cached is None:
            self._cache[project.root] = Cached(key, findings, kept_stamp, manifest)
        else:  # the saved findings, from now on in memory
            self._cache[project.root] = Cached(key, cached.findings, kept_stamp, manifest)
        validation_mod.save(folder, self._cache[project.root])  # never one with errors (save)
        validation = Validation(
            project=project,
            findings=findings,
            seconds=inv.seconds,
            cached=current,
            manifest_path=folder / "manifest.json",
        )
        return validation, manifest

    def warm(self) -> None:
        """At a server's start, in a thread: what every dbt call does first (a parse, or the check
        that the saved one still holds; importing dbt for the in-process commands), so the first
        call finds it done. Quiet: the calls report what is wrong."""
        try:
            self.validate()
            self.inproc.load()
        except Exception as exc:  # no project, a broken profile...: the first call says so
            log.info("dbt warm-up skipped: %s", str(exc).splitlines()[0] if str(exc) else type(exc).__name__)

    def checked(self, what: str, target: str | None, vars: dict[str, Any] | None) -> Validation:
        validation = self.validate(target, vars)
        if validation.errors:
            raise DbtError(
                f"{what} did not start: the dbt project has {len(validation.errors)} error(s).\n"
                + findings_text(validation.errors),
                hint="Fix these, then retry (dbt_parse re-checks quickly).",
            )
        return validation

    # -- runs (runs.py: `service.runs.run(...)`) ----------------------------------------------
    async def docs_generate(
        self, target: str | None = None, vars: dict[str, Any] | None = None
    ) -> tuple[DocsReport, Validation]:
        """Validate, then `dbt docs generate` in a subprocess; what the docs cover."""
        return await self.runs.docs_generate(target, vars)

    async def close(self) -> None:
        """Server shutdown: stop the idle worker (AppState awaits this, bounded)."""
        await self.runs.close()

    # -- ls / compile (in-process, fast) -----------------------------------------------------
    def ls(
        self,
        select: str | None = None,
        exclude: str | None = None,
        resource_type: str | None = None,
        target: str | None = None,
        state: str | None = None,
    ) -> list[Resource]:
        project = self.project()
        stateful = self.state_args(state, False, target)
        args = [
            "ls",
            *self.base_args(project, target, None),
            "--target-path",
            str(project.validation_path),
            "--output",
            "json",
            "--output-keys",
            "unique_id name resource_type original_file_path config",
            *self.selection(select, exclude),
            *stateful,
        ]
        if resource_type:
            args += ["--resource-type", resource_type]
        inv = self.inproc.invoke(args, manifest=None if stateful else self.parsed(target))
        if not inv.success:
            raise DbtError(
                "dbt ls failed.\n" + findings_text(inv.errors or inv.findings),
                hint=closing_hint(inv.errors or inv.findings, "Run dbt_parse to see what is wrong."),
            )
        out = [resource_from_ls_line(line) for line in (inv.result or [])]
        return [r for r in out if r is not None]

    def compile(
        self,
        select: str,
        target: str | None = None,
        vars: dict[str, Any] | None = None,
        state: str | None = None,
        defer: bool = True,
    ) -> tuple[list[Compiled], Validation]:
        validation = self.checked("dbt compile", target, vars)
        project = validation.project
        stateful = self.state_args(state, defer, target)
        # The compiled code comes back in-process: no manifest.json to rewrite, so the kept parse
        # and its stamp still hold for the next command.
        args = self.compile_args(
            project, target, vars, *self.selection(select, None), *stateful, "--no-write-json"
        )
        inv = self.inproc.invoke(args, manifest=None if stateful else self.parsed(target, vars))
        if not inv.success:
            raise DbtError(
                "dbt compile failed.\n" + findings_text(inv.errors or inv.findings),
                hint=closing_hint(inv.errors or inv.findings, "Fix the node's Jinja/SQL, then retry."),
            )
        compiled: list[Compiled] = []
        for r in getattr(inv.result, "results", None) or []:
            node = getattr(r, "node", None)
            if node is None or getattr(node, "resource_type", None) is None:
                continue
            code = getattr(node, "compiled_code", None)
            if code is None:
                continue
            kind = getattr(node, "resource_type", "")
            built = str(getattr(kind, "value", kind)) in ("model", "seed", "snapshot")
            schema = getattr(node, "schema", None) if built else None  # a test's audit schema: not data
            db = getattr(node, "database", None)
            relation = (f"{db}.{schema}" if db else str(schema)) if schema else None
            compiled.append(Compiled(node.unique_id, node.name, str(code).strip(), relation))
        compiled.sort(key=lambda c: c.unique_id)
        return compiled, validation

    def where(self, target: str | None, schemas: list[str] | None = None) -> Where:
        """The target a command with `target` runs in (and the schemas it touched, when known)."""
        found = target_name(self.project(), target, self.settings.dbt_target)
        return Where(found, list(dict.fromkeys(s for s in schemas or [] if s)))

    def listed_schemas(self, uids: list[str]) -> list[str]:
        """The schemas of nodes `dbt ls` just listed (its manifest is the validation folder's)."""
        try:
            return schemas_of(self._manifest_at(self.project().validation_path / "manifest.json"), uids)
        except (DbtError, OSError):
            return []

    # -- lineage ----------------------------------------------------------------------------
    def manifest(self, validation: Validation) -> dict[str, Any]:
        return self._manifest_at(validation.manifest_path)

    def _manifest_at(self, path: Path) -> dict[str, Any]:
        mtime = path.stat().st_mtime_ns if path.is_file() else -1
        if self._manifest_cache and self._manifest_cache[:2] == (path, mtime):
            return self._manifest_cache[2]
        data = load_json(path, "manifest.json")
        self._manifest_cache = (path, mtime, data)
        return data

    def lineage(
        self,
        node: str,
        direction: lineage_mod.Direction = "both",
        depth: int | None = None,
        include_tests: bool = True,
    ) -> tuple[lineage_mod.Lineage, Validation]:
        """Lineage from a manifest refreshed first (a partial parse when nothing changed)."""
        validation = self.checked("Lineage", None, None)
        data = self.manifest(validation)
        return lineage_mod.lineage(data, node, direction, depth, include_tests), validation
