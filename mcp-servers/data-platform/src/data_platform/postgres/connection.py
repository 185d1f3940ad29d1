"""Connections that fail fast and clearly, and recover by themselves.

There is no pool: every call opens a new connection (a few ms on a LAN) and
closes it, so a database that went away and came back just works on the next
call, and a connection can never be left in a half-broken state. Failures are
classified into what the user must fix: no configuration, host unreachable,
authentication, or a missing database, each naming the setting to change.
"""

from __future__ import annotations

import contextlib
import re
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from data_platform.config import PostgresSettings, Settings
from data_platform.errors import ConnectionFailedError, DatabaseError, InputError, NotConfiguredError
from data_platform.redact import redact
from data_platform.work import on_cancel

if TYPE_CHECKING:
    import psycopg  # imported by the first connection: not at the server's start

HOW_TO_CONFIGURE = (
    "Set POSTGRES_URL (or DATABASE_URL), e.g. postgresql://user:password@localhost:5432/mydb, "
    "or the libpq variables PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE; in the environment, in "
    "~/.config/claude/postgres.env, or in the project's .env file. Then restart the server. "
    "Named connections: .data-platform/connections.toml or POSTGRES_URL_<NAME> (docs/connections.md)."
)

APP_NAME = "data-platform"


def require(settings: Settings) -> PostgresSettings:
    """The PostgreSQL settings, or NotConfiguredError saying how to configure them."""
    if settings.postgres is None:
        raise NotConfiguredError("PostgreSQL is not configured.", hint=HOW_TO_CONFIGURE)
    return settings.postgres


def require_writable(settings: Settings) -> None:
    """Refuse a write on a connection declared read_only, before connecting."""
    pg = require(settings)
    if pg.read_only:
        raise InputError(
            f"Connection {pg.name!r} is read-only: pg_execute and pg_load are refused on it.",
            hint="Use a connection that allows writes (pg_connect lists them), or change read_only "
            "where it is declared (docs/connections.md).",
            details={"reason": "read_only"},
        )


def _options(settings: Settings, read_only: bool) -> str:
    read_only = read_only or bool(settings.postgres and settings.postgres.read_only)
    timeout_ms = max(1, int(settings.statement_timeout_s * 1000))
    opts = f"-c statement_timeout={timeout_ms}"
    if read_only:
        # Every transaction of this session starts read-only; the SQL cannot undo it
        # without a SET, which the read-only check refuses anyway.
        opts += " -c default_transaction_read_only=on"
    return opts


def connect_timeout(settings: Settings) -> int:
    """libpq takes whole seconds (and treats < 2 as 2)."""
    return max(2, round(settings.connect_timeout_s))


def adbc_uri(settings: Settings, read_only: bool) -> str:
    """The libpq URI for the ADBC driver: password included, so never shown."""
    pg = require(settings)
    base = pg.url()
    sep = "&" if "?" in base else "?"
    extra = (
        f"connect_timeout={connect_timeout(settings)}&application_name={APP_NAME}"
        f"&options={quote(_options(settings, read_only), safe='')}"
    )
    return base + sep + extra


# Connection-level failures libpq reports without a SQLSTATE (no server answer to carry one):
# only for these is the message text read (`reason_of`).
_NO_CODE_TEXTS = {
    "auth_failed": ("password authentication failed", "no password supplied"),
    "unreachable": (
        "connection refused", "could not connect", "timeout expired", "could not translate host name",
        "name or service not known", "no route to host", "network is unreachable",
        "server closed the connection", "connection to server", "terminating connection",
        "consuming input failed", "the database system is", "connection is lost",
        "connection is closed", "eof detected",
    ),
}  # fmt: skip
_SQLSTATE = re.compile(r"SQLSTATE: ([0-9A-Z]{5})")


def sqlstate_of(exc: BaseException) -> str | None:
    """The error's SQLSTATE: psycopg's `sqlstate`/`diag`, ADBC's `sqlstate`, or the code ADBC
    puts in the text of errors met while streaming (they arrive as OSError)."""
    diag = getattr(exc, "diag", None)
    for code in (getattr(exc, "sqlstate", None), getattr(diag, "sqlstate", None)):
        if isinstance(code, str) and len(code) == 5 and code != "00000":
            return code
    found = _SQLSTATE.search(str(exc))
    return found.group(1) if found else None


def reason_of(exc: BaseException, sqlstate: str | None) -> str | None:
    """What the user must fix, by SQLSTATE class; the text only where the driver gave no code."""
    low = str(exc).lower()
    if sqlstate is not None:
        if sqlstate.startswith("28"):  # invalid_authorization_specification, invalid_password
            return "auth_failed"
        if sqlstate == "3D000":  # invalid_catalog_name
            return "database_missing"
        if sqlstate.startswith("08") or sqlstate in ("57P01", "57P02", "57P03"):  # connection, shutdown
            return "unreachable"
        if sqlstate == "57014":  # query_canceled: a timeout or a cancel request share the code
            return "cancelled" if "user request" in low else "timeout"
        return None
    if any(t in low for t in _NO_CODE_TEXTS["auth_failed"]):
        return "auth_failed"
    if re.search(r'\bdatabase "[^"]*" does not exist', low):  # not `relation "database_events" ...`
        return "database_missing"
    psycopg = sys.modules.get("psycopg")  # a psycopg error comes after psycopg was imported
    operational = psycopg is not None and isinstance(exc, psycopg.OperationalError)
    if operational or any(t in low for t in _NO_CODE_TEXTS["unreachable"]):
        return "unreachable"
    if "canceling statement due to" in low:
        return "cancelled" if "user request" in low else "timeout"
    return None


