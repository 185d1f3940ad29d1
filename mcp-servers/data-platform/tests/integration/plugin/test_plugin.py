"""The Claude Code plugin, checked the way a user meets it.

- `claude plugin validate --strict` passes on the marketplace and the plugin, and our own
  checks (scripts/check_plugin.py) catch what it does not;
- installed from the marketplace with a throwaway HOME (Claude Code from npm, a local git
  host, so the plugin is copied into ~/.claude/plugins/cache/ as for a GitHub marketplace),
  the server connects from the cached copy; a first start that outlasts Claude Code's connect
  timeout still finishes building, and a second start is fast;
- the SessionStart hook, run as Claude Code runs it, warns when PostgreSQL is down and gives
  a status when it is up, exits 0, within its timeout, never printing a password;
- every tool a command or agent names exists in the server's tool list.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import pytest
from mcp.client.client import Client
from mcp.client.stdio import StdioServerParameters, stdio_client

import githost
from data_platform.config import parse_env_file, postgres_from_env
from harness import LOG_DIR, inmemory, server_env
from pgcluster import Cluster
from suitepaths import REPO

PLUGIN = REPO / "plugins" / "data-platform"
PREFIX = "mcp__plugin_data-platform_data-platform__"
MARKETPLACE = json.loads((REPO / ".claude-plugin" / "marketplace.json").read_text())["name"]
BUILD_WAIT_S = 600  # a first build without a warm package cache downloads ~150 MB


def load_module(path: Path) -> ModuleType:
    """Import a plugin script (standard library only) by its path."""
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


launch = load_module(PLUGIN / "scripts" / "launch.py")
session_check = load_module(PLUGIN / "hooks" / "session_check.py")


@pytest.fixture(scope="session")
def claude() -> str:
    """The Claude Code CLI from npm, installed into a cache folder on first use."""
    out = subprocess.run(
        [str(REPO / "scripts" / "claude-cli.sh")], check=True, capture_output=True, text=True, timeout=600
    )
    return out.stdout.strip()


def package_cache_env() -> dict[str, str]:
    """Keep uv's and pip's caches when HOME moves, so a build reuses downloaded wheels."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return {
        "UV_CACHE_DIR": os.environ.get("UV_CACHE_DIR") or str(cache / "uv"),
        "PIP_CACHE_DIR": os.environ.get("PIP_CACHE_DIR") or str(cache / "pip"),
    }


