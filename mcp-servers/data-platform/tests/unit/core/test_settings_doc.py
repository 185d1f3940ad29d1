"""Settings are declared once (config.ENV_SETTINGS): what load_settings reads, doctor's help and
the README's table all come from that list, and nothing is left out of it."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import pytest

from data_platform.cli import main
from data_platform.config import ENV_SETTINGS, EnvSetting, Settings, load_settings
from data_platform.errors import InputError
from data_platform.settings_doc import README_END, README_START, markdown_table, with_table
from suitepaths import REPO

README = REPO / "README.md"

# One valid, non-default value per variable: a new setting must be added here to be tested.
SAMPLES = {
    "DATA_PLATFORM_REGISTRY_DIR": ("refs", lambda s, p: s.registry_dir == p / "refs"),
    "DATA_PLATFORM_SYNC_WRITES": ("yes", lambda s, p: s.sync_writes is True),
    "DATA_PLATFORM_MAX_ROWS": ("12", lambda s, p: s.max_rows == 12),
    "DATA_PLATFORM_PREVIEW_ROWS": ("3", lambda s, p: s.preview_rows == 3),
    "DATA_PLATFORM_MAX_OUTPUT_CHARS": ("2000", lambda s, p: s.max_output_chars == 2000),
    "DATA_PLATFORM_ALLOWED_ROOTS": (
        "/srv/a:/srv/b",
        lambda s, p: s.allowed_roots == (Path("/srv/a"), Path("/srv/b")),
    ),
    "DATA_PLATFORM_STATEMENT_TIMEOUT": ("2.5", lambda s, p: s.statement_timeout_s == 2.5),
    "DATA_PLATFORM_CONNECT_TIMEOUT": ("3", lambda s, p: s.connect_timeout_s == 3.0),
    "DBT_PROJECT_DIR": ("dbt", lambda s, p: s.dbt_project_dir == p / "dbt"),
    "DBT_PROFILES_DIR": ("~/prof", lambda s, p: s.dbt_profiles_dir == Path("~/prof").expanduser().resolve()),
    "DBT_TARGET": ("ci", lambda s, p: s.dbt_target == "ci"),
    "DATA_PLATFORM_DBT_TIMEOUT": ("60", lambda s, p: s.dbt_timeout_s == 60.0),
    "DATA_PLATFORM_DBT_STRICT": ("1", lambda s, p: s.dbt_strict is True),
    "DATA_PLATFORM_DISABLE": (" dbt, postgres ", lambda s, p: s.disabled == {"dbt", "postgres"}),
    "DATA_PLATFORM_TOOLS": (" analyst, -chart,", lambda s, p: s.tools == ("analyst", "-chart")),
    "DATA_PLATFORM_DUCKDB_MEMORY": ("512MB", lambda s, p: s.duckdb_memory == "512MB"),
    "DATA_PLATFORM_HTTP_TOKEN": (
        "t0k",
        lambda s, p: s.http_token is not None and s.http_token.get_secret_value() == "t0k",
    ),
    "DATA_PLATFORM_PROMPTS": ("0", lambda s, p: s.prompts is False),
}


def test_every_settings_field_is_declared_once() -> None:
    fields = [s.field for s in ENV_SETTINGS if s.field]
    assert len(fields) == len(set(fields))
    # project_dir is the working directory; postgres is read from its group of variables; named
    # connections come from files and POSTGRES_URL_<NAME> (docs/connections.md).
    assert set(fields) == set(Settings.model_fields) - {
        "project_dir",
        "postgres",
        "connection_files",
        "environ",
    }
    names = [n for s in ENV_SETTINGS for n in s.names]
    assert len(names) == len(set(names))


@pytest.mark.parametrize("setting", [s for s in ENV_SETTINGS if s.field], ids=lambda s: s.names[0])
def test_load_settings_reads_each_declared_variable(setting: EnvSetting, tmp_path: Path) -> None:
    project = tmp_path.resolve()
    value, check = SAMPLES[setting.names[0]]
    default = load_settings(project, {}, tmp_path / "none.env")
    loaded = load_settings(project, {setting.names[0]: value}, tmp_path / "none.env")
    assert check(loaded, project), (setting.names[0], getattr(loaded, setting.field))
    assert not check(default, project)
    # empty means "not set": the default
    assert load_settings(project, {setting.names[0]: ""}, tmp_path / "none.env") == default


def test_a_bad_value_names_the_setting(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="duckdb_memory"):
        load_settings(tmp_path, {"DATA_PLATFORM_DUCKDB_MEMORY": "lots"}, tmp_path / "none.env")
    with pytest.raises(InputError, match="disabled"):
        load_settings(tmp_path, {"DATA_PLATFORM_DISABLE": "frames,pandas"}, tmp_path / "none.env")


def test_the_readme_table_is_the_generated_one() -> None:
    text = README.read_text(encoding="utf-8")
    assert with_table(text) == text, "stale: run `data-platform settings --readme README.md` in the repo root"
    table = text[text.index(README_START) : text.index(README_END)]
    for setting in ENV_SETTINGS:
        assert all(f"`{n}`" in table for n in setting.names)
    assert "| `DATA_PLATFORM_MAX_ROWS` | row guard for one load or query result (default: 100000) |" in table


def test_the_regeneration_command_rewrites_a_stale_table(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(f"# x\n\n{README_START}\n| old | table |\n{README_END}\n\nafter\n", encoding="utf-8")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["settings", "--readme", str(readme)]) == 0
    assert "updated" in out.getvalue()
    assert readme.read_text() == f"# x\n\n{README_START}\n{markdown_table()}\n{README_END}\n\nafter\n"
    assert "| old |" not in readme.read_text()


def test_doctor_help_lists_every_setting_with_its_default() -> None:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit):
        main(["doctor", "--help"])
    text = out.getvalue()
    for setting in ENV_SETTINGS:
        assert ", ".join(setting.names) in text
    assert "DATA_PLATFORM_DUCKDB_MEMORY\n      memory limit of the sandboxed DuckDB" in text
    assert "(default: 4GB)" in text and "`" not in text
