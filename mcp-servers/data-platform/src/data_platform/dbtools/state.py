"""Baselines for state-aware dbt (`--state`, `--defer`, `state:modified+`) and the impact review.

A baseline is what dbt understands: a folder holding a `manifest.json`. One argument names it in
three forms, resolved here: a folder (`state="prod-artifacts/"`); a target of the profile
(`state="prod"`: the manifest of the last run/build this server did on that target, recorded
after each one; else the project's current code parsed for that target); a git revision
(`state="git:main"`, `"main"`; `"git:main@prod"` parses it for target prod): the project at that
revision is exported with `git archive` into a temporary folder and parsed there, so nothing in
the user's checkout (work tree, index, worktree list) is touched. Made folders live under
`target/.data-platform/state/` and are reused while their inputs are the same.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from data_platform.dbtools.project import DbtProject, fingerprint
from data_platform.dbtools.target import profile_of
from data_platform.dbtools.target import target_name as named_target
from data_platform.dbtools.validation import closing_hint, findings_text
from data_platform.errors import DbtError, InputError

if TYPE_CHECKING:
    from data_platform.dbtools.service import DbtService

FORMS = (
    "state='prod' (a target of the profile), state='git:main' (a git revision; 'git:main@prod' "
    "parses it for target prod), or state='path/to/folder' (a folder holding manifest.json)"
)
GIT_TIMEOUT_S = 60
MAX_STATE_CHARS = 4096  # PATH_MAX: no longer text names a folder


@dataclass(frozen=True)
class Baseline:
    """A resolved baseline: the folder dbt's `--state` reads, and how it was made (said in answers)."""

    kind: str  # "folder" | "target" | "git"
    name: str  # as the caller wrote it
    path: Path  # folder holding manifest.json
    how: str  # one line: where the manifest comes from
    target: str | None = None  # the profile target whose relations the manifest names

    @property
    def manifest(self) -> Path:
        return self.path / "manifest.json"

    @property
    def label(self) -> str:
        """A short name for answers and ref names: the target, the revision, or `baseline`."""
        if self.kind == "target":
            return str(self.target)
        if self.kind == "git":
            return self.name.removeprefix("git:")
        return "baseline"


def targets_of(project: DbtProject) -> list[str]:
    return [str(k) for k in (profile_of(project).get("outputs") or {})]


def target_name(project: DbtProject, target: str | None, default: str | None) -> str:
    """The target a call runs on (target.target_name), named `default` where the profile's own
    `target:` is templated: a state is kept under a name, never under unrendered Jinja."""
    return named_target(project, target, default) or "default"


def recorded(project: DbtProject, target: str) -> Path:
    """Where the manifest of the last run/build on `target` is kept."""
    return project.validation_path / "state" / f"target-{_safe(target)}"


def record_run(project: DbtProject, target: str) -> None:
    """After a run/build on `target`: its manifest (what was built there) becomes that target's state."""
    src = project.target_path / "manifest.json"
    if not src.is_file():
        return
    dest = recorded(project, target)
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy2(src, dest / "manifest.json.tmp")
    (dest / "manifest.json.tmp").replace(dest / "manifest.json")


def _safe(text: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in text)[:80]


def resolve(service: DbtService, spec: str, call_target: str | None = None) -> Baseline:
    """`spec` in one of the FORMS; a git revision or a target is parsed when needed."""
    text = (spec or "").strip()
    if not text:
        raise InputError(f"state is empty. Give {FORMS}.")
    if "\x00" in text:  # no path, target or git revision holds one (git's argv cannot)
        raise InputError(f"state contains a NUL byte. Give {FORMS}.")
    if len(text) > MAX_STATE_CHARS:  # longer than any path Linux opens: not echoed back
        raise InputError(
            f"state is {len(text):,} characters long: no folder, target or revision is. Give {FORMS}."
        )
    project = service.project()
    targets = targets_of(project)
    if text.startswith("git:"):
        return _git(service, project, text[4:], targets, call_target, text)
    if text.startswith("target:"):
        return _target(service, project, text[7:], targets, text)
    folder = _folder(project, text)
    if folder is not None:
        return folder
    if text in targets:
        return _target(service, project, text, targets, text)
    if "/" not in text and _rev(project, text.split("@")[0]) is not None:
        return _git(service, project, text, targets, call_target, text)
    raise InputError(
        f"state={text!r} is not a folder holding manifest.json, a target of profile "
        f"{project.profile} ({', '.join(targets) or 'none found'}), or a git revision of the project.",
        hint=f"Give {FORMS}.",
    )


def _folder(project: DbtProject, text: str) -> Baseline | None:
    path = Path(text).expanduser()
    candidates = [path] if path.is_absolute() else [project.root / path, Path.cwd() / path]
    for p in candidates:
        try:
            if p.is_file() and p.name == "manifest.json":
                p = p.parent
            found = p.is_dir()
        except OSError:  # a name too long for the file system, a folder we may not read: not a state folder
            continue
        if found:
            if not (p / "manifest.json").is_file():
                raise InputError(
                    f"state folder {p} holds no manifest.json.",
                    hint="dbt writes it in target/ on every parse, run or build; copy it from the baseline's "
                    f"run. Or give {FORMS}.",
                )
            return Baseline("folder", text, p.resolve(), f"folder {p}")
    if "/" in text or text.startswith("."):
        raise InputError(f"state folder {text} does not exist.", hint=f"Give {FORMS}.")
    return None