@dataclass
class Installed:
    home: Path
    project: Path
    plugin: Path  # the installed copy in ~/.claude/plugins/cache/...
    claude: str

    @property
    def data(self) -> Path:
        """The plugin's data folder (${CLAUDE_PLUGIN_DATA}) as Claude Code names it."""
        return self.home / ".claude" / "plugins" / "data" / f"data-platform-{MARKETPLACE}"

    def env(self, **extra: str) -> dict[str, str]:
        env = server_env({"HOME": str(self.home), "DISABLE_AUTOUPDATER": "1", **package_cache_env()})
        # Run inside a Claude Code session, its variables (CLAUDE_CONFIG_DIR...) would leak in.
        env = {k: v for k, v in env.items() if not k.startswith(("CLAUDE", "ANTHROPIC", "MCP_"))}
        env.update(extra)
        return env

    def run(self, *args: str, timeout: float = 300, **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [self.claude, *args],
            cwd=self.project,
            env=self.env(**extra),
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def venv(self) -> Path:
        key = launch.env_key(str(self.plugin / "mcp-servers" / "data-platform"))
        return Path(launch.venv_dir(key, str(self.data)))


@pytest.fixture(scope="module")
def installed(claude: str) -> Iterator[Installed]:
    """The plugin installed from the marketplace, as a user does it, into a throwaway HOME.

    A private temp folder, not pytest's: pytest prunes old base folders of other sessions
    (engineers share this machine), and the environment built here is ~400 MB.
    """
    base = Path(tempfile.mkdtemp(prefix="dp-plugin-"))
    try:
        yield install(base, claude)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def install(base: Path, claude: str) -> Installed:
    """Publish the worktree on a local git host, add it as a marketplace, install the plugin."""
    home, project, git = base / "home", base / "project", base / "git"
    for folder in (home, project, git):
        folder.mkdir()
    githost.publish(REPO, git)
    probe = Installed(home, project, Path(), claude)
    with githost.serve(git) as url:
        added = probe.run("plugin", "marketplace", "add", f"{url}/repo.git", timeout=180)
        assert added.returncode == 0, added.stdout + added.stderr
    done = probe.run("plugin", "install", f"data-platform@{MARKETPLACE}", timeout=180)
    assert done.returncode == 0, done.stdout + done.stderr
    registry = json.loads((home / ".claude" / "plugins" / "installed_plugins.json").read_text())
    [entry] = registry["plugins"][f"data-platform@{MARKETPLACE}"]
    return Installed(home, project, Path(entry["installPath"]), claude)


@pytest.fixture(scope="module")
def built(installed: Installed) -> Installed:
    """The installed plugin with its environment built (what any start after the first finds)."""
    out = subprocess.run(
        ["python3", str(installed.plugin / "scripts" / "launch.py"), "--build"],
        env=installed.env(DATA_PLATFORM_PLUGIN_DATA=str(installed.data)),
        capture_output=True,
        text=True,
        timeout=BUILD_WAIT_S,
    )
    assert out.returncode == 0, out.stderr
    return installed


# -- validation ---------------------------------------------------------------------------


@pytest.mark.slow
def test_validate_marketplace_and_plugin_strict() -> None:
    out = subprocess.run(
        [str(REPO / "scripts" / "validate-marketplace.sh"), "--skip-tool-names"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.count("Validation passed") == 2, out.stdout
    assert "check_plugin: ok" in out.stdout


def broken_copy(dest: Path) -> Path:
    """The marketplace, plugin and the server files the checks read, copied for breaking."""
    shutil.copytree(REPO / ".claude-plugin", dest / ".claude-plugin")
    shutil.copytree(PLUGIN, dest / "plugins" / "data-platform", symlinks=True)
    server = dest / "mcp-servers" / "data-platform"
    (server / "tests" / "contract").mkdir(parents=True)
    shutil.copy(REPO / "mcp-servers" / "data-platform" / "pyproject.toml", server)
    names = [{"name": n} for n in ("list_data", "drop_data")]
    (server / "tests" / "contract" / "tools.json").write_text(json.dumps(names))
    return dest / "plugins" / "data-platform"


def check_plugin(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(REPO / "scripts" / "check_plugin.py"), "--root", str(root), *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_own_checks_catch_broken_plugins(tmp_path: Path) -> None:
    plugin = broken_copy(tmp_path)
    assert check_plugin(tmp_path, "--skip-tool-names").returncode == 0
    hooks = json.loads((plugin / "hooks" / "hooks.json").read_text())
    hook = hooks["hooks"]["SessionStart"][0]["hooks"][0]
    hook["timeout"] = 10_000  # milliseconds by mistake
    hook["command"] = hook["command"].replace("session_check.py", "missing.py")
    hooks["hooks"]["SessionStart"][0]["matcher"] = "startup|boot"
    (plugin / "hooks" / "hooks.json").write_text(json.dumps(hooks))
    mcp = json.loads((plugin / ".mcp.json").read_text())
    mcp["mcpServers"]["data-platform"]["cwd"] = "."
    (plugin / ".mcp.json").write_text(json.dumps(mcp))
    run = plugin / "commands" / "run.md"
    run.write_text(run.read_text().replace("argument-hint:", "hint:").replace("$ARGUMENTS", "the args"))
    agent = plugin / "agents" / "data-analysis.md"
    agent.write_text(agent.read_text().replace("tools: ", f"tools: {PREFIX}no_such_tool, ", 1))
    out = check_plugin(tmp_path)
    assert out.returncode == 1
    for expected in (
        "timeout must be seconds",
        "missing.py does not exist",
        "unknown ['boot']",
        "'cwd' is ignored",
        "commands/run.md: frontmatter needs 'argument-hint'",
        "commands/run.md: the body never uses $ARGUMENTS",
        "agents/data-analysis.md: tool 'no_such_tool' is not in the server's tool list",
    ):
        assert expected in out.stderr, out.stderr


# -- install, first start, later starts -----------------------------------------------------


def mcp_list_line(out: subprocess.CompletedProcess[str]) -> str:
    lines = [line for line in out.stdout.splitlines() if "data-platform" in line]
    assert lines, f"no data-platform server listed:\n{out.stdout}\n{out.stderr}"
    return lines[0]


def wait_ready(venv: Path, timeout: float = BUILD_WAIT_S) -> float:
    start = time.monotonic()
    while not launch.is_ready(str(venv)):
        assert time.monotonic() - start < timeout, f"the environment was not built in {timeout} s"
        time.sleep(0.5)
    return time.monotonic() - start


@pytest.mark.slow
def test_install_from_marketplace_first_start_then_connected(installed: Installed) -> None:
    # The installed copy holds the server's code as a real folder: the link was followed.
    server = installed.plugin / "mcp-servers" / "data-platform"
    assert "/plugins/cache/" in str(installed.plugin)
    assert server.is_dir() and not server.is_symlink()
    assert (server / "pyproject.toml").is_file() and (server / "src" / "data_platform").is_dir()
    # A first start (no environment yet) with a connect timeout shorter than the build:
    # Claude Code gives up, the detached build does not.
    shutil.rmtree(installed.data / "venvs", ignore_errors=True)
    first = installed.run("mcp", "list", MCP_TIMEOUT="1500")
    assert "Connected" not in mcp_list_line(first)
    waited = wait_ready(installed.venv())
    marker = json.loads((installed.venv() / launch.READY).read_text())
    print(f"first build: {marker['seconds']} s (ready {waited:.1f} s after `claude mcp list` gave up)")
    # The next start connects, from the cached copy, with the environment in the data folder.
    second = installed.run("mcp", "list")
    line = mcp_list_line(second)
    assert "Connected" in line and str(installed.plugin / "scripts" / "launch.sh") in line, line
    assert installed.venv().is_relative_to(installed.data)
    assert not list(installed.plugin.rglob(launch.READY))


def mcp_command(plugin: Path) -> list[str]:
    """The server command of the plugin's .mcp.json, with ${CLAUDE_PLUGIN_ROOT} expanded."""
    entry = json.loads((plugin / ".mcp.json").read_text())["mcpServers"]["data-platform"]
    return [entry["command"], *(a.replace("${CLAUDE_PLUGIN_ROOT}", str(plugin)) for a in entry["args"])]


async def time_to_tools(command: list[str], env: dict[str, str], cwd: Path) -> tuple[float, list[str]]:
    """Seconds from spawning a server to its tools/list answer, with the SDK's stdio client."""
    params = StdioServerParameters(command=command[0], args=command[1:], env=env, cwd=str(cwd))
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    with open(LOG_DIR / "plugin-start.log", "a", encoding="utf-8") as log:
        start = time.perf_counter()
        async with Client(stdio_client(params, errlog=log), cache=None) as client:
            tools = await client.list_tools()
            elapsed = time.perf_counter() - start
    return elapsed, sorted(t.name for t in tools.tools)


@pytest.mark.slow
@pytest.mark.anyio
async def test_second_start_reaches_tools_list_fast(built: Installed) -> None:
    env = built.env(DATA_PLATFORM_PLUGIN_DATA=str(built.data))
    launcher = mcp_command(built.plugin)
    direct = [launch.venv_python(str(built.venv())), "-m", "data_platform", "serve"]
    record = built.data / "fast-path"
    recorded = record.stat().st_mtime_ns
    via_launcher, via_server = [], []
    for _ in range(5):  # interleaved, so both see the same machine load
        via_launcher.append(await time_to_tools(launcher, env, built.project))
        via_server.append(await time_to_tools(direct, env, built.project))
    best_launcher = min(t for t, _ in via_launcher)
    best_direct = min(t for t, _ in via_server)
    print(f"to tools/list (best of 5): launcher {best_launcher:.2f} s, server alone {best_direct:.2f} s")
    assert via_launcher[0][1] == via_server[0][1]  # the same server, the same tools
    assert record.stat().st_mtime_ns == recorded  # launch.sh's fast path: launch.py never ran
    # 1.1-1.5 s at best here, but one start varies 1.1-3 s on this shared 2-core machine:
    # under 2 s unless the server alone is slow right now (bench/plugin_start.py measures).
    assert best_launcher < max(2.0, best_direct + 1.0), (best_launcher, best_direct)


def fake_plugin(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A copy of the launchers over a tiny server folder, and a fake built environment."""
    plugin = tmp_path / "plugin"
    (plugin / "scripts").mkdir(parents=True)
    for name in ("launch.sh", "launch.py"):
        shutil.copy(PLUGIN / "scripts" / name, plugin / "scripts" / name)
    server = plugin / "mcp-servers" / "data-platform"
    (server / "src" / "pkg").mkdir(parents=True)
    (server / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    (server / "README.md").write_text("x\n")
    (server / "src" / "pkg" / "m.py").write_text("")
    venv = tmp_path / "data" / "venvs" / "fake"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").write_text('#!/bin/sh\necho "fake python: $*"\n')
    (venv / "bin" / "python").chmod(0o755)
    (venv / launch.READY).write_text("{}")
    long_ago = time.time() - 3600
    for path in [server, *server.rglob("*")]:
        os.utime(path, (long_ago, long_ago))
    return plugin, tmp_path / "data", venv


def test_launch_sh_fast_path_and_fallback(tmp_path: Path) -> None:
    plugin, data, venv = fake_plugin(tmp_path)
    server = os.path.realpath(plugin / "mcp-servers" / "data-platform")
    env = {**os.environ, "DATA_PLATFORM_PLUGIN_DATA": str(data)}

    def start(*args: str) -> tuple[str, float]:
        began = time.perf_counter()
        out = subprocess.run(
            ["sh", str(plugin / "scripts" / "launch.sh"), *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert out.returncode == 0, out.stderr
        return out.stdout.strip(), time.perf_counter() - began

    # Nothing recorded: launch.py decides (asked for --status, it only reports).
    assert json.loads(start("--status")[0])["ready"] is False
    # Recorded: the environment's Python is exec'd directly with the server's arguments.
    record = data / "fast-path"
    record.write_text(f"{server}\n{venv}\n")
    assert start("--log-level", "DEBUG")[0] == "fake python: -m data_platform serve --log-level DEBUG"
    times = sorted(start()[1] for _ in range(5))
    print(f"launch.sh fast path: {times[2] * 1000:.0f} ms (median of 5)")
    assert times[2] < 0.5  # a shell and a `find`; no Python of our own
    # A source newer than the record, or a record for another copy: back to launch.py.
    (plugin / "mcp-servers" / "data-platform" / "src" / "pkg" / "m.py").write_text("# changed\n")
    assert json.loads(start("--status")[0])["ready"] is False
    record.write_text(f"/elsewhere/mcp-servers/data-platform\n{venv}\n")
    os.utime(record, (time.time() + 5, time.time() + 5))
    assert json.loads(start("--status")[0])["ready"] is False
    # An unexpanded ${CLAUDE_PLUGIN_DATA} falls back to the variable Claude Code sets.
    record.write_text(f"{server}\n{venv}\n")
    os.utime(record, (time.time() + 5, time.time() + 5))
    env = {**env, "DATA_PLATFORM_PLUGIN_DATA": "${CLAUDE_PLUGIN_DATA}", "CLAUDE_PLUGIN_DATA": str(data)}
    assert start()[0] == "fake python: -m data_platform serve"


# -- the environment key and data folder ------------------------------------------------------


def test_env_key_follows_the_server_sources(tmp_path: Path) -> None:
    server = tmp_path / "server"
    shutil.copytree(
        REPO / "mcp-servers" / "data-platform",
        server,
        ignore=shutil.ignore_patterns(".venv", "__pycache__", "tests", "bench"),
    )
    key = launch.env_key(str(server))
    (server / "src" / "data_platform" / "__pycache__").mkdir(exist_ok=True)
    (server / "src" / "data_platform" / "__pycache__" / "x.pyc").write_bytes(b"junk")
    (server / "tests").mkdir()
    (server / "tests" / "test_new.py").write_text("")
    assert launch.env_key(str(server)) == key  # caches and tests do not change the installed server
    pyproject = server / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('version = "', 'version = "9'))
    bumped = launch.env_key(str(server))
    assert bumped != key
    (server / "src" / "data_platform" / "errors.py").write_text("# changed\n")
    assert launch.env_key(str(server)) not in (key, bumped)


def test_data_dir_ignores_unexpanded_variables(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("DATA_PLATFORM_PLUGIN_DATA", "${CLAUDE_PLUGIN_DATA}")
    monkeypatch.setenv("CLAUDE_PLUGIN_DATA", str(tmp_path / "plugin-data"))
    assert launch.data_dir() == str(tmp_path / "plugin-data")
    monkeypatch.delenv("CLAUDE_PLUGIN_DATA")
    assert launch.data_dir() == str(tmp_path / "xdg" / "data-platform-plugin")


# -- the SessionStart hook --------------------------------------------------------------------


def run_hook(plugin: Path, project: Path, env: dict[str, str]) -> tuple[dict, str, float]:
    """Run the SessionStart hook as Claude Code does: its command in a shell, JSON on stdin."""
    config = json.loads((plugin / "hooks" / "hooks.json").read_text())
    [group] = config["hooks"]["SessionStart"]
    [hook] = group["hooks"]
    payload = {
        "session_id": "test",
        "transcript_path": str(project / "t.jsonl"),
        "cwd": str(project),
        "hook_event_name": "SessionStart",
        "source": "startup",
    }
    env = {**env, "CLAUDE_PLUGIN_ROOT": str(plugin), "CLAUDE_PROJECT_DIR": str(project)}
    start = time.monotonic()
    out = subprocess.run(
        ["sh", "-c", hook["command"]],
        input=json.dumps(payload),
        env=env,
        cwd=project,
        capture_output=True,
        text=True,
        timeout=hook["timeout"],
    )
    elapsed = time.monotonic() - start
    assert out.returncode == 0, out.stderr
    assert elapsed < hook["timeout"]
    return json.loads(out.stdout), out.stdout, elapsed


def wrong_password(url: str, password: str) -> str:
    return url.replace(f":{password}@", ":not-the-password-x7@")


@pytest.mark.slow
def test_session_hook_up_down_and_bad_login(built: Installed, pg: Cluster) -> None:
    env = built.env(CLAUDE_PLUGIN_DATA=str(built.data), POSTGRES_URL=pg.url)
    up, raw, elapsed = run_hook(built.plugin, built.project, env)
    context = up["hookSpecificOutput"]["additionalContext"]
    assert up["hookSpecificOutput"]["hookEventName"] == "SessionStart"
    assert "systemMessage" not in up, up
    assert "PostgreSQL OK" in context and "PostGIS" in context, context
    assert pg.password not in raw
    print(f"hook, database up, login checked: {elapsed:.2f} s: {context}")

    bad_url = wrong_password(pg.url, pg.password)
    bad, raw, _ = run_hook(built.plugin, built.project, {**env, "POSTGRES_URL": bad_url})
    assert "login failed" in bad["systemMessage"], bad
    assert "not-the-password-x7" not in raw and pg.password not in raw

    if pg.managed:
        pg.stop()
    else:  # an external test database cannot be stopped: a closed port stands in for it
        env["POSTGRES_URL"] = pg.url.replace(f":{pg.port}/", f":{free_port()}/")
    try:
        down, raw, elapsed = run_hook(built.plugin, built.project, env)
    finally:
        if pg.managed:
            pg.start()
    assert "unreachable" in down["systemMessage"], down
    assert "pg_* and st_* tools" in down["hookSpecificOutput"]["additionalContext"]
    assert pg.password not in raw
    print(f"hook, database down: {elapsed:.2f} s: {down['systemMessage']}")


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_session_hook_before_the_environment_exists(tmp_path: Path, pg: Cluster) -> None:
    """The first session must not wait for the build: a protocol-level check, no login yet."""
    project = tmp_path / "project"
    project.mkdir()
    (project / ".env").write_text(f"POSTGRES_URL={pg.url}\n")
    env = server_env({"CLAUDE_PLUGIN_DATA": str(tmp_path / "empty-data"), "HOME": str(tmp_path)})
    up, raw, elapsed = run_hook(PLUGIN, project, env)
    context = up["hookSpecificOutput"]["additionalContext"]
    assert "systemMessage" not in up and "answers" in context and "built" in context, up
    assert pg.password not in raw
    assert elapsed < 10, elapsed  # the build takes a minute: the hook did not wait for it

    (project / ".env").unlink()
    unset, raw, _ = run_hook(PLUGIN, project, env)
    assert "not configured" in unset["systemMessage"], unset

    off, raw, _ = run_hook(PLUGIN, project, {**env, "DATA_PLATFORM_DISABLE": "postgres"})
    assert "systemMessage" not in off and "disabled" in off["hookSpecificOutput"]["additionalContext"]


def test_session_hook_reads_config_like_the_server(tmp_path: Path) -> None:
    """The hook's stdlib reader and the server's settings agree on where PostgreSQL is."""
    env_file = tmp_path / "pg.env"
    env_file.write_text(
        "# comment\nexport POSTGRES_URL='postgresql://ann:s%40cret@db.example:6543/sales?sslmode=require'\n"
        "PGHOST=ignored-when-url-has-host # trailing\n"
    )
    assert session_check.parse_env_file(str(env_file)) == parse_env_file(env_file)
    cases = [
        parse_env_file(env_file),
        {"PGHOST": "/var/run/postgresql", "PGUSER": "bob", "PGDATABASE": "x"},
        {"DATABASE_URL": "postgres://u@h/db", "PGPORT": "5433", "PGPASSWORD": "pw"},
        {"POSTGRES_URL": "postgresql:///db?host=/tmp/sock", "PGUSER": "me"},
    ]
    for env in cases:
        server = postgres_from_env(env)
        hook = session_check.postgres_target(env)
        assert server is not None and hook is not None
        got = (hook["host"], hook["port"], hook["user"], hook["dbname"])
        assert got == (server.host, server.port, server.user, server.dbname), env
        password = server.password.get_secret_value() if server.password else None
        assert hook.get("password") == password
    assert session_check.postgres_target({}) is None and postgres_from_env({}) is None


# -- tool names in commands and agents ------------------------------------------------------


@pytest.mark.anyio
async def test_commands_and_agents_name_real_tools(project: Path, tmp_path: Path) -> None:
    """Every MCP tool a command or agent names is in the live server's tools/list."""
    async with inmemory(project) as client:
        listed = await client.list_tools()
    names = {t.name for t in listed.tools}
    tools_file = tmp_path / "tools.json"
    tools_file.write_text(json.dumps([{"name": n} for n in sorted(names)]))
    out = check_plugin(REPO, "--only-tool-names", "--tools", str(tools_file))
    assert out.returncode == 0, out.stderr
    check = load_module(REPO / "scripts" / "check_plugin.py")
    referenced = {n for tools in check.referenced_tools(str(PLUGIN)).values() for n in tools}
    assert len(referenced) > 30  # the frontmatter parser really found the tool lists
