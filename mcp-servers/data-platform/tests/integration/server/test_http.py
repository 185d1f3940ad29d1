"""`serve --http`: the real server process over streamable HTTP, driven by the SDK's client.

Only loopback traffic: the one test that names 0.0.0.0 proves the server refuses to start there
without a token (and that nothing listens afterwards); no request ever leaves 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import httpx2
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pytest
from mcp import types
from mcp.client.client import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

from data_platform.config import load_settings
from data_platform.errors import InputError
from data_platform.registry import Registry
from data_platform.server import build_server
from data_platform.server.http import build_http_app, http_token, is_loopback, parse_address
from harness import call, server_env
from httpserver import free_port, http_server, listening
from secret_scan import register_secret
from suitepaths import REPO

pytestmark = pytest.mark.anyio

TOKEN = "tok-3f9a1c7e55d04b2a9e6b"
INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "t", "version": "1"},
    },
}
MCP_HEADERS = {"content-type": "application/json", "accept": "application/json, text/event-stream"}


@contextlib.asynccontextmanager
async def http_client(url: str, token: str | None = None, mode: str = "legacy") -> AsyncIterator[Client]:
    """`legacy`: the 2025 handshake with a session id (what most hosts speak today); `auto`: the
    SDK's default, the 2026 per-request protocol (no session)."""
    headers = {"Authorization": f"Bearer {token}"} if token else None
    async with (
        create_mcp_http_client(headers=headers) as http,
        Client(streamable_http_client(url, http_client=http), cache=None, mode=mode) as client,
    ):
        yield client


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    rows = ["id,region,amount", *(f"{i},{'EU' if i % 3 else 'US'},{i * 1.5}" for i in range(1, 501))]
    (root / "sales.csv").write_text("\n".join(rows) + "\n")
    (root / "more.csv").write_text("k,v\n" + "".join(f"{i},{i * i}\n" for i in range(200)))
    return root


async def _resources_prompts_completions(a: Client, b: Client) -> None:
    """The rest of MCP over HTTP: a resource link in a load's answer, read by the other session;
    refs listed as resources; a prompt rendered with arguments; completions of a partial ref name."""
    made = await call(a, "read_csv", path="sales.csv", name="sales_eu")
    link = next(c for c in made.content if isinstance(c, types.ResourceLink))
    assert str(link.uri) == "dataref://sales_eu"
    read = await b.read_resource(str(link.uri))
    csv_text = next(c.text for c in read.contents if c.mime_type == "text/csv")
    assert csv_text.splitlines()[:2] == ['"id","region","amount"', '1,"EU",1.5']
    assert {r.name for r in (await b.list_resources(cache_mode="refresh")).resources} >= {"sales", "sales_eu"}
    prompt = await a.get_prompt("profile", {"data_ref": "sales_eu", "columns": "amount"})
    assert "sales_eu" in prompt.messages[0].content.text
    ref = types.ResourceTemplateReference(type="ref/resource", uri="dataref://{name}")
    done = await b.complete(ref, {"name": "name", "value": "sales_"})
    assert done.completion.values == ["sales_eu"]
    arg = await a.complete(
        types.PromptReference(type="ref/prompt", name="profile"), {"name": "data_ref", "value": "mo"}
    )
    assert arg.completion.values == ["more"]


async def test_two_clients_at_once_share_one_registry(project: Path) -> None:
    """Two sessions open together on one process: a ref one makes, the other reads; one state.
    A third client on the sessionless 2026 protocol sees the same registry."""
    expected = float(pc.sum(pacsv.read_csv(project / "sales.csv")["amount"]).as_py())
    with http_server(project) as server:
        async with http_client(server.url) as a, http_client(server.url) as b:
            # Concurrent loads, one per session.
            async with anyio.create_task_group() as tg:
                tg.start_soon(call_args, a, "read_csv", {"path": "sales.csv", "name": "sales"})
                tg.start_soon(call_args, b, "read_csv", {"path": "more.csv", "name": "more"})
            # Each sees the other's ref.
            listed_a = (await call(a, "list_data")).structured_content
            listed_b = (await call(b, "list_data")).structured_content
            names = {r["name"] for r in listed_a["refs"]}
            assert names == {r["name"] for r in listed_b["refs"]} == {"sales", "more"}
            total = await call(b, "sql", query="SELECT sum(amount) AS s FROM sales", name="total")
            assert total.structured_content["rows"] == 1
            shown = await call(a, "head", data_ref="total")
            assert shown.structured_content["preview"] == [{"s": expected}]
            assert (await call(a, "head", data_ref="more")).structured_content["rows"] == 200
            async with http_client(server.url, mode="auto") as c:
                listed_c = (await call(c, "list_data")).structured_content
                assert {r["name"] for r in listed_c["refs"]} == {"sales", "more", "total"}
            await _resources_prompts_completions(a, b)
        log = server.log_text()
    sessions = set(re.findall(r"Created new transport with session ID: (\w+)", log))
    assert len(sessions) == 2, log
    # One lifespan for the process, not one per session.
    assert log.count("server state opened") == 1, log


