#!/usr/bin/env python3
"""Start the data-platform MCP server over stdio; build its Python environment on first start.

Claude Code runs `launch.sh` from the plugin's `.mcp.json`; it comes here unless an
environment built for these sources is recorded (its fast path). The server's code is in
`<plugin>/mcp-servers/data-platform`: a symlink in the repository, a real copy once
Claude Code installs the plugin into its cache. Its environment is built into
`$CLAUDE_PLUGIN_DATA/venvs/<key>` (which survives plugin updates), where the key is a
hash of the server's pyproject.toml and sources: an update that changes the server gets
a new environment, and a later start only hashes a few files and execs the server.

The build runs in a detached process that outlives this one. A first build can take a
minute or more; if the host gives up waiting and kills this launcher, the build still
finishes, and the next start is fast.

Standard library only, and it runs on older Pythons too: it has to work before any
environment exists. The SessionStart check (`hooks/session_check.py`) imports it to find
the environment.

Usage: launch.py [serve args...] | launch.py --build | launch.py --status
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time

# Bump to force every user's environment to be rebuilt (e.g. when the build recipe changes).
RECIPE = "1"
SUPPORTED = ((3, 11), (3, 13))  # the server's requires-python: >=3.11,<3.14
READY = ".data-platform-ready"
KEEP_OLD = 1  # environments of earlier keys kept, for sessions still running them

PLUGIN_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SERVER_DIR = os.path.join(PLUGIN_ROOT, "mcp-servers", "data-platform")
_SKIP_DIRS = {"__pycache__", ".venv", ".pytest_cache", ".ruff_cache"}


def data_dir() -> str:
    """Where environments live: the plugin's data folder, else a per-user data folder.

    `.mcp.json` passes `${CLAUDE_PLUGIN_DATA}` as DATA_PLATFORM_PLUGIN_DATA: Claude Code
    leaves an `env` entry named CLAUDE_PLUGIN_DATA unexpanded (it sets that variable
    itself too, which hooks see). A value still holding `${` was not expanded: ignore it.
    """
    for name in ("DATA_PLATFORM_PLUGIN_DATA", "CLAUDE_PLUGIN_DATA"):
        explicit = os.environ.get(name, "")
        if explicit and "${" not in explicit:
            return os.path.abspath(os.path.expanduser(explicit))
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return os.path.join(base, "data-platform-plugin")


def source_files(server_dir: str = SERVER_DIR) -> list[str]:
    """The files that define the installed server: pyproject.toml, README.md and src/."""
    files = [os.path.join(server_dir, name) for name in ("pyproject.toml", "README.md")]
    for folder, dirs, names in os.walk(os.path.join(server_dir, "src")):
        dirs[:] = sorted(d for d in dirs if d not in _SKIP_DIRS and not d.endswith(".egg-info"))
        files.extend(os.path.join(folder, n) for n in sorted(names) if not n.endswith((".pyc", ".pyo")))
    return [f for f in files if os.path.isfile(f)]


def env_key(server_dir: str = SERVER_DIR) -> str:
    """A short hash of the recipe, the server's version files and its sources."""
    digest = hashlib.sha256(("recipe " + RECIPE + "\n").encode())
    for path in source_files(server_dir):
        digest.update(os.path.relpath(path, server_dir).replace(os.sep, "/").encode() + b"\0")
        with open(path, "rb") as f:
            digest.update(hashlib.sha256(f.read()).digest())
    return digest.hexdigest()[:16]


def venv_dir(key: str | None = None, data: str | None = None) -> str:
    return os.path.join(data or data_dir(), "venvs", key or env_key())


def venv_python(venv: str) -> str:
    return os.path.join(venv, "bin", "python")


def is_ready(venv: str) -> bool:
    return os.path.isfile(os.path.join(venv, READY)) and os.path.exists(venv_python(venv))


def log_path(data: str | None = None) -> str:
    return os.path.join(data or data_dir(), "build.log")


