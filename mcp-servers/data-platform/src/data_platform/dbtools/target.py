"""Which target and schemas a dbt command ran in, said in its answer: a result built in `dev`
is never read as `prod`, and a relation is looked for in the schema it is really in.

The target is the one asked for, else DATA_PLATFORM's configured one, else the profile's own
`target:` (read without rendering; a Jinja-made default is said as "the profile's default").
The schemas are the ones dbt resolved for the nodes concerned (the manifest's `database.schema`,
custom schemas included), not a guess from the profile.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from data_platform.dbtools.project import DbtProject

_BUILT = frozenset({"model", "seed", "snapshot"})
_TESTS = frozenset({"test", "unit_test"})
MAX_SCHEMAS = 5


@dataclass
class Where:
    target: str | None  # None: the profile's default, whose name is Jinja
    schemas: list[str]  # `database.schema`, as dbt resolved them for the nodes concerned

    def sentence(self, prefix: str = "Ran in") -> str:
        """`Ran in target dev, schema postgres.shop_1a2b.`"""
        target = f"target {self.target}" if self.target else "the profile's default target"
        if not self.schemas:
            return f"{prefix} {target}."
        shown = ", ".join(self.schemas[:MAX_SCHEMAS])
        more = f" (+{len(self.schemas) - MAX_SCHEMAS} more)" if len(self.schemas) > MAX_SCHEMAS else ""
        word = "schema" if len(self.schemas) == 1 else "schemas"
        return f"{prefix} {target}, {word} {shown}{more}."


def profile_of(project: DbtProject) -> dict:
    """The project's profile entry in profiles.yml, unrendered (target names are not Jinja)."""
    import yaml  # not at the server's start

    path = project.profiles_dir / "profiles.yml"
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        entry = data.get(project.profile or "") or {}
    except (OSError, yaml.YAMLError, AttributeError):
        return {}
    return entry if isinstance(entry, dict) else {}


def target_name(project: DbtProject, asked: str | None, configured: str | None) -> str | None:
    """The target dbt uses: the one asked for, the configured one, or the profile's `target:`."""
    if asked or configured:
        return asked or configured
    default = profile_of(project).get("target")
    return str(default) if isinstance(default, str) and "{{" not in default else None


def schemas_of(manifest: dict[str, Any] | None, uids: list[str] | None = None) -> list[str]:
    """`database.schema` of the given nodes (default: every node dbt builds), in first-seen order.
    A test counts as the relations it reads (its own audit schema is not where the data is)."""
    nodes = (manifest or {}).get("nodes") or {}
    found: dict[str, None] = {}
    for uid in uids if uids is not None else list(nodes):
        node = nodes.get(uid) or {}
        kind = node.get("resource_type")
        if kind in _TESTS:
            read = [nodes.get(u) or {} for u in (node.get("depends_on") or {}).get("nodes") or []]
        else:
            read = [node] if kind in _BUILT else []
        for n in read:
            if n.get("resource_type") in _BUILT and n.get("schema"):
                db = n.get("database")
                found[f"{db}.{n['schema']}" if db else str(n["schema"])] = None
    return list(found)


def where(
    project: DbtProject,
    asked: str | None,
    configured: str | None,
    manifest: dict[str, Any] | None,
    uids: list[str] | None = None,
) -> Where:
    return Where(target_name(project, asked, configured), schemas_of(manifest, uids))
