"""No password in any output: the scanner itself, its session hook, and live servers.

The session-wide scan runs in `pytest_sessionfinish` (conftest.py, tests/secret_scan.py)
over every tool answer and server log line of the whole suite. The tests here prove that
scan can fail (a planted leak makes a pytest session fail), and drive every listed tool
against a misconfigured and a real database with passwords that must never come back.
"""

from __future__ import annotations

import base64
import subprocess
import textwrap
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import pytest

import secret_scan
from argfuzz import example_arguments
from fuzzenv import pg_env, pools_for, seed_files, seed_registry
from harness import LOG_DIR
from innersession import inner_session
from liveserver import live_server
from pgcluster import Cluster


def test_scanner_finds_every_form_of_a_secret(tmp_path: Path) -> None:
    secret = "pw-S3cr3t/with:odd@chars"
    log = tmp_path / "server.log"
    log.write_text(
        "fine line\n"
        f"connecting to postgresql://u:{quote(secret, safe='')}@h/db\n"
        f'{{"text": "password was {secret}"}}\n'
        f"blob {base64.b64encode(secret.encode()).decode()}\n"
        "masked postgresql://u:***@h/db\n"
    )
    leaks = secret_scan.scan_files([log], {secret})
    assert sorted((leak.line, leak.form) for leak in leaks) == [(2, "url-encoded"), (3, "raw"), (4, "base64")]
    assert "<SECRET>" in str(leaks[0]) and secret not in str(leaks[0]), "a report must not repeat the secret"
    assert secret_scan.scan_files([log], {"not-in-there-at-all"}) == []


def _inner_session(tmp_path: Path, leak: bool) -> subprocess.CompletedProcess[str]:
    """A separate pytest session using the suite's conftest hooks, with or without a planted leak."""
    line = "postgresql://u:pw-planted-leak-42@h/db" if leak else "postgresql://u:***@h/db"
    tests = textwrap.dedent(f"""
        import harness, secret_scan

        def test_writes_a_log_line():
            secret_scan.register_secret("pw-planted-leak-42")
            harness.LOG_DIR.mkdir(parents=True, exist_ok=True)
            (harness.LOG_DIR / "server.log").write_text("connecting to {line}\\n")
        """)
    return inner_session(tmp_path / ("leaky" if leak else "clean"), tests, timeout=120)


def test_session_scan_fails_the_run_on_a_planted_leak(tmp_path: Path) -> None:
    leaky = _inner_session(tmp_path, leak=True)
    assert leaky.returncode == 1, leaky.stdout[-2000:] + leaky.stderr[-2000:]
    assert "1 passed" in leaky.stdout, "the test itself passed: only the session scan can fail it"
    assert "SECRET LEAK" in leaky.stdout and "server.log:1" in leaky.stdout
    assert "pw-planted-leak-42" not in leaky.stdout, "the report must not print the secret"
    # The clean case (a masked URL passes) is this very suite's own session end.


def _every_tool_once(project: Path, env: dict[str, str], secret: str, log_name: str, *more: str) -> int:
    """Call every listed tool with well-shaped arguments; assert no answer holds the secret(s)."""
    every = {secret, *more}
    seeded = seed_registry(project)
    reads, writes = seed_files(project)
    pools = pools_for(seeded, reads, writes, None)
    calls = 0
    with live_server(project, env, log_name=log_name) as server:
        for tool in server.tools():
            for args in (example_arguments(tool, pools), {}):
                outcome = server.call(tool["name"], args, timeout=60)
                calls += 1
                assert not secret_scan.scan_text(outcome.text + str(outcome.structured), every), (
                    f"{tool['name']} leaked a secret: {outcome.describe()}"
                )
                assert outcome.problem() is None, outcome.describe()
    log = LOG_DIR / f"{log_name}.log"
    assert not secret_scan.scan_files([log], every), f"the server log {log} holds a secret"
    return calls


UNREACHABLE_PW, AWS_SECRET = "Unreachable-Pw-7f3a9c", "Aws-Profile-Secret-5d1e8b"
UNREACHABLE = {
    "POSTGRES_URL": f"postgresql://someone:{UNREACHABLE_PW}@127.0.0.1:1/nowhere",
    "DATA_PLATFORM_CONNECT_TIMEOUT": "2",
}


