"""One model per concept: no result model in server/ re-types a core type field by field.

A tool's structured content is the core's own result (a dataclass pydantic serialises, or a
pydantic model); the server's model may extend it with text or bound it, never copy it
(docs/decisions.md). A copy is found by its field names: a server model whose fields are exactly
those of a core dataclass or model, without being a subclass of it, is a mirror. Before issue 24
part 3 this found eight (FindingModel, NodeModel, FailingRowsModel, ResourceModel, ColumnDiff,
ColumnStats, IndexAdviceResult, ListResult).
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import pkgutil

import pydantic

import data_platform


def _fields(cls: type) -> frozenset[str]:
    if dataclasses.is_dataclass(cls):
        return frozenset(f.name for f in dataclasses.fields(cls))
    return frozenset(cls.model_fields)  # type: ignore[attr-defined]


def _types() -> tuple[dict[type, str], dict[type, str]]:
    """(core, server): every dataclass and pydantic model defined in the package, by where it lives."""
    core: dict[type, str] = {}
    server: dict[type, str] = {}
    for info in pkgutil.walk_packages(data_platform.__path__, "data_platform."):
        if info.name.endswith("__main__"):
            continue
        module = importlib.import_module(info.name)
        for name, cls in vars(module).items():
            if not inspect.isclass(cls) or cls.__module__ != module.__name__:
                continue
            if dataclasses.is_dataclass(cls) or issubclass(cls, pydantic.BaseModel):
                where = server if info.name.startswith("data_platform.server.") else core
                where[cls] = f"{info.name}.{name}"
    return core, server


def test_no_server_model_copies_a_core_type() -> None:
    core, server = _types()
    assert len(core) > 50 and len(server) > 20  # the walk found the package
    mirrors = [
        f"{server[s]} copies {core[c]}"
        for s in server
        if issubclass(s, pydantic.BaseModel) and _fields(s)
        for c in core
        if _fields(s) == _fields(c) and not issubclass(s, c)
    ]
    assert not mirrors, "use the core type (or extend it) instead: " + "; ".join(mirrors)