def _parse(service: DbtService, root: Path, project: DbtProject, target: str, dest: Path, what: str) -> None:
    """`dbt parse` of the project at `root` for `target`, writing its manifest into `dest`."""
    args = [
        "parse",
        "--project-dir",
        str(root),
        "--profiles-dir",
        str(project.profiles_dir),
        "--target",
        target,
        "--target-path",
        str(dest),
        "--no-partial-parse",
    ]
    inv = service.inproc.invoke(args)
    if not inv.success or not (dest / "manifest.json").is_file():
        raise DbtError(
            f"dbt could not parse {what}.\n"
            + (findings_text(inv.errors or inv.findings) or "dbt gave no message."),
            hint=closing_hint(inv.errors or inv.findings, f"Check the baseline, or give another: {FORMS}."),
        )


def _target(service: DbtService, project: DbtProject, name: str, targets: list[str], spec: str) -> Baseline:
    if name not in targets:
        raise InputError(
            f"{name!r} is not a target of profile {project.profile} ({', '.join(targets)}).",
            hint=f"Give {FORMS}.",
        )
    kept = recorded(project, name)
    if (kept / "manifest.json").is_file():
        return Baseline(
            "target", spec, kept, f"target {name}: the manifest of the last run/build on {name}", name
        )
    dest = project.validation_path / "state" / f"parsed-{_safe(name)}"
    stamp = dest / "fingerprint"
    key = fingerprint(project, extra=name)
    if not (stamp.is_file() and stamp.read_text() == key and (dest / "manifest.json").is_file()):
        _parse(service, project.root, project, name, dest, f"the project for target {name}")
        stamp.write_text(key)
    return Baseline(
        "target",
        spec,
        dest,
        f"target {name}: no run on {name} recorded by this server, so the current code parsed for {name} "
        "(code changes cannot show; data can)",
        name,
    )


def _git_out(project: DbtProject, *args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", "-C", str(project.root), *args],
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def _rev(project: DbtProject, rev: str) -> str | None:
    if not rev or rev.startswith("-"):
        return None
    return _git_out(project, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}")


def _git(
    service: DbtService,
    project: DbtProject,
    text: str,
    targets: list[str],
    call_target: str | None,
    spec: str,
) -> Baseline:
    rev, _, at = text.rpartition("@") if "@" in text and "{" not in text else (text, "", "")
    if at and at not in targets:
        raise InputError(
            f"{at!r} in {spec!r} is not a target of profile {project.profile} ({', '.join(targets)})."
        )
    target = at or target_name(project, call_target, service.settings.dbt_target)
    sha = _rev(project, rev)
    if sha is None:
        where = _git_out(project, "rev-parse", "--show-toplevel")
        raise InputError(
            f"{rev!r} is not a git revision of {project.root}"
            + ("" if where else " (the project is not in a git repository)")
            + ".",
            hint=f"Give a branch, tag or commit (state='git:main'), or {FORMS}.",
        )
    dest = project.validation_path / "state" / f"git-{sha[:12]}-{_safe(target)}"
    if (dest / "manifest.json").is_file():
        return Baseline("git", spec, dest, f"git {rev} ({sha[:8]}) parsed for target {target}", target)
    prefix = _git_out(project, "rev-parse", "--show-prefix") or ""
    with tempfile.TemporaryDirectory(prefix="dp-dbt-state-") as tmp:
        _export(project, sha, prefix, Path(tmp))
        root = Path(tmp) / prefix
        if not (root / "dbt_project.yml").is_file():
            raise InputError(
                f"At {rev} ({sha[:8]}) there is no dbt_project.yml in {prefix or 'the repository root'}."
            )
        packages = project.root / "dbt_packages"
        if packages.is_dir() and not (root / "dbt_packages").exists():
            (root / "dbt_packages").symlink_to(packages, target_is_directory=True)
        _parse(service, root, project, target, dest, f"the project at git {rev} ({sha[:8]})")
    return Baseline("git", spec, dest, f"git {rev} ({sha[:8]}) parsed for target {target}", target)


def _export(project: DbtProject, sha: str, prefix: str, into: Path) -> None:
    """`git archive` of the project folder at `sha` (read from the object store only)."""
    cmd = ["git", "-C", str(project.root), "archive", "--format=tar", sha]
    if prefix:
        cmd += ["--", prefix]
    try:
        done = subprocess.run(cmd, capture_output=True, timeout=GIT_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise DbtError(f"git archive failed: {exc}.") from None
    if done.returncode != 0:
        raise DbtError(f"git archive {sha[:8]} failed: {done.stderr.decode(errors='replace').strip()[:300]}")
    with tarfile.open(fileobj=io.BytesIO(done.stdout)) as tar:
        tar.extractall(into, filter="data")


def state_args(baseline: Baseline | None, defer: bool) -> list[str]:
    """dbt's `--state` for a resolved baseline, and `--defer` (the tools defer whenever a state is
    given, as dbt Cloud does: a parent neither selected nor built here is read from the baseline)."""
    if baseline is None:
        return []
    return ["--state", str(baseline.path), *(["--defer"] if defer else [])]
