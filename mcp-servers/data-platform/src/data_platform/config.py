"""One typed settings object, read from env files and the environment.

Sources, later wins: the system file `~/.config/claude/postgres.env`, the
project's `.env`, then the process environment. PostgreSQL is configured by
`POSTGRES_URL`, `DATABASE_URL` or the libpq variables (`PGHOST`...); a URL's
missing parts are filled from the libpq variables, as libpq itself does.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Literal
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from data_platform.errors import InputError

SYSTEM_ENV_FILE = Path("~/.config/claude/postgres.env")
Family = Literal["frames", "postgres", "dbt"]


class PostgresSettings(BaseModel):
    """Where PostgreSQL is; the password is a secret and never printed."""

    model_config = ConfigDict(frozen=True)

    host: str = "localhost"
    port: int = 5432
    user: str | None = None
    password: SecretStr | None = None
    dbname: str | None = None
    options: dict[str, str] = Field(default_factory=dict)
    source: str = "environment"

    def _url(self, password: str | None) -> str:
        auth = ""
        if self.user:
            auth = quote(self.user, safe="")
            if password is not None:
                auth += ":" + password
            auth += "@"
        host = f"[{self.host}]" if ":" in self.host else self.host
        if self.host.startswith("/"):
            # A Unix socket folder goes in the query, not the authority.
            query = urlencode({**self.options, "host": self.host})
            return f"postgresql://{auth}:{self.port}/{quote(self.dbname or '', safe='')}?{query}"
        url = f"postgresql://{auth}{host}:{self.port}/{quote(self.dbname or '', safe='')}"
        if self.options:
            url += "?" + urlencode(self.options)
        return url

    def url(self) -> str:
        """The connection URL with the password: for drivers only, never for output."""
        secret = self.password.get_secret_value() if self.password else None
        return self._url(quote(secret, safe="") if secret is not None else None)

    def masked_url(self) -> str:
        """The connection URL safe to show: the password replaced by ***."""
        return self._url("***" if self.password else None)

    def secret_values(self) -> list[str]:
        """Every form of the password that could leak into text."""
        if not self.password or not self.password.get_secret_value():
            return []
        raw = self.password.get_secret_value()
        return sorted({raw, quote(raw, safe="")}, key=len, reverse=True)


class Settings(BaseModel):
    """Everything the server and CLI need, resolved once."""

    model_config = ConfigDict(frozen=True)

    project_dir: Path
    registry_dir: Path
    max_rows: int = Field(100_000, ge=1)
    preview_rows: int = Field(10, ge=1, le=50)
    max_output_chars: int = Field(8_000, ge=1_000, le=100_000)
    allowed_roots: tuple[Path, ...] = ()
    postgres: PostgresSettings | None = None
    statement_timeout_s: float = Field(30.0, gt=0)
    connect_timeout_s: float = Field(5.0, gt=0)
    dbt_project_dir: Path | None = None
    dbt_profiles_dir: Path | None = None
    dbt_target: str | None = None
    dbt_timeout_s: float = Field(1800.0, gt=0)
    dbt_strict: bool = False
    sync_writes: bool = False
    disabled: frozenset[Family] = frozenset()
    duckdb_memory: str = Field("4GB", pattern=r"^\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)$")

    @field_validator("allowed_roots")
    @classmethod
    def _resolve_roots(cls, roots: tuple[Path, ...]) -> tuple[Path, ...]:
        return tuple(Path(r).expanduser().resolve() for r in roots)

    def secret_values(self) -> list[str]:
        return self.postgres.secret_values() if self.postgres else []


def parse_env_file(path: Path) -> dict[str, str]:
    """Read KEY=VALUE lines (optional `export`, quotes and # comments), as dotenv does."""
    values: dict[str, str] = {}
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return values
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        if line.startswith("export "):
            line = line[len("export ") :].lstrip()
        key, _, value = line.partition("=")
        key, value = key.strip(), value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        elif " #" in value:
            value = value.split(" #", 1)[0].rstrip()
        if key.isidentifier():
            values[key] = value
    return values


def merged_environment(
    project_dir: Path, environ: Mapping[str, str] | None = None, system_file: Path | None = None
) -> dict[str, str]:
    """System env file, then project `.env`, then the environment: later wins."""
    environ = os.environ if environ is None else environ
    merged: dict[str, str] = {}
    merged.update(parse_env_file((system_file or SYSTEM_ENV_FILE).expanduser()))
    merged.update(parse_env_file(project_dir / ".env"))
    merged.update(environ)
    return merged


_LIBPQ_VARS = ("PGHOST", "PGPORT", "PGUSER", "PGPASSWORD", "PGDATABASE")


def postgres_from_env(env: Mapping[str, str]) -> PostgresSettings | None:
    """PostgreSQL settings from a URL variable and/or the libpq variables, or None."""
    url_var = next((v for v in ("POSTGRES_URL", "DATABASE_URL") if env.get(v)), None)
    if url_var is None and not any(env.get(v) for v in _LIBPQ_VARS):
        return None
    fields: dict[str, object] = {}
    if url_var:
        parts = urlsplit(env[url_var])
        if parts.scheme not in ("postgres", "postgresql"):
            raise InputError(
                f"{url_var} must start with postgresql:// (got {parts.scheme or 'no scheme'}://).",
                hint="Example: postgresql://user:password@localhost:5432/mydb",
            )
        query = dict(parse_qsl(parts.query))
        try:
            port = parts.port
        except ValueError as exc:
            raise InputError(f"{url_var} has an invalid port.") from exc
        fields.update(
            host=parts.hostname or query.pop("host", None),
            port=port,
            user=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password is not None else None,
            dbname=unquote(parts.path.lstrip("/")) or None,
            options=query,
            source=url_var,
        )
    fallback = {
        "host": env.get("PGHOST"),
        "port": env.get("PGPORT"),
        "user": env.get("PGUSER"),
        "password": env.get("PGPASSWORD"),
        "dbname": env.get("PGDATABASE"),
    }
    for key, value in fallback.items():
        if fields.get(key) in (None, "") and value:
            fields[key] = value
    if "source" not in fields:
        fields["source"] = "PG* variables"
    clean = {k: v for k, v in fields.items() if v not in (None, "")}
    try:
        return PostgresSettings.model_validate(clean)
    except ValueError as exc:
        raise InputError("The PostgreSQL settings are invalid (check PGPORT / the URL's port).") from exc


def _bool(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def load_settings(
    project_dir: Path | None = None,
    environ: Mapping[str, str] | None = None,
    system_file: Path | None = None,
) -> Settings:
    """Resolve every setting from the three sources; raises InputError on a bad value."""
    project = (project_dir or Path.cwd()).resolve()
    env = merged_environment(project, environ, system_file)

    def path(name: str) -> Path | None:
        value = env.get(name)
        return (project / Path(value).expanduser()).resolve() if value else None

    roots_text = env.get("DATA_PLATFORM_ALLOWED_ROOTS")
    roots = (
        tuple(Path(p) for p in roots_text.split(os.pathsep) if p)
        if roots_text
        else (project, Path(tempfile.gettempdir()))
    )
    disabled = frozenset(x.strip() for x in env.get("DATA_PLATFORM_DISABLE", "").split(",") if x.strip())
    raw: dict[str, object] = {
        "project_dir": project,
        "registry_dir": path("DATA_PLATFORM_REGISTRY_DIR") or project / ".data-platform",
        "allowed_roots": roots,
        "postgres": postgres_from_env(env),
        "dbt_project_dir": path("DBT_PROJECT_DIR"),
        "dbt_profiles_dir": path("DBT_PROFILES_DIR"),
        "dbt_target": env.get("DBT_TARGET") or None,
        "dbt_strict": _bool(env.get("DATA_PLATFORM_DBT_STRICT")),
        "sync_writes": _bool(env.get("DATA_PLATFORM_SYNC_WRITES")),
        "disabled": disabled,
    }
    numeric = {
        "max_rows": "DATA_PLATFORM_MAX_ROWS",
        "preview_rows": "DATA_PLATFORM_PREVIEW_ROWS",
        "max_output_chars": "DATA_PLATFORM_MAX_OUTPUT_CHARS",
        "statement_timeout_s": "DATA_PLATFORM_STATEMENT_TIMEOUT",
        "connect_timeout_s": "DATA_PLATFORM_CONNECT_TIMEOUT",
        "dbt_timeout_s": "DATA_PLATFORM_DBT_TIMEOUT",
        "duckdb_memory": "DATA_PLATFORM_DUCKDB_MEMORY",
    }
    for field, var in numeric.items():
        if env.get(var):
            raw[field] = env[var]
    try:
        return Settings.model_validate(raw)
    except ValueError as exc:
        raise InputError(f"Invalid data-platform setting: {exc}") from exc


SETTINGS_DOC: dict[str, str] = {
    "POSTGRES_URL / DATABASE_URL": "PostgreSQL connection URL (postgresql://user:pass@host:5432/db).",
    "PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE": "libpq variables; fill what the URL leaves out.",
    "DATA_PLATFORM_REGISTRY_DIR": "Folder of stored data refs (default .data-platform/ in the project).",
    "DATA_PLATFORM_MAX_ROWS": "Row guard for one load or query result (default 100000).",
    "DATA_PLATFORM_PREVIEW_ROWS": "Rows shown in a preview table (default 10, at most 50).",
    "DATA_PLATFORM_MAX_OUTPUT_CHARS": "Upper bound on one tool result's text (default 8000).",
    "DATA_PLATFORM_SYNC_WRITES": "1 to wait for each new ref to be written and reach the disk before "
    "answering (default: a big ref's last batches and the fsync finish in the background).",
    "DATA_PLATFORM_ALLOWED_ROOTS": "Folders file tools may read/write, separated by ':' "
    "(default: the project folder and the system temp folder).",
    "DATA_PLATFORM_STATEMENT_TIMEOUT": "Seconds a SQL statement may run (default 30).",
    "DATA_PLATFORM_CONNECT_TIMEOUT": "Seconds to wait for PostgreSQL to answer a connect (default 5).",
    "DBT_PROJECT_DIR": "The dbt project folder (default: walk up from the working directory).",
    "DBT_PROFILES_DIR": "Folder holding profiles.yml (default: the project folder, then ~/.dbt).",
    "DBT_TARGET": "dbt target to use (default: the profile's own default).",
    "DATA_PLATFORM_DBT_TIMEOUT": "Seconds a dbt command may run (default 1800).",
    "DATA_PLATFORM_DBT_STRICT": "1 to refuse dbt runs when validation finds deprecations.",
    "DATA_PLATFORM_DISABLE": "Comma list of tool families to turn off: frames, postgres, dbt.",
    "DATA_PLATFORM_DUCKDB_MEMORY": "Memory limit of the sandboxed DuckDB for filter/sql (default 4GB).",
}
