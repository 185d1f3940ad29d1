"""One typed settings object, read from env files and the environment.

Sources, later wins: the system file `~/.config/claude/postgres.env`, the
project's `.env`, then the process environment. PostgreSQL is configured by
`POSTGRES_URL`, `DATABASE_URL` or the libpq variables (`PGHOST`...); a URL's
missing parts are filled from the libpq variables, as libpq itself does.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
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
    name: str = "default"  # the connection's name (docs/connections.md)
    read_only: bool = False  # every session read-only; pg_execute and pg_load refused

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
    tools: tuple[str, ...] = ()  # toolset and tool names to serve, `-name` to leave out (server/toolsets.py)
    duckdb_memory: str = Field("4GB", pattern=r"^\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)$")
    http_token: SecretStr | None = None
    prompts: bool = True
    # Named connections (postgres/connections.py): the files declaring them, later wins, and the
    # merged environment for POSTGRES_URL_<NAME> and ${VAR} in the files. Never shown or dumped.
    connection_files: tuple[Path, ...] = ()
    environ: dict[str, str] = Field(default_factory=dict, repr=False, exclude=True)

    @field_validator("allowed_roots")
    @classmethod
    def _resolve_roots(cls, roots: tuple[Path, ...]) -> tuple[Path, ...]:
        return tuple(Path(r).expanduser().resolve() for r in roots)

    def secret_values(self) -> list[str]:
        values = self.postgres.secret_values() if self.postgres else []
        if self.http_token and self.http_token.get_secret_value():
            values.append(self.http_token.get_secret_value())
        for var in ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AZURE_STORAGE_ACCOUNT_KEY"):
            if len(self.environ.get(var, "")) >= 4:  # object storage (docs/lakes.md): logs too
                values.append(self.environ[var])
        return sorted(set(values), key=len, reverse=True)


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


CONNECTIONS_FILE = "connections.toml"


def user_config_dir(env: Mapping[str, str]) -> Path:
    """`$XDG_CONFIG_HOME/data-platform`, else `~/.config/data-platform` (HOME from `env`)."""
    base = env.get("XDG_CONFIG_HOME") or str(Path(env.get("HOME") or Path.home()) / ".config")
    return Path(base).expanduser() / "data-platform"


URL_VARS = ("POSTGRES_URL", "DATABASE_URL")
_LIBPQ_VARS = ("PGHOST", "PGPORT", "PGUSER", "PGPASSWORD", "PGDATABASE")


def postgres_from_env(env: Mapping[str, str]) -> PostgresSettings | None:
    """PostgreSQL settings from a URL variable and/or the libpq variables, or None."""
    url_var = next((v for v in URL_VARS if env.get(v)), None)
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


@dataclass(frozen=True)
class EnvSetting:
    """One setting as the user meets it: its variable(s), what it does, its default.

    `ENV_SETTINGS` below is the only list: `load_settings` reads the variables from it,
    and `data-platform doctor --help` and the README's table are generated from it
    (`data-platform settings --readme README.md` rewrites the table; a test compares).
    """

    names: tuple[str, ...]  # environment variables; several = alternatives or parts of one setting
    doc: str  # Markdown (`code` allowed); the default is appended
    field: str | None = None  # the Settings field the variable fills (None: read as a group below)
    parse: Callable[[str, Path], object] | None = None  # (text, project) -> value; None: the text
    default: str | None = None  # the default in words, when it is not Settings' own value

    def default_text(self) -> str | None:
        if self.default is not None or self.field is None:
            return self.default
        value = Settings.model_fields[self.field].default
        if isinstance(value, bool) or value in (None, "", (), frozenset()):
            return None
        return f"{value:g}" if isinstance(value, float) else str(value)


def _bool(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def _project_path(value: str, project: Path) -> Path:
    return (project / Path(value).expanduser()).resolve()


def _roots(value: str, _: Path) -> tuple[Path, ...]:
    return tuple(Path(p) for p in value.split(os.pathsep) if p)


def comma_list(value: str) -> tuple[str, ...]:
    """`"a, b,,c"` -> ("a", "b", "c")."""
    return tuple(x.strip() for x in value.split(",") if x.strip())


def _families(value: str, _: Path) -> frozenset[str]:
    return frozenset(comma_list(value))


ENV_SETTINGS: tuple[EnvSetting, ...] = (
    EnvSetting(URL_VARS, "PostgreSQL connection URL (`postgresql://user:pass@host:5432/db`)"),
    EnvSetting(_LIBPQ_VARS, "libpq variables; fill what the URL leaves out"),
    EnvSetting(
        ("POSTGRES_URL_<NAME>",),
        'a named connection, e.g. `POSTGRES_URL_PROD` is `connection="prod"`; more in '
        "`.data-platform/connections.toml` and `~/.config/data-platform/connections.toml` "
        "(docs/connections.md)",
    ),
    EnvSetting(
        ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_REGION", "AWS_PROFILE"),
        "object storage (`s3://`) credentials, as the AWS tools read them; `[storage.NAME]` entries "
        "(endpoint, `${VAR}` keys, `read_only`) and `[iceberg.NAME]` catalogs go in `connections.toml` "
        "(docs/lakes.md)",
    ),
    EnvSetting(
        ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"),
        "an S3-compatible endpoint (MinIO, R2, `http://127.0.0.1:9000`) for `s3://` URLs",
    ),
    EnvSetting(
        ("DATA_PLATFORM_REGISTRY_DIR",),
        "folder of stored refs; a `.gitignore` inside keeps it out of git",
        "registry_dir",
        _project_path,
        default="`.data-platform/` in the project",
    ),
    EnvSetting(
        ("DATA_PLATFORM_SYNC_WRITES",),
        "`1` to wait for each new ref to be written and reach the disk before answering (default: the "
        "ref is published at once; a big ref's last batches are copied, and every ref is flushed to "
        "disk, in the background, while readers wait on its lock; see docs/decisions.md)",
        "sync_writes",
        lambda v, _: _bool(v),
    ),
    EnvSetting(("DATA_PLATFORM_MAX_ROWS",), "row guard for one load or query result", "max_rows"),
    EnvSetting(("DATA_PLATFORM_PREVIEW_ROWS",), "rows in a preview table, at most 50", "preview_rows"),
    EnvSetting(
        ("DATA_PLATFORM_MAX_OUTPUT_CHARS",), "upper bound on one tool result's text", "max_output_chars"
    ),
    EnvSetting(
        ("DATA_PLATFORM_ALLOWED_ROOTS",),
        "folders file tools may read/write, `:`-separated",
        "allowed_roots",
        _roots,
        default="project + temp folder",
    ),
    EnvSetting(
        ("DATA_PLATFORM_STATEMENT_TIMEOUT",), "seconds a SQL statement may run", "statement_timeout_s"
    ),
    EnvSetting(
        ("DATA_PLATFORM_CONNECT_TIMEOUT",), "seconds to wait for PostgreSQL to answer", "connect_timeout_s"
    ),
    EnvSetting(
        ("DBT_PROJECT_DIR",),
        "the dbt project folder",
        "dbt_project_dir",
        _project_path,
        default="walk up from the working directory",
    ),
    EnvSetting(
        ("DBT_PROFILES_DIR",),
        "folder holding `profiles.yml`",
        "dbt_profiles_dir",
        _project_path,
        default="the project folder, then `~/.dbt`",
    ),
    EnvSetting(("DBT_TARGET",), "dbt target", "dbt_target", default="the profile's own target"),
    EnvSetting(("DATA_PLATFORM_DBT_TIMEOUT",), "seconds a dbt command may run", "dbt_timeout_s"),
    EnvSetting(
        ("DATA_PLATFORM_DBT_STRICT",),
        "`1` to refuse dbt runs when validation finds deprecations",
        "dbt_strict",
        lambda v, _: _bool(v),
    ),
    EnvSetting(
        ("DATA_PLATFORM_DISABLE",),
        "tool families to turn off (`frames`, `postgres`, `dbt`), comma-separated, e.g. `dbt,postgres`",
        "disabled",
        _families,
    ),
    EnvSetting(
        ("DATA_PLATFORM_TOOLS",),
        "toolsets and tools to serve, comma-separated; `-name` leaves one out: `analyst,postgres`, "
        "`read-only`, `all,-pg_execute`. Sets: `all`, `analyst`, `frames`, `postgres`, `dbt`, `read-only` "
        "(docs/toolsets.md; `serve --tools` wins)",
        "tools",
        lambda v, _: comma_list(v),
        default="`all`",
    ),
    EnvSetting(
        ("DATA_PLATFORM_DUCKDB_MEMORY",),
        "memory limit of the sandboxed DuckDB used by filter/sql/joins",
        "duckdb_memory",
    ),
    EnvSetting(
        ("DATA_PLATFORM_HTTP_TOKEN",),
        "bearer token for `serve --http`: required to listen beyond loopback, checked on every request "
        "when set",
        "http_token",
    ),
    EnvSetting(
        ("DATA_PLATFORM_PROMPTS",),
        "`0` to serve no MCP prompts: the plugin sets it, as Claude Code would show each of its slash "
        "commands twice (its own and the server's prompt)",
        "prompts",
        lambda v, _: _bool(v),
        default="`1`",
    ),
)


def load_settings(
    project_dir: Path | None = None,
    environ: Mapping[str, str] | None = None,
    system_file: Path | None = None,
) -> Settings:
    """Resolve every setting from the three sources; raises InputError on a bad value."""
    project = (project_dir or Path.cwd()).resolve()
    env = merged_environment(project, environ, system_file)
    raw: dict[str, object] = {
        "project_dir": project,
        "registry_dir": project / ".data-platform",
        "allowed_roots": (project, Path(tempfile.gettempdir())),
        "postgres": postgres_from_env(env),  # URL_VARS and the libpq variables, read together
        "connection_files": (
            user_config_dir(env) / CONNECTIONS_FILE,
            project / ".data-platform" / CONNECTIONS_FILE,
        ),
        "environ": {k: v for k, v in env.items() if v},  # unset or empty: not set
    }
    for setting in ENV_SETTINGS:
        text = env.get(setting.names[0]) if setting.field else None
        if setting.field and text:  # unset or empty: the default
            raw[setting.field] = setting.parse(text, project) if setting.parse else text
    try:
        return Settings.model_validate(raw)
    except ValueError as exc:
        raise InputError(f"Invalid data-platform setting: {exc}") from exc
