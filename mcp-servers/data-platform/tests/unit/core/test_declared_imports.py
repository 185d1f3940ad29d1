"""Every third-party module src/ imports comes from a distribution pyproject.toml declares.

An undeclared import works only while some other package happens to pull it in (yaml came
with dbt-core); the day that package drops it, the server fails at the import.
"""

from __future__ import annotations

import ast
import functools
import importlib.metadata as metadata
import re
import sys
import tomllib

from suitepaths import PROJECT

ROOT = PROJECT
SRC = ROOT / "src" / "data_platform"


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def declared() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return {_norm(re.split(r"[\s<>=!~;\[(]", d, maxsplit=1)[0]) for d in project["dependencies"]}


def imported_modules() -> dict[str, set[str]]:
    """Dotted module -> files of src/ that import it (absolute imports of other packages only)."""
    found: dict[str, set[str]] = {}
    for path in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top != "data_platform":
                    found.setdefault(name, set()).add(str(path.relative_to(ROOT)))
    return found


@functools.cache
def _distributions() -> dict[str, list[str]]:
    """Top-level module -> distributions (a scan of every installed one: ~0.2 s, so once)."""
    return metadata.packages_distributions()


@functools.cache
def _files(dist: str) -> list[str]:
    return [str(f) for f in metadata.files(dist) or []]


def providers(module: str) -> set[str]:
    """The installed distributions that ship `module` (a namespace package narrowed by its file)."""
    top = module.split(".")[0]
    candidates = set(_distributions().get(top, []))
    if len(candidates) <= 1:
        return {_norm(c) for c in candidates}
    # A namespace shared by several distributions (dbt, google): the one shipping the subpackage.
    sub = "/".join(module.split(".")[:2])
    owners = set()
    for dist in candidates:
        if any(f.startswith(sub + "/") or f == sub + ".py" for f in _files(dist)):
            owners.add(_norm(dist))
    return owners


def test_every_third_party_import_of_src_is_declared() -> None:
    have = declared()
    missing = {}
    for module, files in sorted(imported_modules().items()):
        owners = providers(module)
        assert owners, f"{module} (imported by {sorted(files)}) is not installed"
        if not owners & have:
            missing[module] = (sorted(owners), sorted(files))
    assert not missing, f"declare these in pyproject.toml [project] dependencies: {missing}"


def test_the_check_sees_what_it_must() -> None:
    modules = imported_modules()
    assert "yaml" in modules and "pyarrow" in modules and "dbt.cli.main" in modules
    assert providers("yaml") == {"pyyaml"}
    assert providers("dbt.cli.main") == {"dbt-core"}
    assert providers("google.protobuf.json_format") == {"protobuf"}
    assert "pyyaml" in declared() and "psycopg" in declared()
