"""What every tool can reach: settings, the registry, and lazily built services."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from data_platform.config import Settings
from data_platform.frames.engine import Engine
from data_platform.lakes.storage import Storage
from data_platform.postgres.connections import Connections
from data_platform.registry import Registry
from data_platform.work import Running

T = TypeVar("T")


@dataclass
class AppState:
    """Lives for one server process; created in the lifespan, never global."""

    settings: Settings
    registry: Registry
    services: dict[str, Any] = field(default_factory=dict)
    closers: list[Callable[[], Any]] = field(default_factory=list)
    # This server's own locked DuckDB (filter, sql, groupby/join fallbacks): never shared
    # with another server in the process; opened on first use, closed at shutdown.
    sandbox: Engine = field(init=False)
    # Calls whose threads still run (a cancelled pyarrow sort runs on to its end): shutdown
    # cancels them and waits before closing what they use.
    running: Running = field(default_factory=Running)

    def __post_init__(self) -> None:
        self.sandbox = Engine(self.settings.duckdb_memory, timeout_s=self.settings.statement_timeout_s)
        self.closers.append(self.sandbox.close)

    def service(self, key: str, factory: Callable[[], T]) -> T:
        """The family's service object, built on first use (no DB connect at start-up)."""
        if key not in self.services:
            self.services[key] = factory()
            close = getattr(self.services[key], "close", None)
            if callable(close):
                self.closers.append(close)
        return self.services[key]

    def secrets(self) -> list[str]:
        """Every password this server knows (each connection's, each storage entry's)."""
        values = self.service("connections", lambda: Connections(self.settings)).secrets()
        return sorted({*values, *self.storage.secrets()}, key=len, reverse=True)

    @property
    def storage(self) -> Storage:
        """Object-storage entries and credentials (lakes/storage.py), files re-read when they change."""
        return self.service("storage", lambda: Storage(self.settings))


def connections_of(ctx: Any) -> Connections:
    """The server's named connections (files re-read when they change)."""
    from data_platform.server.boundary import state_of

    state = state_of(ctx)
    return state.service("connections", lambda: Connections(state.settings))  # as AppState.secrets
