"""A tool family whose module is missing stops the server at start; it is never skipped quietly."""

from __future__ import annotations

from pathlib import Path

import pytest
from mcp.server.mcpserver import MCPServer

from data_platform.config import Settings, load_settings
from data_platform.server import app


def _settings(tmp_path: Path, env: dict[str, str] | None = None) -> Settings:
    return load_settings(tmp_path, env or {}, system_file=tmp_path / "none.env")


async def _tool_names(server: MCPServer) -> set[str]:
    return {t.name for t in await server.list_tools()}


def test_a_missing_family_module_is_an_error_at_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.FAMILY_MODULES, "dbt", ("data_platform.server.renamed_dbt_tools",))
    with pytest.raises(ModuleNotFoundError, match="Tool family 'dbt' cannot start") as err:
        app.build_server(_settings(tmp_path))
    assert "DATA_PLATFORM_DISABLE=dbt" in str(err.value)
    assert err.value.name == "data_platform.server.renamed_dbt_tools"


@pytest.mark.anyio
async def test_a_disabled_family_is_not_imported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(app.FAMILY_MODULES, "dbt", ("data_platform.server.renamed_dbt_tools",))
    server = app.build_server(_settings(tmp_path, {"DATA_PLATFORM_DISABLE": "dbt"}))
    names = await _tool_names(server)
    assert "read_csv" in names and "pg_query" in names
    assert not any(n.startswith("dbt_") for n in names)


@pytest.mark.anyio
async def test_every_declared_family_registers_its_tools(tmp_path: Path) -> None:
    names = await _tool_names(app.build_server(_settings(tmp_path)))
    assert {"list_data", "read_csv", "pg_query", "dbt_run"} <= names
