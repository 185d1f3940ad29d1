"""A locked-down DuckDB connection over Arrow tables, for expressions a model wrote.

The sandbox is the connection itself, so it holds whatever the SQL says:
no file or network access (`enable_external_access=false` also disables
`read_csv`, `COPY`, `ATTACH`, `glob`...), no extension install or load, and
the configuration locked so `SET` cannot undo any of it. On top of that,
`check_select` allows exactly one SELECT statement (layer two), and filter
expressions are first parsed by `expr.py` into a whitelisted AST (layer three).
The tables are registered zero-copy from memory-mapped refs.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING

import pyarrow as pa

from data_platform.errors import ExpressionError, InputError
from data_platform.work import CancelledError, Step, check, current, on_cancel, probing

if TYPE_CHECKING:
    import duckdb  # imported by the first call that needs it: not at the server's start

DEFAULT_MEMORY = "4GB"
PROGRESS_CURSORS = 4  # calls at once that report DuckDB's own progress; more get a plain cursor


def locked_connection(
    memory_limit: str = DEFAULT_MEMORY, threads: int | None = None, *, progress_cursors: int = 0
) -> tuple[duckdb.DuckDBPyConnection, list[duckdb.DuckDBPyConnection]]:
    """A fresh in-memory DuckDB that can see only the tables registered on it, and cursors on it
    that track their query's progress.

    Progress tracking is a per-cursor setting, and the locked configuration refuses every
    `SET`: so those cursors are made and set up before the lock, which comes last.
    """
    import duckdb

    con = duckdb.connect(":memory:", config=_locked_config(memory_limit, threads))
    cursors = []
    for _ in range(progress_cursors):
        cur = con.cursor()
        cur.execute("SET enable_progress_bar = true; SET enable_progress_bar_print = false")
        cursors.append(cur)
    con.execute("SET lock_configuration = true")
    return con, cursors


def _locked_config(memory_limit: str, threads: int | None) -> dict[str, str | bool | int | float | list[str]]:
    return {
        "enable_external_access": False,
        "autoinstall_known_extensions": False,
        "autoload_known_extensions": False,
        "allow_community_extensions": False,
        "allow_unsigned_extensions": False,
        "memory_limit": memory_limit,
        "threads": threads or max(1, os.cpu_count() or 1),
    }


def locked_file_connection(path: str, memory_limit: str = DEFAULT_MEMORY) -> duckdb.DuckDBPyConnection:
    """A database file opened read-only with the same lock-down: it can read that file and nothing else
    (dbt_show on a dbt-duckdb target)."""
    import duckdb

    con = duckdb.connect(path, read_only=True, config=_locked_config(memory_limit, None))
    con.execute("SET lock_configuration = true")
    return con


class Engine:
    """One locked in-memory DuckDB with its own memory limit, owned by whoever built it.

    The server keeps one in its state (closed at shutdown), so two servers in one
    process never share a database or a limit. A CLI or test builds its own, or
    passes none to an operation, which then uses a throwaway one (`scoped`). The
    database opens on first use: opening costs ~60 ms, a cursor on it ~1 ms.
    """

    def __init__(
        self, memory_limit: str = DEFAULT_MEMORY, threads: int | None = None, timeout_s: float | None = None
    ) -> None:
        self.memory_limit = memory_limit
        self.threads = threads
        self.timeout_s = timeout_s  # the statement timeout of `run` (None: none)
        self._con: duckdb.DuckDBPyConnection | None = None
        self._idle: list[duckdb.DuckDBPyConnection] = []  # progress-tracking cursors not in use
        self._lock = threading.Lock()
        self._closed = False

    def _cursor(self) -> tuple[duckdb.DuckDBPyConnection, bool]:
        """An idle progress-tracking cursor (True), else a plain new one (False)."""
        with self._lock:
            if self._closed:  # a late thread of a cancelled call: never reopen (and leak) it
                raise CancelledError("The call was cancelled: the server is shutting down.")
            if self._con is None:
                self._con, self._idle = locked_connection(
                    self.memory_limit, self.threads, progress_cursors=PROGRESS_CURSORS
                )
            if self._idle:
                return self._idle.pop(), True
            return self._con.cursor(), False

    @contextmanager
    def over(self, tables: Mapping[str, pa.Table]) -> Iterator[duckdb.DuckDBPyConnection]:
        """A cursor on the locked database with each table visible under its name, to this cursor only.

        While inside, the call's progress is DuckDB's own estimate of the running query (a
        percentage), and cancelling the call interrupts it.
        """
        con, pooled = self._cursor()
        try:
            for name in tables:
                con.register(name, tables[name])
            with on_cancel(con.interrupt), probing(query_progress(con) if pooled else None):
                yield con
        finally:
            if pooled:
                self._give_back(con, tables)
            else:
                con.close()

    def _give_back(self, con: duckdb.DuckDBPyConnection, tables: Mapping[str, pa.Table]) -> None:
        """Back to the pool as it was lent: its tables unregistered, its temporary tables dropped."""
        import duckdb

        try:
            for name in tables:
                con.unregister(name)
            temps = con.execute("SELECT table_name FROM duckdb_tables() WHERE temporary").fetchall()
            for (temp,) in temps:  # e.g. the diff's rows, kept on its cursor
                con.execute(f"DROP TABLE temp.{quote_ident(temp)}")
        except duckdb.Error:  # a cursor that cannot be cleaned is not reused
            con.close()
            return
        with self._lock:
            if self._con is not None:
                self._idle.append(con)
                return
        con.close()

    def check_select(self, sql: str) -> str:
        """Exactly one SELECT (or WITH ... SELECT) statement, else ExpressionError."""
        return check_select(sql, self)

    def run(self, con: duckdb.DuckDBPyConnection, sql: str, hint: str = "") -> pa.Table:
        """Execute on a cursor of this engine; DuckDB errors become ExpressionError with its reason;
        a statement running past the engine's timeout is interrupted (InputError)."""
        if self.timeout_s is None:
            return run(con, sql, hint or SQL_HINT, memory_limit=self.memory_limit)
        with interrupt_after(con, self.timeout_s) as timed_out:
            try:
                return run(con, sql, hint or SQL_HINT, memory_limit=self.memory_limit)
            except ExpressionError:
                if not timed_out:
                    raise
                check()  # a cancelled call also interrupts: said as the cancel it is
                raise InputError(
                    f"The statement ran longer than {self.timeout_s:g} s and was stopped.",
                    hint="Narrow the query (filter or aggregate first), "
                    "or raise DATA_PLATFORM_STATEMENT_TIMEOUT.",
                ) from None

    def close(self) -> None:
        """Close the database for good: a cursor asked for afterwards is refused, not reopened."""
        with self._lock:
            self._closed = True
            con, self._con = self._con, None
            idle, self._idle = self._idle, []
        for cursor in idle:
            cursor.close()
        if con is not None:
            con.close()


