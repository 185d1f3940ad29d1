"""dbt commands run as subprocesses (run, test, build, seed, docs generate), one at a time.

Each command starts on a dbt worker process started ahead of time (runner.py): it imports
dbt while the project is validated in-process. A worker whose command ended normally waits
for the next command (worker.py); after any other end a new one is started, so the next
command starts warm either way. A command just cancelled may still be
stopping: the next waits for it a moment (BUSY_WAIT_S) before saying another is running.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import anyio

from data_platform.dbtools import state as state_mod
from data_platform.dbtools.artifacts import DocsReport, NodeResult, docs_report, parse_run_results
from data_platform.dbtools.findings import Finding, RunFinding, clean_message
from data_platform.dbtools.project import DbtProject
from data_platform.dbtools.runner import Progress, kill_now, run_subprocess, start_worker
from data_platform.dbtools.target import Where, where
from data_platform.dbtools.validation import Validation, closing_hint, findings_text
from data_platform.errors import DbtError

if TYPE_CHECKING:
    from data_platform.dbtools.service import DbtService

RunCommand = Literal["run", "test", "build", "seed"]
BUSY_WAIT_S = 15.0
# The worker for the next command imports dbt only after this long with no command (worker.py):
# a model's next dbt call comes seconds after the answer; a session often ends after its last one.
NEXT_WORKER_IDLE_S = 2.0


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
    where: Where | None = None  # the target and schemas it ran in
    skipped_after: list[str] = field(default_factory=list)  # failed nodes upstream of skipped ones

    def deprecations(self) -> list[RunFinding]:
        """The project's deprecations, each marked if an earlier answer told it in full."""
        told = self.told_before
        return [RunFinding(**f.as_dict(), told_before=f in told) for f in self.validation.deprecations]


def parsed_by(validation: Validation) -> list[str]:
    """The parse validation just saved, for the command's own parse: dbt reads it and parses only
    files changed since (it checks its version, the profile, vars and each file's checksum, and
    parses in full when any differs), instead of a full parse of its own on a server's first command.
    Validation writes under its own folder; the command writes its parse to `target/` as before."""
    saved = validation.project.validation_path / "partial_parse.msgpack"
    return ["--partial-parse-file-path", str(saved)] if saved.is_file() else []