def classify(exc: BaseException, settings: Settings) -> DatabaseError:
    """Turn a driver error into an error that says what to fix, with secrets removed."""
    pg = settings.postgres
    text = redact(str(exc).strip() or type(exc).__name__, settings.secret_values())
    sqlstate = sqlstate_of(exc)
    reason = reason_of(exc, sqlstate)
    where = pg.masked_url() if pg else "PostgreSQL"
    source = pg.source if pg else "POSTGRES_URL"
    first = text.splitlines()[0][:300]
    if reason == "auth_failed":
        return ConnectionFailedError(
            f"PostgreSQL at {where} refused the login: {first}",
            hint=f"Fix the user/password in {source} (or PGUSER/PGPASSWORD).",
            details={"reason": reason, "sqlstate": sqlstate},
        )
    if reason == "database_missing":
        return ConnectionFailedError(
            f"The database in {where} does not exist: {first}",
            hint=f"Fix the database name in {source} (or PGDATABASE), or create it.",
            details={"reason": reason, "sqlstate": sqlstate},
        )
    if reason == "unreachable":
        return ConnectionFailedError(
            f"PostgreSQL at {where} cannot be reached: {first}",
            hint=f"Check that the server is running and the host/port in {source} (or PGHOST/PGPORT) "
            "are right; the next call reconnects by itself.",
            details={"reason": reason, "sqlstate": sqlstate},
        )
    if reason == "cancelled":
        return DatabaseError(
            "The statement was cancelled (the call or an administrator cancelled it); nothing was committed.",
            hint="Run it again if that was not intended.",
            details={"reason": reason, "sqlstate": sqlstate},
        )
    if reason == "timeout":
        return DatabaseError(
            f"The statement ran longer than {settings.statement_timeout_s:g} s and was cancelled.",
            hint="Narrow the query (WHERE, LIMIT, an index) or raise DATA_PLATFORM_STATEMENT_TIMEOUT.",
            details={"reason": reason, "sqlstate": sqlstate},
        )
    rest, excerpt = _excerpt(text)
    message = f"PostgreSQL error: {_trim(rest)}" + (f"\n{excerpt}" if excerpt else "")
    return DatabaseError(message, details={"sqlstate": sqlstate, "excerpt": bool(excerpt)})


_DRIVER_NOISE = re.compile(
    r"^(?:[A-Z_]+: )?(?:\[libpq\] )?(?:Failed to (?:prepare|execute) query[^:]*: )?"
    r"(?:could not begin COPY: )?(?:ERROR:\s+)?"
)


def _excerpt(text: str) -> tuple[str, str]:
    """The server's `LINE n: ...` line and its caret (the statement as received, near the error),
    apart from the rest of the message."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("LINE ") and i + 1 < len(lines) and lines[i + 1].strip() == "^":
            return "\n".join(lines[:i] + lines[i + 2 :]), f"{line[:200]}\n{lines[i + 1][:200]}"
    return text, ""


def _trim(text: str) -> str:
    """The server's message without driver prefixes, the echoed query or the SQLSTATE tail."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith("Query was:")]
    joined = _DRIVER_NOISE.sub("", " ".join(lines))
    joined = re.sub(r"\s*\.?\s*SQLSTATE: \w+\s*$", "", joined)
    return joined[:800]


@contextlib.contextmanager
def session(settings: Settings, *, read_only: bool = True) -> Iterator[psycopg.Connection[Any]]:
    """A fresh psycopg connection in a transaction; rolled back and closed on exit.

    Callers that write commit explicitly; everything else is rolled back.
    """
    import psycopg

    pg = require(settings)
    try:
        conn = psycopg.connect(
            pg.url(),
            connect_timeout=connect_timeout(settings),
            application_name=APP_NAME,
            options=_options(settings, read_only),
        )
    except psycopg.Error as exc:
        raise classify(exc, settings) from None
    try:
        # A cancelled call cancels its running statement (from the thread that cancels).
        with on_cancel(conn.cancel_safe):
            if read_only or pg.read_only:
                conn.execute("SET TRANSACTION READ ONLY")  # psycopg has already opened the transaction
            yield conn
    except psycopg.Error as exc:
        raise classify(exc, settings) from None
    finally:
        with contextlib.suppress(Exception):
            conn.rollback()
        with contextlib.suppress(Exception):
            conn.close()