def status() -> dict[str, object]:
    """What the SessionStart check and `--status` report: is the environment ready, or building."""
    data = data_dir()
    if not os.path.isdir(SERVER_DIR):
        return {"ready": False, "building": False, "error": f"server code missing: {SERVER_DIR}"}
    venv = venv_dir(data=data)
    state: dict[str, object] = {"ready": is_ready(venv), "venv": venv, "log": log_path(data)}
    state["building"] = not state["ready"] and _lock_held(data)
    failed = _read_json(os.path.join(data, "build-failed.json"))
    if not state["ready"] and failed and failed.get("key") == os.path.basename(venv):
        state["error"] = failed.get("error", "the last build failed")
    return state


def _read_json(path: str) -> dict[str, object] | None:
    try:
        with open(path, encoding="utf-8") as f:
            value = json.load(f)
        return value if isinstance(value, dict) else None
    except (OSError, ValueError):
        return None


def _lock_held(data: str) -> bool:
    """True while some build holds the build lock."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        return False
    path = os.path.join(data, "build.lock")
    if not os.path.exists(path):
        return False
    with open(path, "a") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return True
        fcntl.flock(f, fcntl.LOCK_UN)
    return False


@contextlib.contextmanager
def _build_lock(data: str):
    """One build at a time per data folder (two sessions may start at once)."""
    import fcntl

    with open(os.path.join(data, "build.lock"), "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _probe(exe: str) -> tuple[tuple[int, int], str] | None:
    """(version, real executable) of a Python, or None if it does not run (e.g. a dead pyenv shim)."""
    try:
        out = subprocess.run(
            [exe, "-c", "import sys; print('%d %d' % sys.version_info[:2]); print(sys.executable)"],
            capture_output=True,
            text=True,
            timeout=30,
        )
        first, real = out.stdout.strip().splitlines()
        major, minor = first.split()
        return (int(major), int(minor)), real
    except (OSError, ValueError, subprocess.SubprocessError):
        return None


def find_python() -> str:
    """A Python the server supports: $DATA_PLATFORM_PYTHON, else the newest python3.1x on PATH."""
    wanted = os.environ.get("DATA_PLATFORM_PYTHON")
    candidates = [wanted] if wanted else []
    candidates += ["python3.13", "python3.12", "python3.11", "python3", sys.executable]
    for name in candidates:
        exe = shutil.which(name) if name and not os.path.isabs(name) else name
        found = _probe(exe) if exe else None
        if found and SUPPORTED[0] <= found[0] <= SUPPORTED[1]:
            return found[1]
    raise RuntimeError(
        "no Python 3.11-3.13 found on PATH; install one, or set DATA_PLATFORM_PYTHON to its path"
    )


def _run(cmd: list[str], log) -> None:
    log.write("$ " + " ".join(cmd) + "\n")
    log.flush()
    subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log, check=True)


def _install(venv: str, python: str, log) -> None:
    """Create the venv and install the server into it, non-editable (the cache copy may vanish)."""
    uv = shutil.which("uv")
    if uv:
        _run([uv, "venv", "--quiet", "--python", python, venv], log)
    else:
        _run([python, "-m", "venv", venv], log)
        with contextlib.suppress(subprocess.CalledProcessError):
            _run([venv_python(venv), "-m", "pip", "install", "--quiet", "uv"], log)
        local_uv = os.path.join(venv, "bin", "uv")
        uv = local_uv if os.path.exists(local_uv) else None
    target = venv_python(venv)
    try:
        if not uv:
            raise FileNotFoundError("uv")
        _run([uv, "pip", "install", "--quiet", "--compile-bytecode", "--python", target, SERVER_DIR], log)
    except (OSError, subprocess.CalledProcessError) as exc:
        # pip reads pip.conf (proxies, certificates, mirrors) where uv may not: try it too.
        log.write(f"uv could not install ({exc}); trying pip\n")
        with contextlib.suppress(subprocess.CalledProcessError):
            _run([target, "-m", "ensurepip", "--upgrade"], log)
        _run([target, "-m", "pip", "install", "--quiet", SERVER_DIR], log)
    _run([target, "-c", "import data_platform.server"], log)


def _prune(data: str, keep: str) -> None:
    """Remove environments of earlier keys, keeping the newest few for running sessions."""
    root = os.path.join(data, "venvs")
    others = [os.path.join(root, d) for d in os.listdir(root) if os.path.join(root, d) != keep]
    others.sort(key=lambda p: os.path.getmtime(p), reverse=True)
    for old in others[KEEP_OLD:]:
        shutil.rmtree(old, ignore_errors=True)


def build(key: str | None = None) -> str:
    """Build the environment for `key` (the current sources) unless it is ready; return its path."""
    data = data_dir()
    os.makedirs(os.path.join(data, "venvs"), exist_ok=True)
    key = key or env_key()
    venv = venv_dir(key, data)
    with _build_lock(data), open(log_path(data), "a", encoding="utf-8") as log:
        if is_ready(venv):
            return venv
        start = time.time()
        log.write(f"\n== {time.strftime('%Y-%m-%d %H:%M:%S')} building {venv} from {SERVER_DIR}\n")
        shutil.rmtree(venv, ignore_errors=True)  # a build that was killed half-way
        failed = os.path.join(data, "build-failed.json")
        try:
            python = find_python()
            _install(venv, python, log)
        except (OSError, RuntimeError, subprocess.CalledProcessError) as exc:
            log.write(f"!! build failed: {exc}\n")
            with open(failed, "w", encoding="utf-8") as f:
                json.dump({"key": key, "error": str(exc), "log": log_path(data), "at": time.time()}, f)
            shutil.rmtree(venv, ignore_errors=True)
            raise
        seconds = round(time.time() - start, 1)
        with open(os.path.join(venv, READY), "w", encoding="utf-8") as f:
            json.dump({"key": key, "python": python, "seconds": seconds, "server": SERVER_DIR}, f)
        with contextlib.suppress(OSError):
            os.remove(failed)
        log.write(f"== ready in {seconds} s\n")
        _prune(data, venv)
    return venv


def _spawn_build(key: str) -> subprocess.Popen:
    """Start the build in its own session so it survives the host killing this launcher."""
    data = data_dir()
    os.makedirs(data, exist_ok=True)
    with open(log_path(data), "a", encoding="utf-8") as log:
        return subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "--build-worker", key],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=log,
            start_new_session=True,
            close_fds=True,
        )


def _tail(path: str, lines: int = 15) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return "".join(f.readlines()[-lines:])
    except OSError:
        return ""


def ensure_env() -> str:
    """The ready environment for the current sources, building it (detached) if needed."""
    key = env_key()
    venv = venv_dir(key)
    if is_ready(venv):
        return venv
    say(
        "building the server's Python environment (first start or plugin update; about a minute). "
        f"Log: {log_path()}"
    )
    worker = _spawn_build(key)
    code = worker.wait()
    if code != 0 or not is_ready(venv):
        say(f"the environment build failed (exit {code}). Last lines of {log_path()}:\n{_tail(log_path())}")
        raise SystemExit(1)
    say("environment ready")
    return venv


def record_fast_path(venv: str) -> None:
    """Tell launch.sh which environment serves this copy of the plugin.

    launch.sh execs it directly while no source file is newer than this record; the record
    is rewritten whenever this (slower, hashing) path runs.
    """
    record = os.path.join(data_dir(), "fast-path")
    temp = f"{record}.{os.getpid()}"
    try:
        with open(temp, "w", encoding="utf-8") as f:
            f.write(f"{os.path.realpath(SERVER_DIR)}\n{venv}\n")
        os.replace(temp, record)
    except OSError:
        with contextlib.suppress(OSError):
            os.remove(temp)


def say(message: str) -> None:
    """Messages go to stderr: stdout is the MCP channel."""
    sys.stderr.write(f"data-platform launcher: {message}\n")
    sys.stderr.flush()


def main(argv: list[str]) -> int:
    if argv[:1] == ["--build-worker"]:
        try:
            build(argv[1])
        except (OSError, RuntimeError, subprocess.CalledProcessError):
            return 1
        return 0
    if argv[:1] == ["--status"]:
        print(json.dumps(status(), indent=2))
        return 0
    if not os.path.isdir(SERVER_DIR):
        say(f"the server's code is missing at {SERVER_DIR}; reinstall the plugin")
        return 1
    if argv[:1] == ["--build"]:
        venv = ensure_env()
        record_fast_path(venv)
        print(venv)
        return 0
    venv = ensure_env()
    record_fast_path(venv)
    python = venv_python(venv)
    os.execv(python, [python, "-m", "data_platform", "serve", *argv])
    return 1  # not reached


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
