"""What changed between two manifests, and what it reaches: the lineage half of the impact review.

Read from the manifests only (no warehouse, no dbt call): a node is modified when its file's
checksum (a model's SQL, a seed's data), its config, its columns or contract, the tests attached
to it, or a macro it uses (through other macros too) differ from the baseline's; impacted nodes
are the current project's descendants of modified and new ones, with the tests that cover them.
Like dbt's `state:modified`, a config dbt renders per target (schema, database) is compared as
written (`unrendered_config`), so a baseline parsed for another target is not "modified" by it.
"""

from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass, field
from typing import Any

NODE_TYPES = ("model", "seed", "snapshot")
REASONS = ("sql", "data", "config", "columns", "contract", "tests", "macros")


@dataclass
class Changed:
    unique_id: str
    name: str
    resource_type: str
    reasons: list[str] = field(default_factory=list)  # REASONS; seeds' checksum is "data"
    detail: list[str] = field(default_factory=list)  # e.g. "macro cents_to_dollars", "column amount type"


@dataclass
class Impacted:
    unique_id: str
    name: str
    resource_type: str
    distance: int  # levels below the nearest modified/new node
    via: str  # that node's name


@dataclass
class StateDiff:
    modified: list[Changed]
    new: list[Changed]
    deleted: list[Changed]
    impacted: list[Impacted]
    tests: dict[str, list[str]]  # node name -> names of the tests that cover it (modified and impacted)
    nodes_compared: int

    @property
    def names(self) -> list[str]:
        """Modified, new and impacted nodes, in that order (names)."""
        return [c.name for c in self.modified + self.new] + [i.name for i in self.impacted]


def _items(manifest: dict[str, Any], types: tuple[str, ...] = NODE_TYPES) -> dict[str, dict[str, Any]]:
    return {uid: n for uid, n in (manifest.get("nodes") or {}).items() if n.get("resource_type") in types}


def _config(node: dict[str, Any]) -> str:
    conf = node.get("unrendered_config")
    if conf is None:
        conf = {k: v for k, v in (node.get("config") or {}).items() if k not in ("database", "schema")}
    return json.dumps(conf, sort_keys=True, default=str)


def _columns(node: dict[str, Any]) -> dict[str, str | None]:
    return {str(k).lower(): (c or {}).get("data_type") for k, c in (node.get("columns") or {}).items()}


def _contract(node: dict[str, Any]) -> str:
    contract = dict(node.get("contract") or {})
    contract.pop("checksum", None)
    return json.dumps([contract, node.get("constraints") or []], sort_keys=True, default=str)


def _attached_tests(manifest: dict[str, Any]) -> dict[str, dict[str, str]]:
    """node unique_id -> {test name: a signature of what the test checks}."""
    out: dict[str, dict[str, str]] = {}
    for n in (manifest.get("nodes") or {}).values():
        if n.get("resource_type") != "test":
            continue
        sig = json.dumps(
            [n.get("test_metadata"), (n.get("checksum") or {}).get("checksum"), _config(n)],
            sort_keys=True,
            default=str,
        )
        owners = (
            [n["attached_node"]] if n.get("attached_node") else (n.get("depends_on") or {}).get("nodes") or []
        )
        for owner in owners:
            out.setdefault(owner, {})[str(n.get("name"))] = sig
    return out


def _macro_changes(current: dict[str, Any], base: dict[str, Any]) -> set[str]:
    """Macros whose text differs from the baseline's, or that call one that does."""
    cur, old = current.get("macros") or {}, base.get("macros") or {}
    changed = {
        uid for uid, m in cur.items() if uid not in old or old[uid].get("macro_sql") != m.get("macro_sql")
    }
    grew = True
    while grew:
        grew = False
        for uid, m in cur.items():
            if uid not in changed and set((m.get("depends_on") or {}).get("macros") or []) & changed:
                changed.add(uid)
                grew = True
    return changed


