"""The dbt operations the tools call: validate, run/test/build, compile, ls, docs, lineage.

Validation is in-process and cached by the project's file state: the first
parse of a given file state runs without partial parsing (partial parsing
skips unchanged files and with them their deprecation warnings) and its
findings are kept; a later parse of the same state is a fast partial parse
plus the kept findings. Runs are `dbt` subprocesses (see runner.py).

A run/test/build tells the project's deprecations in full the first time it
sees them; the service remembers which it told (per project, by event, file
and message), so a later run names only the new ones in full.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import anyio

from data_platform.config import Settings
from data_platform.dbtools import lineage as lineage_mod
from data_platform.dbtools.artifacts import (
    DocsReport,
    NodeResult,
    Resource,
    docs_report,
    load_json,
    parse_run_results,
    resource_from_ls_line,
)
from data_platform.dbtools.findings import Finding, ToldDeprecations, clean_message
from data_platform.dbtools.project import DbtProject, fingerprint, locate
from data_platform.dbtools.runner import InProcessDbt, Progress, kill_now, run_subprocess, start_worker
from data_platform.errors import DbtError, InputError

RunCommand = Literal["run", "test", "build", "seed"]
BUSY_WAIT_S = 15.0
# Where dbt's messages name a file relative to a resource folder ("marts/schema.yml").
RESOURCE_DIRS = ("models", "seeds", "snapshots", "macros", "tests", "analyses")


@dataclass
class Validation:
    """The outcome of validating the project (a full or partial `dbt parse`)."""

    project: DbtProject
    findings: list[Finding]
    seconds: float
    cached: bool
    manifest_path: Path

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.kind == "error"]

    @property
    def deprecations(self) -> list[Finding]:
        return [f for f in self.findings if f.kind == "deprecation"]

    @property
    def ok(self) -> bool:
        return not self.errors


@dataclass
class _Cached:
    fingerprint: str
    findings: list[Finding]


@dataclass
class RunOutcome:
    command: str
    project: DbtProject
    validation: Validation
    nodes: list[NodeResult]
    counts: dict[str, int]
    returncode: int
    seconds: float
    errors: list[Finding] = field(default_factory=list)
    run_results_path: Path | None = None
    # Deprecations an earlier run/test/build of this project already told in full.
    told_before: list[Finding] = field(default_factory=list)


@dataclass
class Compiled:
    unique_id: str
    name: str
    sql: str


def findings_text(findings: list[Finding], limit: int = 8) -> str:
    """Findings as short lines for an error message."""
    lines = []
    for f in findings[:limit]:
        where = f" ({f.file}{':' + str(f.line) if f.line else ''})" if f.file else ""
        msg = f.message if len(f.message) <= 600 else f.message[:600] + "..."
        lines.append(
            f"- [{f.event}{' ' + f.code if f.code else ''}]{where} {msg}"
            + (f" Fix: {f.fix}" if f.fix else "")
        )
    if len(findings) > limit:
        lines.append(f"- ... and {len(findings) - limit} more")
    return "\n".join(lines)


def _hint(shown: list[Finding], default: str) -> str:
    """The closing advice of an error listing `shown`: not a second copy of a fix it already gives."""
    return "Then retry." if any(f.fix for f in shown[:8]) else default


def _project_relative(finding: Finding, root: Path) -> Finding:
    """dbt names some files relative to their resource folder; name them from the project root."""
    if not finding.file or (root / finding.file).exists():
        return finding
    for folder in RESOURCE_DIRS:
        if (root / folder / finding.file).is_file():
            return replace(finding, file=f"{folder}/{finding.file}")
    return finding


class DbtService:
    """One per server: owns the in-process dbt and the validation cache."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.inproc = InProcessDbt()
        self._cache: dict[Path, _Cached] = {}
        self._manifest_cache: tuple[Path, int, dict[str, Any]] | None = None
        self._running: str | None = None
        self._worker: tuple[Any, Path] | None = None  # (a pre-started dbt process, its project)
        self.told = ToldDeprecations()

    # -- where things are -------------------------------------------------------------------
    def project(self) -> DbtProject:
        return locate(
            self.settings.dbt_project_dir, self.settings.dbt_profiles_dir, self.settings.project_dir
        )

    def _base_args(self, project: DbtProject, target: str | None, vars: dict[str, Any] | None) -> list[str]:
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

    @staticmethod
    def _selection(select: str | None, exclude: str | None) -> list[str]:
        args: list[str] = []
        if select and select.strip():
            args += ["--select", *select.split()]
        if exclude and exclude.strip():
            args += ["--exclude", *exclude.split()]
        return args

    # -- validation -------------------------------------------------------------------------
    def validate(self, target: str | None = None, vars: dict[str, Any] | None = None) -> Validation:
        """Parse the project; deprecations are reported on every call, not only the first."""
        project = self.project()
        base = self._base_args(project, target, vars)
        key = fingerprint(
            project, extra=json.dumps([target or self.settings.dbt_target, vars], sort_keys=True)
        )
        args = ["parse", *base, "--target-path", str(project.validation_path)]
        if self.inproc.supports("--show-all-deprecations"):
            args.append("--show-all-deprecations")
        cached = self._cache.get(project.root)
        if (
            cached is not None
            and cached.fingerprint == key
            and any(f.kind == "error" for f in cached.findings)
        ):
            # The same files failed before: same answer, without asking dbt again.
            return Validation(project, cached.findings, 0.0, True, project.validation_path / "manifest.json")
        if cached is not None and cached.fingerprint == key:
            inv = self.inproc.invoke(args)
            kept = [f for f in cached.findings if f.kind != "error"]
            findings = kept + [f for f in inv.findings if f.kind == "error"]
            from_cache = True
        else:
            inv = self.inproc.invoke([*args, "--no-partial-parse"])
            findings = inv.findings
            from_cache = False
        if not inv.success and not any(f.kind == "error" for f in findings):
            findings = [
                *findings,
                Finding(kind="error", event="ParseFailed", code="", message="dbt parse failed."),
            ]
        findings = [_project_relative(f, project.root) for f in findings]
        if not from_cache:
            self._cache[project.root] = _Cached(key, findings)
        return Validation(
            project=project,
            findings=findings,
            seconds=inv.seconds,
            cached=from_cache,
            manifest_path=project.validation_path / "manifest.json",
        )

    def _checked(self, what: str, target: str | None, vars: dict[str, Any] | None) -> Validation:
        validation = self.validate(target, vars)
        if validation.errors:
            raise DbtError(
                f"{what} did not start: the dbt project has {len(validation.errors)} error(s).\n"
                + findings_text(validation.errors),
                hint="Fix these, then retry (dbt_parse re-checks quickly).",
            )
        return validation

    # -- runs -------------------------------------------------------------------------------
    async def run(
        self,
        command: RunCommand,
        *,
        select: str | None = None,
        exclude: str | None = None,
        full_refresh: bool = False,
        vars: dict[str, Any] | None = None,
        target: str | None = None,
        strict: bool | None = None,
        on_progress: Callable[[Progress], Awaitable[None]] | None = None,
    ) -> RunOutcome:
        """Validate, then `dbt <command>` in a subprocess; per-node results from run_results.json."""
        await self._prestart(self.project())  # dbt imports in the worker while we validate
        validation = await anyio.to_thread.run_sync(lambda: self._checked(f"dbt {command}", target, vars))
        strict = bool(strict) or self.settings.dbt_strict
        if strict and validation.deprecations:
            raise DbtError(
                f"dbt {command} refused (strict mode): {len(validation.deprecations)} deprecation(s).\n"
                + findings_text(validation.deprecations),
                hint="Fix them, or run with strict=false (DATA_PLATFORM_DBT_STRICT=0).",
            )
        project = validation.project
        args = [
            command,
            *self._base_args(project, target, vars),
            "--target-path",
            str(project.target_path),
            *self._selection(select, exclude),
        ]
        if full_refresh and command in ("run", "build", "seed"):
            args.append("--full-refresh")
        outcome, started = await self._subprocess(command, project, args, on_progress)
        results_path = project.target_path / "run_results.json"
        fresh = results_path.is_file() and results_path.stat().st_mtime >= started - 1
        results = (  # in a thread: a big project's manifest takes a while to read
            await anyio.to_thread.run_sync(lambda: parse_run_results(results_path, self._names(validation)))
            if fresh
            else None
        )
        errors = [f for f in outcome.errors if not (results and f.node)]
        if results is None or (not results.nodes and outcome.returncode != 0):
            raise DbtError(
                f"dbt {command} failed before running any node (exit code {outcome.returncode}).\n"
                + (
                    findings_text(errors)
                    or clean_message(outcome.stderr_tail[-800:], wrapped=False)
                    or "dbt gave no message."
                ),
                hint=_hint(errors, "Check the profile and the database, then retry."),
            )
        return RunOutcome(
            command=command,
            project=project,
            validation=validation,
            nodes=results.nodes,
            counts=results.counts,
            returncode=outcome.returncode,
            seconds=outcome.seconds,
            errors=[f for f in errors if f.kind == "error" and not f.node][:5],
            run_results_path=results_path,
            told_before=self.told.before(project.root, validation.deprecations),
        )

    def _names(self, validation: Validation) -> dict[str, Any] | None:
        """The manifest of the parse just done, to name nodes (None if unreadable: names from ids)."""
        try:
            return self.manifest(validation)
        except (DbtError, OSError):
            return None

    async def _subprocess(
        self,
        command: str,
        project: DbtProject,
        args: list[str],
        on_progress: Callable[[Progress], Awaitable[None]] | None,
    ) -> tuple[Any, float]:
        # A command that was just cancelled may still be stopping: give it a moment.
        with anyio.move_on_after(BUSY_WAIT_S):
            while self._running is not None:
                await anyio.sleep(0.2)
        if self._running is not None:
            raise DbtError(
                f"Another dbt command is running ({self._running}).",
                hint="Wait for it to finish or cancel it, then retry.",
            )
        self._running = f"dbt {command}"
        started = time.time()
        worker = self._take_worker(project)
        try:
            outcome = await run_subprocess(
                args, project.root, self.settings.dbt_timeout_s, on_progress, worker=worker
            )
        except TimeoutError:
            raise DbtError(
                f"dbt {command} timed out after {self.settings.dbt_timeout_s:g} s and was stopped.",
                hint="Select fewer nodes, or raise DATA_PLATFORM_DBT_TIMEOUT.",
            ) from None
        except OSError as exc:
            raise DbtError(f"Could not start dbt: {exc}.") from None
        finally:
            self._running = None
            with anyio.CancelScope(shield=True):
                await self._prestart(project)  # the next command starts warm
        return outcome, started

    # -- pre-started dbt processes -------------------------------------------------------------
    async def _prestart(self, project: DbtProject) -> None:
        """Keep one dbt worker process importing/waiting for this project (see worker.py)."""
        if self._worker is not None:
            process, root = self._worker
            if root == project.root and process.returncode is None:
                return
            kill_now(process)
            self._worker = None
        try:
            self._worker = (await start_worker(project.root), project.root)
        except OSError:
            self._worker = None

    def _take_worker(self, project: DbtProject) -> Any:
        if self._worker is None:
            return None
        process, root = self._worker
        self._worker = None
        if root != project.root or process.returncode is not None:
            kill_now(process)
            return None
        return process

    async def close(self) -> None:
        """Server shutdown: stop the idle worker (AppState awaits this, bounded)."""
        if self._worker is not None:
            process = self._worker[0]
            self._worker = None
            kill_now(process)
            await process.wait()

    # -- docs -------------------------------------------------------------------------------
    async def docs_generate(
        self, target: str | None = None, vars: dict[str, Any] | None = None
    ) -> tuple[DocsReport, Validation]:
        await self._prestart(self.project())
        validation = await anyio.to_thread.run_sync(lambda: self._checked("dbt docs generate", target, vars))
        project = validation.project
        args = [
            "docs",
            "generate",
            *self._base_args(project, target, vars),
            "--target-path",
            str(project.target_path),
        ]
        outcome, _ = await self._subprocess("docs generate", project, args, None)
        if outcome.returncode != 0:
            raise DbtError(
                f"dbt docs generate failed (exit code {outcome.returncode}).\n"
                + (findings_text(outcome.errors) or clean_message(outcome.stderr_tail[-800:], wrapped=False)),
                hint=_hint(outcome.errors, "Check the profile and the database."),
            )
        return await anyio.to_thread.run_sync(docs_report, project.target_path), validation

    # -- ls / compile (in-process, fast) -----------------------------------------------------
    def ls(
        self,
        select: str | None = None,
        exclude: str | None = None,
        resource_type: str | None = None,
        target: str | None = None,
    ) -> list[Resource]:
        project = self.project()
        args = [
            "ls",
            *self._base_args(project, target, None),
            "--target-path",
            str(project.validation_path),
            "--output",
            "json",
            "--output-keys",
            "unique_id name resource_type original_file_path config",
            *self._selection(select, exclude),
        ]
        if resource_type:
            args += ["--resource-type", resource_type]
        inv = self.inproc.invoke(args)
        if not inv.success:
            raise DbtError(
                "dbt ls failed.\n" + findings_text(inv.errors or inv.findings),
                hint=_hint(inv.errors or inv.findings, "Run dbt_parse to see what is wrong."),
            )
        out = [resource_from_ls_line(line) for line in (inv.result or [])]
        return [r for r in out if r is not None]

    def compile(
        self,
        select: str,
        target: str | None = None,
        vars: dict[str, Any] | None = None,
    ) -> tuple[list[Compiled], Validation]:
        validation = self._checked("dbt compile", target, vars)
        project = validation.project
        args = [
            "compile",
            *self._base_args(project, target, vars),
            "--target-path",
            str(project.validation_path),
            *self._selection(select, None),
        ]
        inv = self.inproc.invoke(args)
        if not inv.success:
            raise DbtError(
                "dbt compile failed.\n" + findings_text(inv.errors or inv.findings),
                hint=_hint(inv.errors or inv.findings, "Fix the node's Jinja/SQL, then retry."),
            )
        compiled: list[Compiled] = []
        for r in getattr(inv.result, "results", None) or []:
            node = getattr(r, "node", None)
            if node is None or getattr(node, "resource_type", None) is None:
                continue
            code = getattr(node, "compiled_code", None)
            if code is None:
                continue
            compiled.append(Compiled(unique_id=node.unique_id, name=node.name, sql=str(code).strip()))
        compiled.sort(key=lambda c: c.unique_id)
        return compiled, validation

    # -- lineage ----------------------------------------------------------------------------
    def manifest(self, validation: Validation) -> dict[str, Any]:
        path = validation.manifest_path
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
        validation = self._checked("Lineage", None, None)
        data = self.manifest(validation)
        return lineage_mod.lineage(data, node, direction, depth, include_tests), validation