@pytest.mark.slow  # a process: the in-memory tests cover the fast tier
async def test_many_sessions_writing_one_name_at_once_leave_a_whole_ref(project: Path) -> None:
    """Six sessions at once: each loads its own table, then all overwrite one shared name while
    reading it; every read and the final ref are one whole table of the six, never a mix."""
    clients_n = 6
    tables = {}
    for i in range(clients_n):
        path = project / f"part{i}.csv"
        path.write_text("id,tag\n" + "".join(f"{j},{i}\n" for j in range(2_000 + i)))
        tables[i] = pacsv.read_csv(path)
    seen: list[int] = []

    async def session(url: str, i: int) -> None:
        async with http_client(url) as client:
            await call(client, "read_csv", path=f"part{i}.csv", name=f"part{i}")
            for _ in range(3):
                await call(client, "sql", query=f"SELECT * FROM part{i}", name="shared", overwrite=True)
                shown = (await call(client, "describe", data_ref="shared")).structured_content
                seen.append(shown["rows"])

    with http_server(project) as server:
        async with anyio.create_task_group() as tg:
            for i in range(clients_n):
                tg.start_soon(session, server.url, i)
        log = server.log_text()
    assert "Traceback" not in log, log
    assert set(seen) <= {t.num_rows for t in tables.values()} and len(seen) == 3 * clients_n
    final = Registry(project / ".data-platform").get("shared")
    tag = final["tag"][0].as_py()
    assert final.sort_by("id").equals(tables[tag].sort_by("id"))


async def test_token_required_when_set_and_refusals_leak_nothing(project: Path) -> None:
    register_secret(TOKEN)  # the session-end scan reads every log and answer for it too
    with http_server(project, {"DATA_PLATFORM_HTTP_TOKEN": TOKEN}) as server:
        async with httpx2.AsyncClient(timeout=10) as raw:
            refused = [
                await raw.post(server.url, json=INIT, headers=MCP_HEADERS),
                await raw.post(
                    server.url, json=INIT, headers={**MCP_HEADERS, "authorization": "Bearer nope"}
                ),
                await raw.post(server.url, json=INIT, headers={**MCP_HEADERS, "authorization": TOKEN}),
                await raw.post(
                    server.url, json=INIT, headers={**MCP_HEADERS, "authorization": f"Basic {TOKEN}"}
                ),
                await raw.post(
                    server.url, json=INIT, headers={**MCP_HEADERS, "authorization": f"Bearer {TOKEN[:-1]}"}
                ),
                await raw.get(server.url),
                await raw.delete(server.url),
            ]
            for response in refused:
                assert response.status_code == 401, (response.request.headers, response.text)
                assert response.text == "Unauthorized"
                assert response.headers["www-authenticate"] == "Bearer"
                assert "mcp-session-id" not in response.headers
            ok = await raw.post(
                server.url, json=INIT, headers={**MCP_HEADERS, "authorization": f"Bearer {TOKEN}"}
            )
            assert ok.status_code == 200 and "mcp-session-id" in ok.headers, ok.text
        for mode in ("legacy", "auto"):
            async with http_client(server.url, token=TOKEN, mode=mode) as client:
                made = await call(client, "read_csv", path="more.csv", name=f"more_{mode}", overwrite=True)
                assert made.structured_content["rows"] == 200
        for mode in ("legacy", "auto"):  # the SDK's client, without the token, gets nowhere
            with pytest.raises(ExceptionGroup) as failed:
                async with http_client(server.url, mode=mode) as client:
                    await client.list_tools()
            assert "Server returned an error response" in repr(failed.value)
        log = server.log_text()
    assert log.count("missing or wrong bearer token") >= len(refused)
    assert "token required" in log
    assert TOKEN not in log and TOKEN[:-1] not in log


