"""What validating a dbt project found, and how findings are told in an error."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from data_platform.dbtools.findings import Finding, HasFindings
from data_platform.dbtools.project import DbtProject, project_files
from data_platform.dbtools.runner import QUIET_ENV

# Where dbt's messages name a file relative to a resource folder ("marts/schema.yml").
RESOURCE_DIRS = ("models", "seeds", "snapshots", "macros", "tests", "analyses")


@dataclass
class Validation(HasFindings):
    """The outcome of validating the project (a full or partial `dbt parse`)."""

    project: DbtProject
    findings: list[Finding]
    seconds: float
    cached: bool
    manifest_path: Path

    @property
    def ok(self) -> bool:
        return not self.errors


@dataclass
class Cached:
    fingerprint: str
    findings: list[Finding]
    # What else the last clean parse of these files depended on (see `stamp`); None: ask dbt.
    stamp: dict[str, Any] | None = None
    # That parse's dbt Manifest, in memory only (never saved): commands reuse it while `stamp` holds.
    manifest: Any = None


# Findings of the last full parse without errors, kept beside dbt's own partial-parse file so a
# new server process (a new session) needs only dbt's partial parse, not a full one, and none at
# all while its stamp holds.
SAVED_FILE = "validation-findings.json"
_FIELDS = {f.name for f in fields(Finding)}
MANIFEST = "manifest.json"
# `env_var('NAME')` in a project file or profiles.yml: a variable the parse may read.
ENV_CALL = re.compile(r"""env_var\(\s*['"]([^'"]+)['"]""")
SCANNED = {".sql", ".yml", ".yaml", ".md", ".jinja", ".py"}
SCAN_MAX_BYTES = 2_000_000


def manifest_stat(folder: Path) -> list[int] | None:
    """Size and mtime of the manifest a parse just wrote (read under dbt's lock: no other
    command of this server can have rewritten it in between)."""
    try:
        st = (folder / MANIFEST).stat()
    except OSError:
        return None
    return [st.st_size, st.st_mtime_ns]


def env_names(project: DbtProject, seen: Iterable[str] = ()) -> list[str]:
    """The environment variables a parse of `project` may read: those dbt saw (`seen`), every
    `env_var('NAME')` written in the project's files or profiles.yml, and dbt's own DBT_* ones."""
    names = set(seen) | {k for k in os.environ if k.startswith("DBT_")}
    for path in [*project_files(project), project.profiles_dir / "profiles.yml"]:
        if path.suffix not in SCANNED:
            continue
        try:
            if path.stat().st_size > SCAN_MAX_BYTES:
                continue
            names.update(ENV_CALL.findall(path.read_text(encoding="utf-8", errors="replace")))
        except OSError:
            continue
    return sorted(names)


def _env_digest(names: Iterable[str]) -> str:
    """One hash of these variables' values (never the values: the file may sit in a shared repo).
    The ones the server sets for dbt itself (QUIET_ENV, once dbt is imported) change no parse."""
    digest = hashlib.blake2b(digest_size=16)
    for name in sorted((set(names) | {k for k in os.environ if k.startswith("DBT_")}) - set(QUIET_ENV)):
        value = os.environ.get(name)
        digest.update(f"{name}\0{'-' if value is None else '+' + value}\n".encode())
    return digest.hexdigest()


def stamp(project: DbtProject, manifest: list[int] | None, seen: Iterable[str] = ()) -> dict[str, Any] | None:
    """What a clean parse depended on beyond the project's files (the fingerprint): the manifest
    it wrote, and the environment variables it may have read. None if it wrote no manifest."""
    if manifest is None:
        return None
    names = env_names(project, seen)
    return {"manifest": manifest, "env_names": names, "env": _env_digest(names)}


def unchanged(folder: Path, kept: dict[str, Any] | None) -> bool:
    """Whether a parse now would find what the stamped one found: the same manifest is still
    there (no other command rewrote it) and the variables it may read have the same values.
    Then dbt's own partial parse would parse nothing: the saved findings and manifest answer."""
    if not kept or not (folder / "partial_parse.msgpack").is_file():
        return False
    try:
        return (
            manifest_stat(folder) == list(kept["manifest"]) and _env_digest(kept["env_names"]) == kept["env"]
        )
    except (KeyError, TypeError):
        return False


def load_saved(folder: Path, key: str) -> Cached | None:
    """The findings saved for file state `key` (fingerprint plus dbt's version), if any."""
    try:
        data = json.loads((folder / SAVED_FILE).read_text(encoding="utf-8"))
        if data.get("fingerprint") != key or not (folder / "partial_parse.msgpack").is_file():
            return None
        found = [Finding(**{k: v for k, v in f.items() if k in _FIELDS}) for f in data["findings"]]
        kept = data.get("stamp")
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return None  # missing, damaged or from another version: parse in full
    if any(f.kind == "error" for f in found):
        return None
    return Cached(key, found, kept if isinstance(kept, dict) else None)


def save(folder: Path, cached: Cached) -> None:
    """Keep a clean parse's findings (never errors: they may come from the environment, which a
    fingerprint of files does not see). Written atomically; a failure only costs a full parse."""
    if any(f.kind == "error" for f in cached.findings):
        return
    data = {
        "fingerprint": cached.fingerprint,
        "findings": [f.as_dict() for f in cached.findings],
        "stamp": cached.stamp,
    }
    tmp = folder / f".{SAVED_FILE}.{os.getpid()}"
    with contextlib.suppress(OSError):
        folder.mkdir(parents=True, exist_ok=True)
        tmp.write_text(json.dumps(data), encoding="utf-8")
        os.replace(tmp, folder / SAVED_FILE)


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


def closing_hint(shown: list[Finding], default: str) -> str:
    """The closing advice of an error listing `shown`: not a second copy of a fix it already gives."""
    return "Then retry." if any(f.fix for f in shown[:8]) else default


def project_relative(finding: Finding, root: Path) -> Finding:
    """dbt names some files relative to their resource folder; name them from the project root."""
    if not finding.file or (root / finding.file).exists():
        return finding
    for folder in RESOURCE_DIRS:
        if (root / folder / finding.file).is_file():
            return replace(finding, file=f"{folder}/{finding.file}")
    return finding