def compare(current: dict[str, Any], base: dict[str, Any]) -> StateDiff:
    """Modified, new, deleted and impacted nodes of `current` against `base`."""
    cur, old = _items(current), _items(base)
    cur_tests, old_tests = _attached_tests(current), _attached_tests(base)
    macros = _macro_changes(current, base)
    macro_names = {uid: str((current.get("macros") or {})[uid].get("name")) for uid in macros}
    modified: list[Changed] = []
    for uid, node in cur.items():
        before = old.get(uid)
        if before is None:
            continue
        c = Changed(uid, str(node.get("name")), str(node.get("resource_type")))
        if (node.get("checksum") or {}) != (before.get("checksum") or {}):
            c.reasons.append("data" if c.resource_type == "seed" else "sql")
        if _config(node) != _config(before):
            c.reasons.append("config")
        now_cols, then_cols = _columns(node), _columns(before)
        if now_cols != then_cols:
            c.reasons.append("columns")
            c.detail += [
                f"column {k} "
                + ("added" if k not in then_cols else "removed" if k not in now_cols else "type")
                for k in sorted(set(now_cols) | set(then_cols))
                if now_cols.get(k, "\0") != then_cols.get(k, "\0")
            ][:5]
        if _contract(node) != _contract(before):
            c.reasons.append("contract")
        if cur_tests.get(uid, {}) != old_tests.get(uid, {}):
            c.reasons.append("tests")
            now_t, then_t = cur_tests.get(uid, {}), old_tests.get(uid, {})
            c.detail += [f"test {t} added" for t in sorted(set(now_t) - set(then_t))][:3]
            c.detail += [f"test {t} removed" for t in sorted(set(then_t) - set(now_t))][:3]
        used = [macro_names[m] for m in (node.get("depends_on") or {}).get("macros") or [] if m in macros]
        if used:
            c.reasons.append("macros")
            c.detail += [f"macro {m}" for m in used[:3]]
        if c.reasons:
            modified.append(c)
    new = [
        Changed(uid, str(n.get("name")), str(n.get("resource_type")), ["new"])
        for uid, n in cur.items()
        if uid not in old
    ]
    deleted = [
        Changed(uid, str(n.get("name")), str(n.get("resource_type")), ["deleted"])
        for uid, n in old.items()
        if uid not in cur
    ]
    for group in (modified, new, deleted):
        group.sort(key=lambda c: (c.resource_type != "seed", c.name))
    impacted = _downstream(current, [c.unique_id for c in modified + new])
    tests = {}
    for uid, name in [(c.unique_id, c.name) for c in modified + new] + [
        (i.unique_id, i.name) for i in impacted
    ]:
        names = sorted(cur_tests.get(uid, {}))
        if names and (uid in cur or uid.startswith("snapshot.")):
            tests[name] = names
    return StateDiff(modified, new, deleted, impacted, tests, len(cur))


def _downstream(manifest: dict[str, Any], roots: list[str]) -> list[Impacted]:
    """Descendants of `roots` (breadth first, nearest first), tests left out (they cover, not build)."""
    children = manifest.get("child_map") or {}
    items: dict[str, dict[str, Any]] = {}
    for section in ("nodes", "exposures", "metrics", "semantic_models", "saved_queries"):
        items.update(manifest.get(section) or {})
    seen = set(roots)
    names = {uid: str((items.get(uid) or {}).get("name") or uid) for uid in roots}
    queue = deque((r, 0, names[r]) for r in roots)
    out: list[Impacted] = []
    while queue:
        uid, depth, via = queue.popleft()
        for child in children.get(uid, []):
            item = items.get(child) or {}
            kind = str(item.get("resource_type") or child.split(".")[0])
            if child in seen or kind in ("test", "unit_test"):
                continue
            seen.add(child)
            out.append(Impacted(child, str(item.get("name") or child), kind, depth + 1, via))
            queue.append((child, depth + 1, via))
    return out