async def test_foreign_origin_and_rebound_host_refused(project: Path) -> None:
    with http_server(project) as server:
        async with httpx2.AsyncClient(timeout=10) as raw:
            for origin in ("http://evil.example", f"http://evil.example:{server.port}", "null", "file://"):
                response = await raw.post(server.url, json=INIT, headers={**MCP_HEADERS, "origin": origin})
                assert response.status_code == 403, (origin, response.text)
                assert response.text == "Forbidden"
            # A DNS-rebinding page reaches 127.0.0.1 under its own name: the Host header betrays it.
            rebound = await raw.post(
                server.url, json=INIT, headers={**MCP_HEADERS, "host": f"evil.example:{server.port}"}
            )
            assert rebound.status_code == 421, rebound.text
            modern = {
                **MCP_HEADERS,
                "host": f"evil.example:{server.port}",
                "mcp-protocol-version": "2026-07-28",
            }
            rebound = await raw.post(server.url, json={**INIT, "method": "tools/list"}, headers=modern)
            assert rebound.status_code == 421, rebound.text  # the sessionless protocol is checked too
            # A page served from this machine may call; so may a client that sends no Origin.
            for origin in (f"http://localhost:{server.port}", "http://127.0.0.1:6274", None):
                headers = {**MCP_HEADERS, **({"origin": origin} if origin else {})}
                response = await raw.post(server.url, json=INIT, headers=headers)
                assert response.status_code == 200, (origin, response.text)
                assert "mcp-session-id" in response.headers


