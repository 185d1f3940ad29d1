"""Fuzz every tool the live server lists, through the real stdio protocol.

Arguments come from each tool's input schema (tests/argfuzz.py): well-shaped values from
domain pools (real refs, files, columns, SQL) and hostile ones (wrong types, missing and
extra fields, huge, empty, unicode and control strings, enormous numbers, escaping paths,
dropped refs, malformed SQL and expressions). One server lives for the whole run.

Every answer must be a success or a clean `isError` with a readable message (never a
traceback, never "Internal error", never over the output budget); the server must never
die; the seeded refs must be byte-for-byte unchanged afterwards; nothing may be written
outside the allowed roots. All offending calls are collected and printed, not just the first.

Quick run: 1,000 calls. DATA_PLATFORM_LONG_TESTS=1: 10,000 calls.
"""

from __future__ import annotations

import collections
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from argfuzz import ArgFuzzer, classify, example_arguments
from fuzzenv import (
    LONG,
    PROTECTED,
    canaries_present,
    dbt_env,
    dbt_project_copy,
    pg_env,
    pools_for,
    remove_canaries,
    scratch_database,
    seed_files,
    seed_registry,
)
from liveserver import LiveServer, Outcome, live_server
from pgcluster import Cluster

TARGET_CALLS = 10_000 if LONG else 1_000
TIME_BUDGET_S = 1_800.0 if LONG else 150.0  # shared fairly between tools; fast tools make up the count
HARD_LIMIT_S = 3_600.0 if LONG else 420.0
CALL_TIMEOUT_S = 90.0
MAX_OUTPUT = 8_000
UNKNOWN_TOOLS = ["no_such_tool", "list_data ", "LIST_DATA", ""]


class Stats:
    """Per-tool counts and time, and every unacceptable answer."""

    def __init__(self, tools: list[str], budget_s: float):
        self.share = budget_s / max(1, len(tools))
        self.calls: collections.Counter[str] = collections.Counter()
        self.ok: collections.Counter[str] = collections.Counter()
        self.seconds: collections.Counter[str] = collections.Counter()
        self.problems: list[tuple[Outcome, str]] = []
        self.largest = ("", 0)

    @property
    def total(self) -> int:
        return sum(self.calls.values())

    def capped(self, tool: str) -> bool:
        return self.calls[tool] >= 5 and self.seconds[tool] > self.share

    def add(self, outcome: Outcome) -> None:
        self.calls[outcome.tool] += 1
        self.seconds[outcome.tool] += outcome.seconds
        self.ok[outcome.tool] += outcome.ok
        if len(outcome.text) > self.largest[1]:
            self.largest = (outcome.tool, len(outcome.text))
        problem = outcome.problem(MAX_OUTPUT)
        if problem:
            self.problems.append((outcome, problem))

    def report(self) -> str:
        lines = [f"{'tool':<22} {'calls':>6} {'ok':>5} {'errors':>6} {'mean ms':>8}"]
        for tool in sorted(self.calls):
            n = self.calls[tool]
            shown = tool if tool.strip() == tool and tool else repr(tool)
            lines.append(
                f"{shown:<22} {n:>6} {self.ok[tool]:>5} {n - self.ok[tool]:>6} "
                f"{1000 * self.seconds[tool] / n:>8.1f}"
            )
        return "\n".join(lines)


def offending(problems: list[tuple[Outcome, str]], limit: int = 40) -> str:
    """Every distinct (tool, problem) once, with an example call and how often it happened."""
    groups: dict[tuple[str, str], list[Outcome]] = collections.defaultdict(list)
    for outcome, problem in problems:
        groups[(outcome.tool, problem.split(":")[0][:80])].append(outcome)
    out = [f"{len(problems)} unacceptable answer(s) in {len(groups)} group(s):"]
    for (tool, problem), items in list(groups.items())[:limit]:
        out.append(f"- {tool}: {problem} (x{len(items)})\n    {items[0].describe()}")
    return "\n".join(out)