def _aws_profile_in_env_file(project: Path) -> None:
    """An AWS profile with a secret, named in the project's .env; its endpoint a closed loopback port."""
    secret_scan.register_secret(UNREACHABLE_PW)
    secret_scan.register_secret(AWS_SECRET)
    creds = project.parent / "aws-credentials"
    creds.write_text(f"[leaky]\naws_access_key_id = AKIALEAKY\naws_secret_access_key = {AWS_SECRET}\n")
    (project / ".env").write_text(
        f"AWS_PROFILE=leaky\nAWS_SHARED_CREDENTIALS_FILE={creds}\nAWS_ENDPOINT_URL=http://127.0.0.1:1\n"
    )


def test_no_tool_reveals_the_password_of_an_unreachable_database(project: Path) -> None:
    """... nor the secret of the AWS profile in play (every tool once, with it in the .env)."""
    _aws_profile_in_env_file(project)
    calls = _every_tool_once(project, UNREACHABLE, UNREACHABLE_PW, "secrets-unreachable", AWS_SECRET)
    print(f"\n{calls} calls against an unreachable database: no secret in any answer or log line")


def test_no_storage_tool_reveals_an_aws_profile_or_rest_catalog_secret(project: Path) -> None:
    """s3:// paths and an Iceberg REST catalog, both unreachable, with their secrets in the .env
    (a test of its own: each call waits out the S3 client's retries, beside the one above)."""
    _aws_profile_in_env_file(project)
    seed_registry(project)
    rest_secret = "Rest-Client-Secret-2e7c4a"  # an Iceberg REST catalog's client credential, from .env
    secret_scan.register_secret(rest_secret)
    with (project / ".env").open("a") as f:
        f.write(f"REST_CREDENTIAL=client:{rest_secret}\n")
    (project / ".data-platform").mkdir(exist_ok=True)
    (project / ".data-platform" / "connections.toml").write_text(
        '[iceberg.rest]\nuri = "http://127.0.0.1:1"\ncredential = "${REST_CREDENTIAL}"\n', encoding="utf-8"
    )
    calls = 0
    with live_server(project, UNREACHABLE, log_name="secrets-unreachable-s3") as server:  # the profile in use
        for tool, args, where in (
            ("read_parquet", {"path": "s3://bucket/data/", "where": "year = 2024"}, "s3://bucket"),
            ("list_files", {"path": "s3://bucket/"}, "s3://bucket"),
            ("to_parquet", {"data_ref": "seed_a", "path": "s3://bucket/out.parquet"}, "s3://bucket"),
            ("write_table", {"data_ref": "seed_a", "table": "s3://bucket/delta"}, "s3://bucket"),
            ("list_files", {"path": "rest"}, "REST catalog 'rest'"),
            ("read_parquet", {"path": "rest.sales.orders", "where": "year = 2024"}, "REST catalog 'rest'"),
            ("write_table", {"data_ref": "seed_a", "table": "rest.sales.orders"}, "REST catalog 'rest'"),
        ):
            outcome = server.call(tool, args, timeout=60)
            calls += 1
            assert outcome.kind == "error" and where in outcome.text, outcome.describe()
            text = outcome.text + str(outcome.structured)
            assert not secret_scan.scan_text(text, {AWS_SECRET, rest_secret})
    log = LOG_DIR / "secrets-unreachable-s3.log"
    assert not secret_scan.scan_files([log], {AWS_SECRET, rest_secret}), (
        f"the server log {log} holds a secret"
    )
    print(f"\n{calls} calls against unreachable S3 and REST catalog: no secret in any answer or log line")


@pytest.mark.slow
def test_no_tool_reveals_a_wrong_or_right_password(pg: Cluster, project: Path, tmp_path: Path) -> None:
    wrong = "Wrong-Pw-" + pg.password[-6:] + "x"
    secret_scan.register_secret(wrong)
    parts = urlsplit(pg.url)
    bad_url = urlunsplit(parts._replace(netloc=f"{pg.user}:{quote(wrong, safe='')}@{pg.host}:{pg.port}"))
    _every_tool_once(
        project, {"POSTGRES_URL": bad_url, "DATA_PLATFORM_CONNECT_TIMEOUT": "3"}, wrong, "secrets-authfail"
    )
    other = tmp_path / "project2"
    other.mkdir()
    calls = _every_tool_once(other, pg_env(pg.url), pg.password, "secrets-real")
    print(f"\n{calls} calls against the real database: no password in any answer or log line")


@pytest.mark.parametrize("form", ["raw", "url-encoded", "base64"])
def test_forms_are_distinct_for_a_password_with_specials(form: str) -> None:
    values = secret_scan.forms("p@ss/w:rd+")
    assert values[form] and (form == "raw" or values[form] != values["raw"])