def _serve_once(project: Path, address: str) -> subprocess.CompletedProcess[str]:
    """`serve --http address` run to its end: for addresses it must refuse at once."""
    return subprocess.run(
        [sys.executable, "-m", "data_platform", "serve", "--http", address],
        cwd=project,
        env=server_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_beyond_loopback_without_token_refuses_to_start(project: Path) -> None:
    port = free_port()
    started = time.monotonic()
    done = _serve_once(project, f"0.0.0.0:{port}")
    assert done.returncode == 2, done
    assert done.stderr.startswith("data-platform: Refusing to listen on 0.0.0.0"), done.stderr
    assert "DATA_PLATFORM_HTTP_TOKEN" in done.stderr and "127.0.0.1" in done.stderr
    assert "Traceback" not in done.stderr
    assert not listening(port)
    assert not (project / ".data-platform").exists()  # refused before anything was opened
    print(f"refusal in {time.monotonic() - started:.2f} s")


@pytest.mark.slow  # a process: the in-memory tests cover the fast tier
def test_a_taken_port_is_a_clear_refusal(project: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = _serve_once(project, f"127.0.0.1:{port}")
    assert done.returncode == 2, done
    assert done.stderr.startswith(
        f"data-platform: Cannot listen on 127.0.0.1:{port}: Address already in use."
    )
    assert "Traceback" not in done.stderr


async def test_the_app_as_configured_beyond_loopback(project: Path) -> None:
    """The app `--http 0.0.0.0:PORT` serves, driven in-process (no socket, no traffic): the token is
    the guard for any Host name, a foreign Origin is still refused, the right token gets through."""
    settings = load_settings(project, {"DATA_PLATFORM_HTTP_TOKEN": TOKEN}, system_file=project / "none.env")
    guard = build_http_app(build_server(settings), "0.0.0.0", http_token(settings, "0.0.0.0"))
    starlette_app = guard.app  # the SDK's app; its lifespan starts the session manager
    transport = httpx2.ASGITransport(app=guard)
    base = "http://203.0.113.7:8765"  # a name the server cannot know in advance
    async with (
        starlette_app.router.lifespan_context(starlette_app),
        httpx2.AsyncClient(transport=transport, base_url=base, timeout=10) as raw,
    ):
        bare = await raw.post("/mcp", json=INIT, headers=MCP_HEADERS)
        assert (bare.status_code, bare.text) == (401, "Unauthorized")
        authorized = {**MCP_HEADERS, "authorization": f"Bearer {TOKEN}"}
        foreign = await raw.post("/mcp", json=INIT, headers={**authorized, "origin": "http://evil.example"})
        assert (foreign.status_code, foreign.text) == (403, "Forbidden")
        own = await raw.post("/mcp", json=INIT, headers={**authorized, "origin": base})
        assert own.status_code == 403  # the bound address is 0.0.0.0: no page origin is its own
        ok = await raw.post("/mcp", json=INIT, headers=authorized)
        assert ok.status_code == 200 and ok.headers["mcp-session-id"], ok.text
        assert '"serverInfo":{"name":"data-platform"' in ok.text
    specific = build_http_app(build_server(settings), "192.0.2.10", TOKEN)
    assert specific.origin_allowed("http://192.0.2.10:8765") and specific.origin_allowed(
        "http://localhost:3000"
    )
    assert not specific.origin_allowed("http://192.0.2.11:8765")


def test_address_and_loopback_rules() -> None:
    assert parse_address("127.0.0.1:8765") == ("127.0.0.1", 8765)
    assert parse_address("[::1]:9") == ("::1", 9)
    assert parse_address("localhost:80") == ("localhost", 80)
    for bad in ("8765", "127.0.0.1", "127.0.0.1:0", "127.0.0.1:70000", ":80", "host:port"):
        with pytest.raises(InputError, match="HOST:PORT"):
            parse_address(bad)
    for host in ("127.0.0.1", "127.8.9.10", "::1", "[::1]", "localhost", "LOCALHOST"):
        assert is_loopback(host), host
    for host in (
        "0.0.0.0",
        "::",
        "10.0.0.1",
        "192.168.1.5",
        "example.com",
        "localhost.example.com",
        "128.0.0.1",
    ):
        assert not is_loopback(host), host


def test_token_rule(tmp_path: Path) -> None:
    quiet = tmp_path / ".no-system-file"
    bare = load_settings(tmp_path, {}, system_file=quiet)
    with pytest.raises(InputError, match="DATA_PLATFORM_HTTP_TOKEN is not set"):
        http_token(bare, "0.0.0.0")
    with pytest.raises(InputError):
        http_token(bare, "192.168.1.5")
    assert http_token(bare, "127.0.0.1") is None
    with_token = load_settings(tmp_path, {"DATA_PLATFORM_HTTP_TOKEN": TOKEN}, system_file=quiet)
    assert http_token(with_token, "0.0.0.0") == TOKEN
    assert http_token(with_token, "127.0.0.1") == TOKEN  # optional on loopback, enforced when set
    assert TOKEN in with_token.secret_values()  # the log filter masks it
    assert TOKEN not in repr(with_token) and TOKEN not in str(with_token.model_dump())


@pytest.mark.slow  # a process: the in-memory tests cover the fast tier
async def test_sigterm_stops_the_server_cleanly(project: Path) -> None:
    with http_server(project) as server:
        async with http_client(server.url) as client:
            await call(client, "read_csv", path="sales.csv", name="sales")
            started = time.monotonic()
            server.proc.send_signal(signal.SIGTERM)
            code = await anyio.to_thread.run_sync(lambda: server.proc.wait(20))
            stopped = time.monotonic() - started
        log = server.log_text()
    assert code == 0, log
    assert stopped < 10, f"{stopped:.1f} s to stop"
    assert "Application shutdown complete" in log and "Traceback" not in log, log
    assert not listening(server.port)
    table = Registry(project / ".data-platform").get("sales")
    assert table.equals(pacsv.read_csv(project / "sales.csv"))
    print(f"stopped {stopped:.2f} s after SIGTERM with a session open")


@pytest.mark.slow
def test_claude_code_connects_over_http_with_the_token(project: Path, tmp_path: Path) -> None:
    """Claude Code's own HTTP client (`claude mcp add --transport http --header ...`): connected with
    the token, refused without it."""
    repo = REPO
    cli = subprocess.run(
        [str(repo / "scripts" / "claude-cli.sh")], check=True, capture_output=True, text=True, timeout=600
    ).stdout.strip()
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in server_env().items() if not k.startswith(("CLAUDE", "ANTHROPIC", "MCP_"))}
    env.update(HOME=str(home), DISABLE_AUTOUPDATER="1")

    def claude(*args: str) -> str:
        done = subprocess.run(
            [cli, *args], cwd=project, env=env, capture_output=True, text=True, timeout=120, check=True
        )
        return done.stdout + done.stderr

    with http_server(project, {"DATA_PLATFORM_HTTP_TOKEN": TOKEN}) as server:
        claude(
            "mcp",
            "add",
            "--transport",
            "http",
            "dp",
            server.url,
            "--header",
            f"Authorization: Bearer {TOKEN}",
        )
        claude("mcp", "add", "--transport", "http", "dpbare", server.url)
        listed = claude("mcp", "list")
        log = server.log_text()
    lines = {line.split(":", 1)[0]: line for line in listed.splitlines() if line.startswith("dp")}
    assert "Connected" in lines["dp"], listed
    assert "Connected" not in lines["dpbare"] and "401" in lines["dpbare"], listed
    assert TOKEN not in listed and TOKEN not in log


async def call_args(client: Client, tool: str, arguments: dict[str, object]) -> None:
    await call(client, tool, **arguments)
