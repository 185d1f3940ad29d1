"""What validating a dbt project found, and how findings are told in an error."""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass, fields, replace
from pathlib import Path

from data_platform.dbtools.findings import Finding, HasFindings
from data_platform.dbtools.project import DbtProject

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


# Findings of the last full parse without errors, kept beside dbt's own partial-parse file so a
# new server process (a new session) needs only dbt's partial parse, not a full one.
SAVED_FILE = "validation-findings.json"
_FIELDS = {f.name for f in fields(Finding)}


def load_saved(folder: Path, key: str) -> Cached | None:
    """The findings saved for file state `key` (fingerprint plus dbt's version), if any."""
    try:
        data = json.loads((folder / SAVED_FILE).read_text(encoding="utf-8"))
        if data.get("fingerprint") != key or not (folder / "partial_parse.msgpack").is_file():
            return None
        found = [Finding(**{k: v for k, v in f.items() if k in _FIELDS}) for f in data["findings"]]
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return None  # missing, damaged or from another version: parse in full
    if any(f.kind == "error" for f in found):
        return None
    return Cached(key, found)


def save(folder: Path, cached: Cached) -> None:
    """Keep a clean parse's findings (never errors: they may come from the environment, which a
    fingerprint of files does not see). Written atomically; a failure only costs a full parse."""
    if any(f.kind == "error" for f in cached.findings):
        return
    data = {"fingerprint": cached.fingerprint, "findings": [f.as_dict() for f in cached.findings]}
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