def query_progress(con: duckdb.DuckDBPyConnection, total: float | None = None) -> Callable[[], Step | None]:
    """DuckDB's own estimate of the cursor's running query, as progress.

    With `total` (a file's size): that share of it, bytes read ("12% of the file read" until the
    work reports rows). Without: inside the stage the
    work is at (a step with a total, e.g. 2 of 4 "comparing rows"), the query moves it towards the
    next (2.45 of 4), so stages and queries never contradict each other; with no stage, percent.
    The message is the last one the work reported (rows stored, the stage), if any.
    """
    owner = current()  # asked from another thread: the call's work is not in that one's context

    def step() -> Step | None:
        value = con.query_progress()  # -1 while no query runs or DuckDB cannot tell
        if value < 0:
            return None
        share = min(value, 99.9) / 100
        last = owner.step if owner is not None else None
        unit = "of the file read" if total is not None else "of the query"
        message = last.message if last is not None and last.message else f"{value:.0f}% {unit}"
        if total is not None:
            return Step(round(share * total, 1), total, message)
        if last is not None and last.total:
            return Step(round(min(last.done + share, last.total), 3), last.total, message)
        return Step(round(share * 100, 1), 100.0, message)

    return step


@contextmanager
def scoped(engine: Engine | None) -> Iterator[Engine]:
    """The caller's engine, or a throwaway one (default limit) closed when the block ends."""
    if engine is not None:
        yield engine
        return
    own = Engine()
    try:
        yield own
    finally:
        own.close()