class _Databases:
    """The ADBC driver's database objects, by URI, for the life of the process.

    A database object holds the driver's catalogue of the server's types, read by three catalogue
    queries when it is made (~80 ms: most of a small query's time). Connections made from it are
    new PostgreSQL sessions every time, as before; only the catalogue is kept. A type created
    after it was read arrives as `unnamed<oid:N>`: the caller asks for a fresh one (`refresh`).
    """

    MAX = 8  # named connections x read-only/writable

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._held: dict[str, Any] = {}  # uri -> the driver's shared database (one reference ours)

    def connect(self, uri: str, refresh: bool) -> Any:
        import adbc_driver_manager
        import adbc_driver_postgresql
        from adbc_driver_manager import dbapi

        if not shares_databases(dbapi):  # a driver release without the helper: as before it was kept
            import adbc_driver_postgresql.dbapi

            return adbc_driver_postgresql.dbapi.connect(uri)
        with self._lock:
            shared = self._held.pop(uri, None)
            if shared is not None and refresh:
                shared.close()  # our reference; connections still open keep it alive
                shared = None
            if shared is None:
                # The driver's own holder, so each connection counts a reference (closes last).
                shared = dbapi._SharedDatabase(adbc_driver_postgresql.connect(uri))
            while len(self._held) >= self.MAX:
                self._held.pop(next(iter(self._held))).close()
            self._held[uri] = shared  # most recently used last
            raw = shared._db
            shared.clone()  # the connection's reference, taken under the lock
        try:
            conn = adbc_driver_manager.AdbcConnection(raw)
        except BaseException:
            shared.close()
            raise
        try:
            return dbapi.Connection(shared, conn)
        finally:
            shared.close()  # Connection took its own reference (clone) above ours


def shares_databases(dbapi: Any) -> bool:
    """Whether the ADBC DB-API module has the private helper `_Databases` builds on (pinned by
    tests/unit/postgres/test_pg_unit.py): without it, every connection reads its own catalogue."""
    shared = getattr(dbapi, "_SharedDatabase", None)
    return shared is not None and all(hasattr(shared, a) for a in ("clone", "close"))


_DATABASES = _Databases()
UNKNOWN_TYPE = "unnamed<oid:"


def unknown_types(schema: Any) -> bool:
    """Whether a result has a type the driver's catalogue did not know (made after it was read)."""

    def unknown(field: Any) -> bool:
        meta = field.metadata or {}
        if meta.get(b"ADBC:postgresql:typname", b"").decode().startswith(UNKNOWN_TYPE):
            return True
        value = getattr(field.type, "value_field", None)
        return value is not None and unknown(value)

    return any(unknown(f) for f in schema)


@contextlib.contextmanager
def adbc_connection(settings: Settings, *, read_only: bool = True, refresh: bool = False) -> Iterator[Any]:
    """A fresh ADBC (Arrow-native) connection; rolled back and closed on exit.

    `refresh`: read the server's types again (unknown_types said the kept catalogue is old)."""
    import adbc_driver_manager

    uri = adbc_uri(settings, read_only)
    try:
        conn = _DATABASES.connect(uri, refresh)
    except adbc_driver_manager.Error as exc:
        raise classify(exc, settings) from None
    try:
        with on_cancel(conn.adbc_connection.cancel):  # as for `session`: a cancelled call stops the query
            if read_only or require(settings).read_only:
                # Explicit as well as the session default: the transaction ADBC opens is read-only.
                with conn.cursor() as cur:
                    cur.adbc_statement.set_options(**{"adbc.postgresql.use_copy": "false"})
                    cur.execute("SET TRANSACTION READ ONLY")
            yield conn
    except adbc_driver_manager.Error as exc:
        raise classify(exc, settings) from None
    except OSError as exc:
        # Errors met while streaming batches surface through Arrow's C stream as OSError.
        if "[libpq]" not in str(exc):
            raise
        raise classify(exc, settings) from None
    finally:
        with contextlib.suppress(Exception):
            conn.rollback()
        with contextlib.suppress(Exception):
            conn.close()


@dataclass
class Status:
    masked_url: str
    server_version: str
    database: str
    user: str
    postgis: str | None
    connect_ms: float
    latency_ms: float
    statement_timeout_s: float


def status(settings: Settings) -> Status:
    """Connect, ask who/where we are, and time the round trip."""
    pg = require(settings)
    start = time.perf_counter()
    with session(settings, read_only=True) as conn:
        connected = time.perf_counter()
        row = conn.execute(
            "select current_setting('server_version'), current_database(), current_user, "
            "(select extversion from pg_extension where extname = 'postgis')"
        ).fetchone()
        assert row is not None
        rtt = time.perf_counter() - connected
    return Status(
        masked_url=pg.masked_url(),
        server_version=row[0],
        database=row[1],
        user=row[2],
        postgis=row[3],
        connect_ms=round((connected - start) * 1000, 1),
        latency_ms=round(rtt * 1000, 2),
        statement_timeout_s=settings.statement_timeout_s,
    )
