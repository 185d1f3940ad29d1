#!/usr/bin/env python3
"""SessionStart check: is PostgreSQL configured and reachable? Warn, never block.

Claude Code runs this at session start with the hook's JSON on stdin. It reads the same
configuration as the server (`~/.config/claude/postgres.env`, the project's `.env`, the
environment; POSTGRES_URL / DATABASE_URL / PG* variables), tries a TCP connection with a
short timeout and, when the server's environment is already built, a real login through
`data-platform doctor`. It prints one JSON object: a `systemMessage` warning for the person
plus context for the model when something is wrong, a one-line status when all is well.
It always exits 0 and never prints a password.

Standard library only: the first session must not wait for the environment build.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from urllib.parse import parse_qsl, unquote, urlsplit

HERE = os.path.dirname(os.path.abspath(__file__))
SYSTEM_ENV_FILE = "~/.config/claude/postgres.env"
TCP_TIMEOUT_S = 2.0
LOGIN_TIMEOUT_S = 6.0
SSL_REQUEST = (8).to_bytes(4, "big") + (80877103).to_bytes(4, "big")
_URL_PASSWORD = re.compile(r"(?P<head>[a-zA-Z][a-zA-Z0-9+.-]*://[^:/@\s]*:)(?P<pw>[^@\s/]+)@")


def parse_env_file(path: str) -> dict[str, str]:
    """KEY=VALUE lines (optional `export`, quotes, # comments): the server's own rules."""
    values: dict[str, str] = {}
    try:
        with open(os.path.expanduser(path), encoding="utf-8") as f:
            text = f.read()
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


def merged_environment(project_dir: str, environ: dict[str, str]) -> dict[str, str]:
    """System env file, then the project's `.env`, then the environment: later wins."""
    merged = parse_env_file(SYSTEM_ENV_FILE)
    merged.update(parse_env_file(os.path.join(project_dir, ".env")))
    merged.update(environ)
    return merged


def postgres_target(env: dict[str, str]) -> dict[str, object] | None:
    """host, port, user, dbname, source and the password (kept for redaction only), or None."""
    url_var = next((v for v in ("POSTGRES_URL", "DATABASE_URL") if env.get(v)), None)
    libpq = ("PGHOST", "PGPORT", "PGUSER", "PGPASSWORD", "PGDATABASE")
    if url_var is None and not any(env.get(v) for v in libpq):
        return None
    target: dict[str, object] = {"source": url_var or "PG* variables"}
    if url_var:
        parts = urlsplit(env[url_var])
        if parts.scheme not in ("postgres", "postgresql"):
            target["error"] = f"{url_var} must start with postgresql://"
            return target
        query = dict(parse_qsl(parts.query))
        try:
            port = parts.port
        except ValueError:
            target["error"] = f"{url_var} has an invalid port"
            return target
        target.update(
            host=parts.hostname or query.get("host"),
            port=port,
            user=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password is not None else None,
            dbname=unquote(parts.path.lstrip("/")) or None,
        )
    fallback = {
        "host": "PGHOST",
        "port": "PGPORT",
        "user": "PGUSER",
        "password": "PGPASSWORD",
        "dbname": "PGDATABASE",
    }
    for key, var in fallback.items():
        if target.get(key) in (None, "") and env.get(var):
            target[key] = env[var]
    target["host"] = target.get("host") or "localhost"
    try:
        target["port"] = int(target.get("port") or 5432)  # type: ignore[arg-type]
    except ValueError:
        target["error"] = "PGPORT is not a number"
    return target


def describe(target: dict[str, object]) -> str:
    """user@host:port/db, without the password."""
    user = f"{target['user']}@" if target.get("user") else ""
    return f"{user}{target['host']}:{target['port']}/{target.get('dbname') or ''}"


def redact(text: str, target: dict[str, object] | None) -> str:
    password = str(target.get("password") or "") if target else ""
    if password:
        text = text.replace(password, "***")
    return _URL_PASSWORD.sub(lambda m: m["head"] + "***@", text)


def probe(host: str, port: int, timeout: float = TCP_TIMEOUT_S) -> str | None:
    """None when a PostgreSQL server answers there, else the reason.

    Sends the protocol's SSLRequest (no credentials): a PostgreSQL server answers one byte,
    `S` or `N`. A bare TCP connect is not enough: proxies and other services accept those.
    """
    try:
        if host.startswith("/"):
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(timeout)
            sock.connect(os.path.join(host, f".s.PGSQL.{port}"))
        else:
            sock = socket.create_connection((host, port), timeout=timeout)
        with sock:
            sock.settimeout(timeout)
            sock.sendall(SSL_REQUEST)
            answer = sock.recv(1)
    except TimeoutError:
        return f"no answer within {timeout:g} s"
    except OSError as exc:
        return exc.strerror or type(exc).__name__
    if answer in (b"S", b"N", b"E"):
        return None
    if not answer:
        return "the connection was closed without a PostgreSQL answer"
    return "something answers there, but not a PostgreSQL server"


def environment_state() -> dict[str, object]:
    """Whether the server's Python environment is built (via the launcher's own logic)."""
    sys.path.insert(0, os.path.join(os.path.dirname(HERE), "scripts"))
    try:
        import launch  # the plugin's launcher: standard library only

        return launch.status()
    except Exception as exc:  # a check reports, it never fails the session
        return {"ready": False, "building": False, "error": f"cannot read the environment state: {exc}"}


def login_check(venv_python: str, project_dir: str, timeout: float = LOGIN_TIMEOUT_S) -> tuple[bool, str]:
    """A real login via `data-platform doctor --json` in the built environment."""
    env = dict(os.environ)
    env["DATA_PLATFORM_CONNECT_TIMEOUT"] = str(max(1, int(timeout) - 3))
    env["DATA_PLATFORM_DISABLE"] = ",".join(x for x in ("dbt", env.get("DATA_PLATFORM_DISABLE", "")) if x)
    try:
        out = subprocess.run(
            [venv_python, "-m", "data_platform", "doctor", "--json"],
            cwd=project_dir,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        report = json.loads(out.stdout)
        check = next(c for c in report["checks"] if c["name"] == "postgres")
        return bool(check["ok"]), str(check["detail"])
    except subprocess.TimeoutExpired:
        return False, f"login check gave no answer within {timeout:g} s"
    except (OSError, ValueError, KeyError, StopIteration):
        return True, "login not checked (the doctor gave no report)"


def check(payload: dict[str, object], environ: dict[str, str]) -> dict[str, object]:
    """The hook's output for this session."""
    project = str(payload.get("cwd") or environ.get("CLAUDE_PROJECT_DIR") or os.getcwd())
    env = merged_environment(project, environ)
    disabled = {x.strip() for x in env.get("DATA_PLATFORM_DISABLE", "").split(",")}
    state = environment_state()
    notes = []
    if state.get("error"):
        notes.append(f"server environment problem: {state['error']} (log: {state.get('log', '?')})")
    elif state.get("building"):
        notes.append(
            "the server's Python environment is being built (first start or plugin update, about a "
            "minute); data-platform tools appear when it is ready (/mcp reconnects)"
        )
    elif not state.get("ready"):
        notes.append("the server's Python environment is built on the server's first start (about a minute)")
    if "postgres" in disabled:
        return status_output("PostgreSQL tools are disabled (DATA_PLATFORM_DISABLE).", notes)
    target = postgres_target(env)
    if target is None:
        return warning_output(
            "PostgreSQL is not configured",
            "set POSTGRES_URL (or DATABASE_URL, or PG* variables) in the project's .env, "
            "~/.config/claude/postgres.env or the environment; DATA_PLATFORM_DISABLE=postgres hides this",
            notes,
        )
    if target.get("error"):
        return warning_output("PostgreSQL settings are invalid", str(target["error"]), notes)
    where = describe(target)
    started = time.monotonic()
    reason = probe(str(target["host"]), int(target["port"]))  # type: ignore[arg-type]
    if reason is not None:
        return warning_output(
            f"PostgreSQL at {where} (from {target['source']}) is unreachable: {redact(reason, target)}",
            "start the database or fix the connection settings",
            notes,
        )
    if state.get("ready") and state.get("venv"):
        import launch

        ok, detail = login_check(launch.venv_python(str(state["venv"])), project)
        detail = redact(detail, target)
        if not ok:
            return warning_output(
                f"PostgreSQL login failed: {detail}", "check user, password and database name", notes
            )
        return status_output(f"PostgreSQL OK: {detail}.", notes)
    ms = (time.monotonic() - started) * 1000
    return status_output(
        f"PostgreSQL at {where} answers ({ms:.0f} ms; login not checked until the environment is built).",
        notes,
    )


def status_output(line: str, notes: list[str]) -> dict[str, object]:
    text = "data-platform: " + " ".join([line, *(n[0].upper() + n[1:] + "." for n in notes)])
    return {"hookSpecificOutput": {"hookEventName": "SessionStart", "additionalContext": text}}


def warning_output(problem: str, fix: str, notes: list[str]) -> dict[str, object]:
    extra = "".join(f" Also: {n}." for n in notes)
    return {
        "systemMessage": f"data-platform: {problem}. Fix: {fix}.{extra}",
        "hookSpecificOutput": {
            "hookEventName": "SessionStart",
            "additionalContext": (
                f"data-platform: {problem}, so the pg_* and st_* tools (and dbt runs against this "
                f"database) will fail until that is fixed ({fix}). File and DataFrame tools work.{extra}"
            ),
        },
    }


def main() -> int:
    try:
        raw = sys.stdin.read() if not sys.stdin.isatty() else ""
        payload = json.loads(raw) if raw.strip() else {}
        if not isinstance(payload, dict):
            payload = {}
        result = check(payload, dict(os.environ))
    except Exception as exc:  # never block or break the session
        result = {
            "hookSpecificOutput": {
                "hookEventName": "SessionStart",
                "additionalContext": f"data-platform: the session check failed ({type(exc).__name__}).",
            }
        }
    sys.stdout.write(json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
