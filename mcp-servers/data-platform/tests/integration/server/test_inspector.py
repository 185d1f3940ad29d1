"""The MCP Inspector's CLI (pinned in tests/inspector/, installed by scripts/setup-inspector.sh)
against the real server over stdio and streamable HTTP: what a person sees in the Inspector.

Its CLI has no completion method (completions are tested with the SDK's client in
test_completions.py and test_http.py).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from harness import server_env
from httpserver import http_server
from secret_scan import register_secret
from suitepaths import TESTS

pytestmark = pytest.mark.slow  # Node.js processes, seconds each

INSPECTOR = TESTS / "inspector" / "node_modules" / ".bin" / "mcp-inspector"
SERVER = [sys.executable, "-m", "data_platform", "serve"]
TOKEN = "insp-8c1d2e9f0a7b4c3d"
PROMPTS = {"ingest", "profile", "schema", "explain", "lineage", "run"}


def inspect(project: Path, *args: str, http: str | None = None, token: str | None = None) -> dict[str, Any]:
    """One Inspector CLI call; its JSON answer ({"result": ...} or {"error": ...})."""
    assert INSPECTOR.exists(), "the Inspector is not installed: run scripts/setup-inspector.sh"
    command = [str(INSPECTOR), "--cli", "--format", "json", "-q", *args]
    if http is not None:
        command += ["--server-url", http, "--transport", "http"]
        if token:
            command += ["--header", f"Authorization: Bearer {token}"]
    else:
        command += ["--cwd", str(project), "--", *SERVER]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, env=server_env(), cwd=project)
    out = (done.stdout.strip() or done.stderr.strip()).splitlines()
    assert out, f"no answer (exit {done.returncode}): {done.stderr[-2000:]}"
    return json.loads(out[-1])


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    rows = ["id,region,amount", *(f"{i},{'EU' if i % 3 else 'US'},{i * 1.5}" for i in range(1, 101))]
    (root / "sales.csv").write_text("\n".join(rows) + "\n")
    return root


def test_inspector_over_stdio_sees_tools_resources_and_prompts(project: Path) -> None:
    made = inspect(
        project,
        "--method",
        "tools/call",
        "--tool-name",
        "read_csv",
        "--tool-args-json",
        json.dumps({"path": "sales.csv", "name": "sales_eu"}),
    )["result"]
    assert made["structuredContent"]["rows"] == 100
    links = [c for c in made["content"] if c["type"] == "resource_link"]
    assert [c["uri"] for c in links] == ["dataref://sales_eu"]

    # Each Inspector call is a new server process on the same project: the ref is on disk.
    listed = inspect(project, "--method", "resources/list")["result"]["resources"]
    assert [(r["name"], r["uri"]) for r in listed] == [("sales_eu", "dataref://sales_eu")]
    read = inspect(project, "--method", "resources/read", "--uri", "dataref://sales_eu")["result"]
    by_type = {c["mimeType"]: c["text"] for c in read["contents"]}
    assert by_type["text/csv"].splitlines()[1] == '1,"EU",1.5'
    assert json.loads(by_type["application/json"])["rows"] == 100
    templates = inspect(project, "--method", "resources/templates/list")["result"]["resourceTemplates"]
    assert [t["uriTemplate"] for t in templates] == ["dataref://{name}"]

    prompts = inspect(project, "--method", "prompts/list")["result"]["prompts"]
    assert {p["name"] for p in prompts} == PROMPTS
    got = inspect(
        project,
        "--method",
        "prompts/get",
        "--prompt-name",
        "profile",
        "--prompt-args",
        "data_ref=sales_eu",
        "columns=amount",
    )["result"]
    text = got["messages"][0]["content"]["text"]
    assert "sales_eu" in text and "amount" in text

    missing = inspect(project, "--method", "resources/read", "--uri", "dataref://nope")
    assert "No data_ref named `nope`" in json.dumps(missing["error"])


def test_inspector_over_http_with_the_token(project: Path) -> None:
    register_secret(TOKEN)
    with http_server(project, env={"DATA_PLATFORM_HTTP_TOKEN": TOKEN}, name="inspector") as server:
        tools = inspect(project, "--method", "tools/list", http=server.url, token=TOKEN)["result"]["tools"]
        assert {"read_csv", "pg_query", "dbt_build"} <= {t["name"] for t in tools}
        made = inspect(
            project,
            "--method",
            "tools/call",
            "--tool-name",
            "read_csv",
            "--tool-args-json",
            json.dumps({"path": "sales.csv", "name": "over_http"}),
            http=server.url,
            token=TOKEN,
        )["result"]
        assert made["structuredContent"]["data_ref"] == "over_http"
        listed = inspect(project, "--method", "resources/list", http=server.url, token=TOKEN)["result"]
        assert [r["name"] for r in listed["resources"]] == ["over_http"]
        refused = inspect(project, "--method", "tools/list", http=server.url)
        assert "result" not in refused and TOKEN not in json.dumps(refused)