class Runs:
    """The service's subprocess commands: the one running now and the pre-started worker."""

    def __init__(self, service: DbtService) -> None:
        self.service = service
        self.settings = service.settings
        self._running: str | None = None
        self._worker: tuple[Any, Path] | None = None  # (a pre-started dbt process, its project)
        # Two calls at once must not both start a worker (the first would be overwritten, never stopped).
        self._starting = anyio.Lock()

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
        state: str | None = None,
        defer: bool = True,
    ) -> RunOutcome:
        """Validate, then `dbt <command>` in a subprocess; per-node results from run_results.json.

        `state`/`defer`: dbt's `--state`/`--defer` against a baseline (state.py). A run or build
        keeps its manifest as its target's state (`state="prod"` after a build on prod)."""
        await self._prestart(self.service.project())  # dbt imports in the worker while we validate
        validation = await anyio.to_thread.run_sync(
            lambda: self.service.checked(f"dbt {command}", target, vars)
        )
        stateful = await anyio.to_thread.run_sync(lambda: self.service.state_args(state, defer, target))
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
            *self.service.base_args(project, target, vars),
            "--target-path",
            str(project.target_path),
            *parsed_by(validation),
            *self.service.selection(select, exclude),
            *stateful,
        ]
        if full_refresh and command in ("run", "build", "seed"):
            args.append("--full-refresh")
        outcome, started = await self._subprocess(command, project, args, on_progress)
        results_path = project.target_path / "run_results.json"
        fresh = results_path.is_file() and results_path.stat().st_mtime >= started - 1
        manifest = await anyio.to_thread.run_sync(self._names, validation)  # in a thread: a big one is slow
        read = lambda: parse_run_results(results_path, manifest)  # noqa: E731
        results = await anyio.to_thread.run_sync(read) if fresh else None
        if results is not None and command in ("run", "build", "seed") and results.nodes:
            state_mod.record_run(project, state_mod.target_name(project, target, self.settings.dbt_target))
        errors = [f for f in outcome.errors if not (results and f.node)]
        if results is None or (not results.nodes and outcome.returncode != 0):
            raise DbtError(
                f"dbt {command} failed before running any node (exit code {outcome.returncode}).\n"
                + (
                    findings_text(errors)
                    or clean_message(outcome.stderr_tail[-800:], wrapped=False)
                    or "dbt gave no message."
                ),
                hint=closing_hint(errors, "Check the profile and the database, then retry."),
            )
        return RunOutcome(
            command=command,
            project=project,
            validation=validation,
            nodes=results.nodes,
            counts=results.counts,
            skipped_after=results.skipped_after,
            returncode=outcome.returncode,
            seconds=outcome.seconds,
            errors=[f for f in errors if f.kind == "error" and not f.node][:5],
            run_results_path=results_path,
            told_before=self.service.told.before(project.root, validation.deprecations),
            where=where(
                project, target, self.settings.dbt_target, manifest, [n.unique_id for n in results.nodes]
            ),
        )

    def _names(self, validation: Validation) -> dict[str, Any] | None:
        """The manifest of the parse just done, to name nodes (None if unreadable: names from ids)."""
        try:
            return self.service.manifest(validation)
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
        outcome = None
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
                if outcome is not None and outcome.reusable and worker is not None:
                    await self._keep(worker, project)  # dbt imported already: the next command starts at once
                else:
                    await self._prestart(project, NEXT_WORKER_IDLE_S)  # the next command starts warm
        return outcome, started

    # -- pre-started dbt processes ----------------------------------------------------------
    async def _prestart(self, project: DbtProject, idle_s: float = 0.0) -> None:
        """Keep one dbt worker process importing/waiting for this project (see worker.py)."""
        async with self._starting:
            if self._worker is not None:
                process, root = self._worker
                if root == project.root and process.returncode is None:
                    return
                kill_now(process)
                self._worker = None
            try:
                self._worker = (await start_worker(project.root, idle_s), project.root)
            except OSError:
                self._worker = None

    async def _keep(self, worker: Any, project: DbtProject) -> None:
        """The worker that just ran a command, waiting for the next (worker.py), as the next one."""
        async with self._starting:
            if self._worker is not None:  # started meanwhile (a call validating): one is enough
                kill_now(self._worker[0])
            self._worker = (worker, project.root)

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
        async with self._starting:  # a worker being started now is stopped too
            if self._worker is not None:
                process = self._worker[0]
                self._worker = None
                kill_now(process)
                await process.wait()

    # -- docs -------------------------------------------------------------------------------
    async def docs_generate(
        self, target: str | None = None, vars: dict[str, Any] | None = None
    ) -> tuple[DocsReport, Validation]:
        await self._prestart(self.service.project())
        validation = await anyio.to_thread.run_sync(
            lambda: self.service.checked("dbt docs generate", target, vars)
        )
        project = validation.project
        args = [
            "docs",
            "generate",
            *self.service.base_args(project, target, vars),
            "--target-path",
            str(project.target_path),
            *parsed_by(validation),
        ]
        outcome, _ = await self._subprocess("docs generate", project, args, None)
        if outcome.returncode != 0:
            raise DbtError(
                f"dbt docs generate failed (exit code {outcome.returncode}).\n"
                + (findings_text(outcome.errors) or clean_message(outcome.stderr_tail[-800:], wrapped=False)),
                hint=closing_hint(outcome.errors, "Check the profile and the database."),
            )
        return await anyio.to_thread.run_sync(docs_report, project.target_path), validation
