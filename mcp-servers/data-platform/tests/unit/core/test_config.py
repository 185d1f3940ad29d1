"""Settings: three sources in order, libpq variables, secrets never shown."""

from __future__ import annotations

from pathlib import Path

import pytest

from data_platform.config import load_settings, parse_env_file
from data_platform.errors import InputError
from data_platform.redact import redact
from suitepaths import REPO


def test_sources_later_wins(tmp_path: Path) -> None:
    system = tmp_path / "postgres.env"
    system.write_text("POSTGRES_URL=postgresql://sys:syspw@syshost:5432/sysdb\nDATA_PLATFORM_MAX_ROWS=5\n")
    project = tmp_path / "proj"
    project.mkdir()
    (project / ".env").write_text("export DATA_PLATFORM_MAX_ROWS='7'\n# comment\nDBT_PROJECT_DIR=dbt\n")
    s = load_settings(project, {"DATA_PLATFORM_PREVIEW_ROWS": "3"}, system)
    assert s.postgres is not None and s.postgres.host == "syshost"
    assert (s.max_rows, s.preview_rows) == (7, 3)
    assert s.dbt_project_dir == project / "dbt"
    s2 = load_settings(project, {"DATA_PLATFORM_MAX_ROWS": "9"}, system)
    assert s2.max_rows == 9


def test_defaults(tmp_path: Path) -> None:
    s = load_settings(tmp_path, {}, tmp_path / "missing.env")
    assert s.max_rows == 100_000
    assert s.registry_dir == tmp_path.resolve() / ".data-platform"
    assert s.postgres is None
    assert tmp_path.resolve() in s.allowed_roots


def test_libpq_variables_fill_the_url(tmp_path: Path) -> None:
    env = {"DATABASE_URL": "postgresql://alice@db.example:6543/warehouse", "PGPASSWORD": "s3cr3t!"}
    pg = load_settings(tmp_path, env, tmp_path / "x").postgres
    assert pg is not None
    assert (pg.host, pg.port, pg.user, pg.dbname) == ("db.example", 6543, "alice", "warehouse")
    assert pg.url() == "postgresql://alice:s3cr3t%21@db.example:6543/warehouse"
    assert pg.masked_url() == "postgresql://alice:***@db.example:6543/warehouse"
    env2 = {"PGHOST": "h", "PGUSER": "u", "PGDATABASE": "d", "PGPORT": "5433", "PGPASSWORD": "pw"}
    pg2 = load_settings(tmp_path, env2, tmp_path / "x").postgres
    assert pg2 is not None and pg2.masked_url() == "postgresql://u:***@h:5433/d"


def test_password_never_in_repr(tmp_path: Path) -> None:
    s = load_settings(tmp_path, {"POSTGRES_URL": "postgresql://u:hunter2@h/d"}, tmp_path / "x")
    assert "hunter2" not in repr(s)
    assert "hunter2" not in str(s)
    assert "hunter2" not in s.model_dump_json()
    assert s.secret_values() == ["hunter2"]


def test_bad_values_are_clear(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="postgresql://"):
        load_settings(tmp_path, {"POSTGRES_URL": "mysql://x@y/z"}, tmp_path / "x")
    with pytest.raises(InputError, match="max_rows"):
        load_settings(tmp_path, {"DATA_PLATFORM_MAX_ROWS": "-4"}, tmp_path / "x")


def test_env_file_parsing(tmp_path: Path) -> None:
    f = tmp_path / ".env"
    f.write_text('A=1\nB="two words"\nC=3 # trailing\n bad line\nexport D=4\n')
    assert parse_env_file(f) == {"A": "1", "B": "two words", "C": "3", "D": "4"}


def test_redact() -> None:
    text = "connect postgresql://u:pa55@h:5432/d failed; password=pa55 dsn='x'"
    out = redact(text, ["pa55"])
    assert "pa55" not in out
    assert "postgresql://u:***@h:5432/d" in out
    assert redact("host=h password='a b' user=u") == "host=h password=*** user=u"


def test_every_setting_is_documented_in_the_readme() -> None:
    from data_platform.config import ENV_SETTINGS

    readme = (REPO / "README.md").read_text()
    for setting in ENV_SETTINGS:
        for name in setting.names:
            assert f"`{name}`" in readme, f"{name} is not documented in README.md"


def test_the_log_filter_redacts_secrets_of_files_read_after_start(tmp_path: Path) -> None:
    """`serve`'s log filter knows every secret the server can use, including those of files that
    appear or change while it runs: a named connection's password, a storage entry's secret, the
    AWS profile's secret key (the start-up settings know none of them)."""
    import logging

    from data_platform.cli import log_secrets
    from data_platform.redact import RedactingFilter

    project = tmp_path / "p"
    (project / ".data-platform").mkdir(parents=True)
    creds = tmp_path / "aws-credentials"
    creds.write_text("[lake]\naws_access_key_id = k\naws_secret_access_key = profile-Secret-1\n")
    (project / ".env").write_text(
        f"AWS_PROFILE=lake\nAWS_SHARED_CREDENTIALS_FILE={creds}\nLAKE_SECRET=entry-Secret-2\n"
    )
    settings = load_settings(project, {"HOME": str(tmp_path)}, system_file=tmp_path / "none.env")
    assert settings.secret_values() == []
    log_filter = RedactingFilter(log_secrets(settings))

    def logged(message: str) -> str:
        record = logging.LogRecord("t", logging.INFO, __file__, 1, message, None, None)
        assert log_filter.filter(record)
        return record.getMessage()

    assert logged("key profile-Secret-1") == "key ***"
    (project / ".data-platform" / "connections.toml").write_text(
        '[connections.prod]\nurl = "postgresql://u:pg-Secret-3@localhost/db"\n\n'
        '[storage.lake]\nurl = "s3://b/"\nkey = "k"\nsecret = "${LAKE_SECRET}"\n'
    )
    assert logged("saw pg-Secret-3 and entry-Secret-2 and profile-Secret-1") == "saw *** and *** and ***"