@pytest.fixture
def fuzz_world(pg: Cluster, project: Path, tmp_path: Path) -> dict[str, Any]:
    """Seeded refs and files, a scratch database, and a dbt project copy when the suite has one."""
    seeded = seed_registry(project)
    reads, writes = seed_files(project)
    url = scratch_database(pg, "dp_harden_fuzz")
    dbt_project = dbt_project_copy(tmp_path / "dbt")
    env = {
        **pg_env(url),
        **dbt_env(dbt_project),
        "DATA_PLATFORM_STATEMENT_TIMEOUT": "3",
        "DATA_PLATFORM_CONNECT_TIMEOUT": "3",
        "DATA_PLATFORM_DBT_TIMEOUT": "60",
    }
    remove_canaries()
    return {
        "seeded": seeded,
        "pools": pools_for(seeded, reads, writes, dbt_project),
        "env": env,
        "dbt": dbt_project,
    }


MIN_CALLS = 5  # every listed tool is fuzzed at least this often


@pytest.mark.slow
def test_fuzz_every_tool_through_the_protocol(fuzz_world: dict[str, Any], project: Path) -> None:
    seeded = fuzz_world["seeded"]
    server = LiveServer(project, fuzz_world["env"], log_name="fuzz").start()
    try:
        tools = server.tools()
        names = [t["name"] for t in tools]
        fuzzer = ArgFuzzer(fuzz_world["pools"])
        strategies = {t["name"]: fuzzer.arguments(t) for t in tools}
        stats = Stats(names, TIME_BUDGET_S)
        started = time.monotonic()
        print(f"\nfuzzing {len(names)} tools: {', '.join(sorted(names))}")
        print(f"dbt project: {fuzz_world['dbt'] or 'none (dbt tools answer not-configured)'}")

        @settings(
            max_examples=max(1, TARGET_CALLS),
            database=None,
            deadline=None,
            phases=[Phase.generate],
            suppress_health_check=[
                HealthCheck.too_slow,
                HealthCheck.data_too_large,
                HealthCheck.filter_too_much,
                HealthCheck.large_base_example,
            ],
        )
        @given(st.data())
        def one_call(data: st.DataObject) -> None:
            # Draw the same way whatever the state (Hypothesis requires it); decide afterwards.
            if data.draw(st.integers(0, 99)) == 0:
                tool = data.draw(st.sampled_from(UNKNOWN_TOOLS))
                args: Any = data.draw(st.sampled_from([{}, {"data_ref": "seed_a"}, None]))
            else:
                tool = data.draw(st.sampled_from(names))
                args = data.draw(strategies[tool])
                if stats.capped(tool) and not all(stats.capped(n) for n in names):
                    return
            if stats.total >= TARGET_CALLS or time.monotonic() - started > HARD_LIMIT_S:
                return
            stats.add(server.call(tool, args, timeout=CALL_TIMEOUT_S))
            if stats.total % 100 == 0:
                alive = server.call("list_data", {})
                stats.add(alive)
                if not server.alive():
                    stats.problems.append((alive, f"server process died (after {stats.total} calls)"))
                    server.restart()
                seeded.reset_throwaways()  # refs that were just dropped come back, and go again

        while stats.total < TARGET_CALLS and time.monotonic() - started < HARD_LIMIT_S:
            one_call()

        # Hypothesis stops early on a tool whose input space is tiny (pg_connect takes no
        # arguments), so random sampling can leave it under MIN_CALLS: top those up on purpose.
        short = [n for n in names if stats.calls[n] < MIN_CALLS]

        @settings(
            max_examples=MIN_CALLS * max(1, len(short)),
            database=None,
            deadline=None,
            phases=[Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(st.data())
        def top_up(data: st.DataObject) -> None:
            tool = data.draw(st.sampled_from(short))
            args = data.draw(strategies[tool])
            if stats.calls[tool] < MIN_CALLS:
                stats.add(server.call(tool, args, timeout=CALL_TIMEOUT_S))

        for _ in range(50):
            if not short or all(stats.calls[n] >= MIN_CALLS for n in short):
                break
            top_up()

        elapsed = time.monotonic() - started
        print(stats.report())
        print(
            f"fuzzed {stats.total:,} calls in {elapsed:.0f} s over {len(names)} tools; "
            f"largest answer {stats.largest[1]:,} characters ({stats.largest[0]})"
        )
        final = server.call("list_data", {})
        assert server.alive(), "the server process died during fuzzing"
        assert final.ok, f"list_data fails after fuzzing: {final.text}"
        listed = {r["name"]: r["rows"] for r in final.structured["refs"]}
        for name in PROTECTED:
            assert listed.get(name) == seeded.checksums[name][0], f"seeded ref {name} not listed intact"
    finally:
        server.close()
    assert not stats.problems, offending(stats.problems)
    assert stats.total >= TARGET_CALLS, f"only {stats.total} calls in {HARD_LIMIT_S:.0f} s"
    assert not seeded.damage(), f"seeded refs damaged by fuzzing: {seeded.damage()}"
    assert not canaries_present(), f"written outside the allowed roots: {canaries_present()}"
    temps = sorted(p.name for p in seeded.registry.root.glob(".tmp-*"))
    assert not temps, f"temp files left in the registry by finished calls: {temps}"
    for tool in names:
        assert stats.calls[tool] >= MIN_CALLS, f"{tool} was fuzzed only {stats.calls[tool]} times"


# -- paths: the allow-list of roots, for reads and writes ----------------------------------
REFUSAL_WORDS = ("outside", "allowed", "not permitted", "refus", "allowed_roots", "not allowed")


def _path_tools(tools: list[dict[str, Any]]) -> tuple[dict[str, str], dict[str, str]]:
    """(readers, writers): file tools and the name of their path argument."""
    readers, writers = {}, {}
    for t in tools:
        props = (t.get("inputSchema") or {}).get("properties") or {}
        paths = [k for k in props if classify(t["name"], k) == "path"]
        if not paths:
            continue
        takes_ref = any(classify(t["name"], k) == "ref" for k in props)
        (writers if t["name"].startswith("to_") or takes_ref else readers)[t["name"]] = paths[0]
    return readers, writers


def _sample_file(tool: str) -> str:
    for ext, path in (("parquet", "data/small.parquet"), ("json", "data/small.json")):
        if ext in tool:
            return path
    return "data/small.csv"


def test_paths_outside_the_allowed_roots_are_refused(project: Path, tmp_path: Path) -> None:
    seeded = seed_registry(project)
    reads, writes = seed_files(project)
    pools = pools_for(seeded, reads, writes, None)
    (project / "escape_dir").symlink_to("/root")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    pacsv_copy = elsewhere / "small.csv"
    pacsv_copy.write_bytes((project / "data" / "small.csv").read_bytes())
    outside_reads = [
        "/etc/passwd",
        "../../../../../../etc/passwd",
        "data/link_passwd.csv",
        "~/.bashrc",
        "/proc/self/environ",
        "escape_dir/.bashrc",
    ]
    outside_writes = [
        "/root/dp_fuzz_outside.csv",
        "../../../../../../root/dp_fuzz_outside.csv",
        "escape_dir/dp_fuzz_outside.csv",
        "/etc/dp_fuzz_outside.csv",
    ]
    remove_canaries()
    problems: list[str] = []
    covered: list[str] = []
    for roots_env in ({}, {"DATA_PLATFORM_ALLOWED_ROOTS": str(project)}):
        with live_server(project, roots_env, log_name="paths") as server:
            tools = server.tools()
            readers, writers = _path_tools(tools)
            assert readers and writers, "no file tool with a path argument is listed"
            by_name = {t["name"]: t for t in tools}

            def call(
                tool: str, key: str, path: str, server: LiveServer = server, by_name: dict = by_name
            ) -> Outcome:
                args = example_arguments(by_name[tool], pools, prefer={"ref": "seed_a", key: path})
                return server.call(tool, args, timeout=60)

            extra_outside = [str(pacsv_copy)] if roots_env else []
            for tool, key in readers.items():
                inside = call(tool, key, _sample_file(tool))
                if not inside.ok:
                    problems.append(f"{tool} cannot read a file inside the project: {inside.describe()}")
                for path in outside_reads + extra_outside:
                    o = call(tool, key, path)
                    if o.ok or o.problem() or not any(w in o.text.lower() for w in REFUSAL_WORDS):
                        problems.append(f"{tool} did not clearly refuse to read {path!r}: {o.describe()}")
                covered.append(tool)
            for tool, key in writers.items():
                for path in outside_writes + ([str(elsewhere / "out.csv")] if roots_env else []):
                    o = call(tool, key, path)
                    if o.ok or o.problem() or not any(w in o.text.lower() for w in REFUSAL_WORDS):
                        problems.append(f"{tool} did not clearly refuse to write {path!r}: {o.describe()}")
                covered.append(tool)
    written = canaries_present() + [str(p) for p in elsewhere.iterdir() if p.name != "small.csv"]
    remove_canaries()
    print(f"\npath tools checked (default roots, then project-only roots): {sorted(set(covered))}")
    assert not written, f"files written outside the allowed roots: {written}"
    assert not problems, "\n".join(problems)