def check_select(sql: str, engine: Engine | None = None) -> str:
    """Exactly one SELECT (or WITH ... SELECT) statement, else ExpressionError (parsed, never run)."""
    text = sql.strip().rstrip(";").strip() if isinstance(sql, str) else ""
    if not text:
        raise ExpressionError(
            "The SQL is empty.", hint="Write one SELECT over refs, e.g. SELECT * FROM sales."
        )
    if "\x00" in text:
        raise ExpressionError("The SQL contains a NUL byte.")
    import duckdb

    with scoped(engine) as eng, eng.over({}) as con:  # parsing only: nothing is executed here
        try:
            statements = con.extract_statements(text)
        except duckdb.Error as exc:
            raise ExpressionError(f"SQL syntax error: {first_line(exc)}", hint=SQL_HINT) from None
    if len(statements) != 1:
        raise ExpressionError(
            f"Only one statement is allowed; got {len(statements)}.",
            hint="Send a single SELECT (no ';' between statements).",
        )
    kind = statements[0].type
    if kind != duckdb.StatementType.SELECT:
        raise ExpressionError(
            f"Only SELECT is allowed here; got a {kind.name} statement.",
            hint="Read refs with SELECT; create files with to_csv/to_parquet.",
        )
    return text


SQL_HINT = "Write one SELECT over refs by name, e.g. SELECT region, sum(amount) FROM sales GROUP BY region."


def first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__


def run(
    con: duckdb.DuckDBPyConnection, sql: str, hint: str = SQL_HINT, *, memory_limit: str = DEFAULT_MEMORY
) -> pa.Table:
    """Execute on a locked connection; DuckDB errors become ExpressionError with its reason.
    A statement without a result (CREATE TEMP TABLE ... AS, the diff's) gives an empty table."""
    with translated(hint, memory_limit):
        rel = con.sql(sql)
        return rel.to_arrow_table() if rel is not None else pa.table({})


@contextmanager
def translated(hint: str = SQL_HINT, memory_limit: str = DEFAULT_MEMORY) -> Iterator[None]:
    """DuckDB errors raised inside (a query run, or its result streamed) as the project's errors."""
    import duckdb

    try:
        yield
    except duckdb.PermissionException as exc:
        raise ExpressionError(
            f"Not allowed: {first_line(exc)}",
            hint="Queries may only read data_refs: no files, network, extensions or settings.",
        ) from None
    except duckdb.OutOfMemoryException as exc:
        raise InputError(
            f"The query ran out of memory ({memory_limit}): {first_line(exc)}",
            hint="Filter or select fewer columns first, or aggregate before joining.",
        ) from None
    except duckdb.Error as exc:
        raise ExpressionError(f"The query failed: {first_line(exc)}", hint=hint) from None


@contextmanager
def interrupt_after(con: duckdb.DuckDBPyConnection, seconds: float) -> Iterator[list[bool]]:
    """DuckDB has no statement timeout: interrupt the connection when it passes (the list
    yielded is non-empty once it fired)."""
    fired: list[bool] = []

    def stop() -> None:
        fired.append(True)
        con.interrupt()

    timer = threading.Timer(seconds, stop)
    timer.daemon = True
    timer.start()
    try:
        yield fired
    finally:
        timer.cancel()


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
