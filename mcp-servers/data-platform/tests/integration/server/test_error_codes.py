"""Errors by type and code: PostgreSQL errors classified by SQLSTATE (text only where no code
exists), and an unexpected exception answered as one internal error with an id that the log has."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import psycopg
import pytest
from mcp.client.client import Client
from mcp.server.mcpserver import Context

from data_platform.config import load_settings
from data_platform.errors import DatabaseError
from data_platform.postgres import connection, query
from data_platform.registry import Registry
from data_platform.server.app import build_server
from data_platform.server.boundary import register_tool
from data_platform.server.declare import ToolList
from data_platform.server.results import FrameResult
from harness import text_of
from pgcluster import Cluster


def _settings(tmp_path: Path, url: str = "postgresql://me:pw@127.0.0.1:1/app") -> object:
    return load_settings(tmp_path, {"POSTGRES_URL": url}, system_file=tmp_path / "none.env")


def test_the_sqlstate_decides_before_the_text(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    # A server error whose message happens to read like a lost connection is still a query error.
    undefined = psycopg.errors.lookup("42P01")('relation "connection refused" does not exist')
    err = connection.classify(undefined, settings)
    assert err.details.items() >= {"sqlstate": "42P01"}.items() and "cannot be reached" not in str(err)
    # The code alone names the cause, whatever the (translated, reworded) message says.
    for code, reason in (
        ("28P01", "auth_failed"),
        ("28000", "auth_failed"),
        ("3D000", "database_missing"),
        ("08006", "unreachable"),
        ("57P01", "unreachable"),
        ("57P03", "unreachable"),
        ("57014", "timeout"),
    ):
        err = connection.classify(psycopg.errors.lookup(code)("le serveur a dit non"), settings)
        assert (err.details["reason"], err.details["sqlstate"]) == (reason, code)
    cancel = psycopg.errors.lookup("57014")("canceling statement due to user request")
    assert connection.classify(cancel, settings).details["reason"] == "cancelled"
    # ADBC's streaming errors arrive as OSError carrying the code in their text.
    streamed = OSError("[libpq] Query failed: ERROR:  division by zero. SQLSTATE: 22012")
    assert connection.sqlstate_of(streamed) == "22012"
    assert connection.classify(streamed, settings).details.items() >= {"sqlstate": "22012"}.items()
    # Without any code (libpq failing to connect), the text is all there is.
    assert connection.reason_of(psycopg.OperationalError("connection refused"), None) == "unreachable"
    assert connection.reason_of(Exception("could not parse"), None) is None


def test_real_server_errors_carry_their_sqlstate_through_both_drivers(pg: Cluster, tmp_path: Path) -> None:
    settings = _settings(tmp_path, pg.url)
    with pytest.raises(DatabaseError) as err, connection.session(settings) as conn:
        conn.execute("select 1/0")
    assert err.value.details.items() >= {"sqlstate": "22012"}.items() and "division by zero" in str(err.value)
    registry = Registry(tmp_path / "reg")
    with pytest.raises(DatabaseError) as err:  # pg_query's path: ADBC
        query.run_query(settings, registry, "select 1/0", None)
    assert err.value.details.items() >= {"sqlstate": "22012"}.items(), err.value
    with pytest.raises(DatabaseError) as err:
        query.run_query(settings, registry, "select * from no_such_table", None)
    assert err.value.details.items() >= {"sqlstate": "42P01"}.items()
    timed = settings.model_copy(update={"statement_timeout_s": 0.2})
    slow = "select count(*) from generate_series(1, 1000000000)"
    with pytest.raises(DatabaseError) as err, connection.session(timed) as conn:
        conn.execute(slow)
    assert err.value.details.items() >= {"reason": "timeout", "sqlstate": "57014"}.items()
    with pytest.raises(DatabaseError) as err:  # Arrow's C stream drops the code: the text decides
        query.run_query(timed, registry, slow, None)
    assert err.value.details.items() >= {"reason": "timeout", "sqlstate": None}.items()
    wrong = _settings(tmp_path, pg.url.replace(pg.password, "not-the-password"))
    with pytest.raises(DatabaseError) as err, connection.session(wrong):
        pass
    assert err.value.details["reason"] == "auth_failed" and "not-the-password" not in str(err.value)


BROKEN = ToolList("frames", toolsets=("analyst",))


@BROKEN.declare(read_only=True)
async def broken_tool(ctx: Context) -> FrameResult:
    """Fails the way a bug does."""
    raise KeyError("secret-internal-detail")


@pytest.mark.anyio
async def test_an_unexpected_exception_is_one_internal_error_with_an_id_in_the_log(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    server = build_server(load_settings(tmp_path, {}, system_file=tmp_path / "none.env"))
    register_tool(server, BROKEN[0])
    with caplog.at_level(logging.ERROR, logger="data_platform"):
        async with Client(server) as client:
            result = await client.call_tool("broken_tool", {})
    text = text_of(result)
    assert result.is_error and "secret-internal-detail" not in text and "KeyError" not in text
    found = re.fullmatch(
        r"Error: Internal error ([0-9a-f]{8}) in broken_tool: the server is still running\. .*", text
    )
    assert found, text
    logged = [r for r in caplog.records if found.group(1) in r.getMessage()]
    assert len(logged) == 1 and logged[0].exc_info is not None
    assert "secret-internal-detail" in caplog.text  # the details go to the log only
