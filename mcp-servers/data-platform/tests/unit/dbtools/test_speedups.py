"""What speedups.py relies on inside dbt, pinned: a dbt upgrade that moves it fails here."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from data_platform.config import load_settings
from data_platform.dbtools import speedups
from data_platform.dbtools.service import DbtService
from shopproject import copy_shop, duckdb_env


def _inspect_source() -> str:
    """dbt's own way, the reference: the first module on the stack that is not the flag module."""
    from dbt_common import behavior_flags

    for frame in inspect.stack():
        module = inspect.getmodule(frame[0])
        if module is not None and module.__name__ != behavior_flags.__name__:
            return module.__name__
    return "Unknown"


def test_a_flag_names_the_module_that_declared_it_as_dbt_would() -> None:
    from dbt_common.behavior_flags import BehaviorFlagRendered

    assert "_default_source" in inspect.getsource(BehaviorFlagRendered.__init__)  # where dbt asks
    speedups.apply()
    flag = BehaviorFlagRendered({"name": "some_flag", "default": False, "docs_url": "x"}, {})
    assert flag._behavior_change_event.flag_source == __name__ == _inspect_source()
    declared = BehaviorFlagRendered({"name": "f", "default": True, "docs_url": "x", "source": "pkg"}, {})
    assert declared._behavior_change_event.flag_source == "pkg"


def test_the_parse_caches_are_dbts_and_the_block_cache_keeps_nothing() -> None:
    import dbt.clients.jinja_static as static
    import dbt_common.clients.jinja as common_jinja
    import dbt_common.tests

    # The names speedups.py sets and reads, where dbt's code looks them up at each call.
    assert "_TESTING_BLOCKS_CACHE" in inspect.getsource(common_jinja.extract_toplevel_blocks)
    assert "_TESTING_PARSE_CACHE" in inspect.getsource(common_jinja.parse)
    assert "_TESTING_MACRO_CACHE" in inspect.getsource(static.statically_extract_macro_calls)
    speedups.apply()
    assert dbt_common.tests.test_caching_enabled()
    blocks = common_jinja._TESTING_BLOCKS_CACHE
    blocks[1] = ["kept?"]
    assert 1 not in blocks and len(blocks) == 0


@pytest.mark.slow
def test_full_parses_reuse_dbts_parsed_macros_and_the_caches_stay_bounded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every full parse after the first finds dbt's own macros parsed; past the bound they go."""
    import dbt_common.clients.jinja as common_jinja

    root = copy_shop(tmp_path)
    for key, value in duckdb_env(root, tmp_path / "w.duckdb").items():
        monkeypatch.setenv(key, value)
    service = DbtService(load_settings(project_dir=root, environ={"DBT_PROJECT_DIR": str(root)}))
    assert service.validate().ok
    cache = common_jinja._TESTING_PARSE_CACHE
    assert len(cache) > 400  # dbt's macros and the project's
    assert any("{% macro cents_to_dollars" in text for text in cache)
    monkeypatch.setattr(speedups, "CACHE_MAX_CHARS", 0)
    (root / "models" / "marts" / "new.sql").write_text("select 1 as n\n")  # a full parse again
    assert service.validate().ok
    assert len(cache) == 0
