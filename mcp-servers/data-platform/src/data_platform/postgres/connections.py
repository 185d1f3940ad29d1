"""Named connections: dev, prod, a replica, each with its own policy, picked by `connection=`.

Where they come from (docs/connections.md), later wins key by key:
1. `~/.config/data-platform/connections.toml` (the user's, `$XDG_CONFIG_HOME` honoured);
2. `.data-platform/connections.toml` in the project;
3. `POSTGRES_URL_<NAME>` in the environment (its URL; the files may add a description...).
Today's settings (`POSTGRES_URL`/`DATABASE_URL`/`PG*`) are the connection named `default`.

    [connections.prod]
    url = "postgresql://reader:${PROD_PASSWORD}@db.example.com/shop"   # ${VAR}: from the environment
    description = "production replica"
    read_only = true          # sessions read-only; pg_execute and pg_load refused
    statement_timeout = 60    # seconds

The files are stat'ed on every call and re-read when they changed, so an edit needs no restart.
Each connection resolves to a copy of `Settings` whose `postgres` (and statement timeout) is that
connection's, so every PostgreSQL function works on any connection unchanged.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from data_platform.config import Settings, postgres_from_env
from data_platform.errors import DataPlatformError, InputError, NotConfiguredError, NotFoundError
from data_platform.tomlfiles import TomlFiles

DEFAULT = "default"
ENV_PREFIX = "POSTGRES_URL_"
_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_KEYS = {"url", "description", "read_only", "statement_timeout"}


@dataclass(frozen=True)
class Named:
    """One connection as declared; `problem` says why it cannot be used (reported on use)."""

    name: str
    source: str
    description: str | None = None
    read_only: bool = False
    settings: Settings | None = None
    problem: str | None = None

    def masked_url(self) -> str:
        pg = self.settings.postgres if self.settings else None
        return pg.masked_url() if pg else "(not usable)"


class Connections:
    """The connections of one server: files re-read when they change, resolved per call."""

    def __init__(self, settings: Settings) -> None:
        self.base = settings
        self._files = TomlFiles()

    # -- reading the files ------------------------------------------------------------------------
    def _read(self, path: Path) -> tuple[dict[str, dict[str, Any]], str | None]:
        """The `[connections.*]` tables of one file and its `default` key (the file parsed once a version)."""
        data = self._files.read(path, "docs/connections.md")
        conns = data.get("connections", {})
        if not isinstance(conns, dict) or not all(isinstance(v, dict) for v in conns.values()):
            raise InputError(
                f"{path}: expected [connections.<name>] tables with url = ..., description = ...",
                hint="See docs/connections.md.",
            )
        default = data.get("default")
        found = {str(k).lower(): dict(v) | {"_source": str(path)} for k, v in conns.items()}
        return found, default if isinstance(default, str) else None

    def _declared(self) -> tuple[dict[str, dict[str, Any]], str | None]:
        merged: dict[str, dict[str, Any]] = {}
        default: str | None = None
        for path in self.base.connection_files:
            found, chosen = self._read(path)
            default = chosen or default
            for name, entry in found.items():
                merged[name] = {**merged.get(name, {}), **entry}
        for var, value in self.base.environ.items():
            if var.startswith(ENV_PREFIX) and value and len(var) > len(ENV_PREFIX):
                name = var[len(ENV_PREFIX) :].lower()
                entry = merged.get(name, {})
                merged[name] = {**entry, "url": value, "_source": var, "_env_url": True}
        return merged, default

    # -- resolving --------------------------------------------------------------------------------
    def _named(self, name: str, entry: dict[str, Any]) -> Named:
        source = str(entry.get("_source", "?"))
        where = f"connection {name!r} ({source})"
        description = entry.get("description")
        read_only = entry.get("read_only", False)
        base = Named(name, source, str(description) if description else None, read_only is True)
        unknown = sorted(set(entry) - _KEYS - {"_source", "_env_url"})
        problem = None
        if not _NAME.match(name):
            problem = f"{where}: a name is lowercase letters, digits, _ or - (starting with a letter)"
        elif unknown:
            problem = f"{where}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(_KEYS))}"
        elif not isinstance(read_only, bool):
            problem = f"{where}: read_only must be true or false"
        elif not isinstance(entry.get("url"), str):
            problem = f'{where}: no url (url = "postgresql://..." or {ENV_PREFIX}{name.upper()})'
        if problem:
            return _replace(base, problem=problem)
        url = str(entry["url"])
        missing = [v for v in _VAR.findall(url) if v not in self.base.environ]
        if missing:
            return _replace(base, problem=f"{where}: ${{{missing[0]}}} is not set in the environment")
        url = _VAR.sub(lambda m: self.base.environ[m.group(1)], url)
        timeout = entry.get("statement_timeout", self.base.statement_timeout_s)
        if not isinstance(timeout, int | float) or isinstance(timeout, bool) or timeout <= 0:
            return _replace(base, problem=f"{where}: statement_timeout must be a number of seconds > 0")
        try:
            pg = postgres_from_env({"POSTGRES_URL": url})
        except DataPlatformError as exc:
            return _replace(base, problem=f"{where}: {exc.message.replace('POSTGRES_URL', 'url')}")
        assert pg is not None
        pg = pg.model_copy(update={"name": name, "read_only": base.read_only, "source": where})
        settings = self.base.model_copy(update={"postgres": pg, "statement_timeout_s": float(timeout)})
        return _replace(base, settings=settings)

    def all(self) -> dict[str, Named]:
        """Every connection by name, the default first (a configured default or one declared)."""
        declared, default = self._declared()
        out: dict[str, Named] = {}
        if self.base.postgres is not None:
            # POSTGRES_URL/PG* win; a file's [connections.default] may describe it or make it read-only.
            entry = declared.pop(DEFAULT, {})
            pg = self.base.postgres.model_copy(update={"read_only": entry.get("read_only") is True})
            description = entry.get("description")
            out[DEFAULT] = Named(
                DEFAULT,
                pg.source,
                str(description) if description else None,
                pg.read_only,
                self.base.model_copy(update={"postgres": pg}),
            )
        if DEFAULT not in out and default and default.lower() in declared:
            out[DEFAULT] = _replace(self._named(default.lower(), declared[default.lower()]), name=DEFAULT)
        for name in sorted(declared):
            out[name] = self._named(name, declared[name])
        return out

    def get(self, name: str | None) -> Named:
        """The named connection (None: the default), usable, else an error saying what exists."""
        key = (name or DEFAULT).strip().lower()
        found = self.all()
        named = found.get(key)
        if named is None:
            if key == DEFAULT:
                from data_platform.postgres.connection import HOW_TO_CONFIGURE

                others = f" Named connections: {', '.join(found)}; pass connection=..." if found else ""
                raise NotConfiguredError("PostgreSQL is not configured." + others, hint=HOW_TO_CONFIGURE)
            raise NotFoundError(
                f"No connection named {name!r}. Connections: {', '.join(found) or 'none'}.",
                hint="Declare one in .data-platform/connections.toml or as POSTGRES_URL_<NAME> "
                "(docs/connections.md); the file is re-read on the next call.",
            )
        if named.problem:
            raise InputError(named.problem, hint="See docs/connections.md.")
        return named

    def settings(self, name: str | None) -> Settings:
        """Settings for one call on that connection."""
        named = self.get(name)
        assert named.settings is not None
        return named.settings

    def secrets(self) -> list[str]:
        """Every password of every usable connection (for redaction), never raising."""
        values: set[str] = set(self.base.secret_values())
        try:
            for named in self.all().values():
                if named.settings is not None:
                    values.update(named.settings.secret_values())
        except DataPlatformError:
            pass
        return sorted(values, key=len, reverse=True)


def _replace(named: Named, **changes: Any) -> Named:
    return Named(**{**named.__dict__, **changes})
