"""Concurrency: 20 calls in flight from one client, and two servers sharing one registry.

The mix is built from whatever the live `tools/list` offers: list_data, every tool that
reads a ref (all on the same ref), loads, queries, a dbt run, and a drop of a ref that
other calls are reading at the same moment. Every answer must be right (or, for the ref
being dropped, a clean "not found"), nothing may deadlock (bounded by a timeout), and
the registry must be intact afterwards.
"""

from __future__ import annotations

import itertools
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import anyio
import pyarrow as pa
import pytest

from argfuzz import Pools, classify, example_arguments, harms_refs
from fuzzenv import (
    dbt_env,
    generated_dbt_project,
    pg_env,
    pools_for,
    scratch_database,
    seed_a,
    seed_files,
    seed_registry,
)
from harness import connect
from liveserver import Outcome, timed_call
from pgcluster import Cluster

pytestmark = pytest.mark.anyio

IN_FLIGHT = 20
DEADLINE_S = 240.0


def tool_dicts(listed: Any) -> dict[str, dict[str, Any]]:
    return {t.name: t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in listed.tools}


def readers(tools: dict[str, dict[str, Any]]) -> list[str]:
    """Tools that take a ref and are not destructive (they read it)."""
    out = []
    for name, t in tools.items():
        props = (t.get("inputSchema") or {}).get("properties") or {}
        if harms_refs(t):
            continue
        if any(classify(name, k) == "ref" for k in props):
            out.append(name)
    return sorted(out)


def not_found(o: Outcome) -> bool:
    text = o.text.lower()
    return not o.ok and o.problem() is None and ("no data_ref" in text or "not found" in text)


@pytest.mark.slow
async def test_twenty_calls_in_flight_from_one_client(pg: Cluster, project: Path, tmp_path: Path) -> None:
    seeded = seed_registry(project)
    reads, writes = seed_files(project)
    p: Pools = pools_for(seeded, reads, writes, None)
    reg = seeded.registry
    reg.put(seed_a(20_000), name="shared", source="shared.csv")
    reg.put(seed_a(20_000), name="doomed", source="doomed.csv")
    shared_digest = reg.path("shared").read_bytes()
    # A database and a dbt project either way (a family switched off ignores them): the plan below
    # follows what this server lists, with no probing server started first.
    env = {
        **pg_env(scratch_database(pg, "dp_harden_conc")),
        **dbt_env(generated_dbt_project(tmp_path, models=5, schema="harden_conc")),
    }
    async with connect(project, env, log_name="concurrency") as client:
        tools = tool_dicts(await client.list_tools())
        # Which reading tools work on a ref with example arguments (checked one at a time first).
        reading = []
        for name in readers(tools):
            o = await timed_call(
                client, name, example_arguments(tools[name], p, prefer={"ref": "shared"}), 60
            )
            if o.ok:
                reading.append(name)
        plan: list[tuple[str, str, dict[str, Any]]] = [("drop doomed", "drop_data", {"data_ref": "doomed"})]
        if reading:
            plan += [
                (
                    "read doomed",
                    reading[i % len(reading)],
                    example_arguments(tools[reading[i % len(reading)]], p, prefer={"ref": "doomed"}),
                )
                for i in range(3)
            ]
        if "read_csv" in tools:
            plan += [
                (
                    "load",
                    "read_csv",
                    example_arguments(
                        tools["read_csv"], p, prefer={"path": "data/small.csv", "out_name": f"load_{i}"}
                    ),
                )
                for i in range(3)
            ]
        if "pg_query" in tools:
            sql = "SELECT g AS n, g * 2 AS twice FROM generate_series(1, 1000) g"
            plan += [
                (
                    "query",
                    "pg_query",
                    example_arguments(tools["pg_query"], p, prefer={"sql": sql, "out_name": f"q_{i}"}),
                )
                for i in range(2)
            ]
        if "dbt_run" in tools:
            plan.append(("dbt run", "dbt_run", {}))
        fillers = itertools.cycle(
            [("read shared", n, example_arguments(tools[n], p, prefer={"ref": "shared"})) for n in reading]
            + [("list", "list_data", {})]
        )
        while len(plan) < IN_FLIGHT:
            plan.append(next(fillers))
        plan = plan[:IN_FLIGHT]
        outcomes: list[tuple[str, Outcome] | None] = [None] * len(plan)

        async def run(i: int, kind: str, tool: str, args: dict[str, Any]) -> None:
            outcomes[i] = (kind, await timed_call(client, tool, args, DEADLINE_S))

        with anyio.fail_after(DEADLINE_S + 30):
            async with anyio.create_task_group() as tg:
                for i, (kind, tool, args) in enumerate(plan):
                    tg.start_soon(run, i, kind, tool, args)
        listed = await timed_call(client, "list_data", {}, 60)

    problems = []
    for kind, o in filter(None, outcomes):
        if kind == "read doomed":
            if not (o.ok or not_found(o)):
                problems.append(f"{kind}: {o.describe()}")
        elif not o.ok or o.problem(8_000):
            problems.append(f"{kind}: {o.describe()}")
    kinds = sorted({k for k, _ in filter(None, outcomes)})
    print(
        f"\n{len(plan)} calls in flight at once: {', '.join(kinds)}; "
        f"tools reading one ref: {reading or 'none'}"
    )
    assert all(outcomes), "a call never answered"
    assert not problems, "\n".join(problems)
    assert listed.ok, listed.describe()
    refs = {r["name"]: r["rows"] for r in listed.structured["refs"]}
    assert "doomed" not in refs and refs["shared"] == 20_000
    assert reg.path("shared").read_bytes() == shared_digest, "a concurrent call changed a ref it only read"
    for kind, o in filter(None, outcomes):
        if kind == "load":
            assert o.structured and refs.get(o.structured.get("data_ref")) == 50, o.describe()
    assert not seeded.damage() and not list(reg.root.glob(".tmp-*"))


WRITER = textwrap.dedent("""
    import sys
    import pyarrow as pa
    from data_platform.registry import Registry
    reg = Registry(sys.argv[1])
    for i in range(20):
        reg.put(pa.table({"i": list(range(i + 1))}), source="writer", default_name="auto")
""")


async def test_two_servers_sharing_one_registry_do_not_corrupt_it(project: Path) -> None:
    seeded = seed_registry(project)
    reads, writes = seed_files(project)
    p = pools_for(seeded, reads, writes, None)
    reg = seeded.registry
    victims = [f"r_{i:02d}" for i in range(30)]
    for name in victims:
        reg.put(pa.table({"x": list(range(10))}), name=name, source="victim")
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(reg.root)])
    results: dict[str, list[Outcome]] = {"a": [], "b": []}
    async with (
        connect(project, log_name="concurrency-a") as a,
        connect(project, log_name="concurrency-b") as b,
    ):
        tools = tool_dicts(await a.list_tools())
        clients = {"a": a, "b": b}

        async def worker(key: str) -> None:
            client = clients[key]
            order = victims if key == "a" else list(reversed(victims))
            for i, name in enumerate(order):
                results[key].append(await timed_call(client, "drop_data", {"data_ref": name}, 60))
                if i % 5 == 0:
                    results[key].append(await timed_call(client, "list_data", {}, 60))
                if "read_csv" in tools and i % 3 == 0:
                    args = example_arguments(tools["read_csv"], p, prefer={"path": "data/small.csv"})
                    args.pop("name", None)  # auto names: the two servers must not take the same one
                    results[key].append(await timed_call(client, "read_csv", args, 60))
                    contested = example_arguments(
                        tools["read_csv"], p, prefer={"path": "data/small.csv", "out_name": f"contested_{i}"}
                    )
                    results[key].append(await timed_call(client, "read_csv", contested, 60))

        with anyio.fail_after(DEADLINE_S):
            async with anyio.create_task_group() as tg:
                tg.start_soon(worker, "a")
                tg.start_soon(worker, "b")
        final = await timed_call(a, "list_data", {}, 60)
    assert writer.wait(timeout=60) == 0
    drops = [o for key in results for o in results[key] if o.tool == "drop_data"]
    problems = [o.describe() for key in results for o in results[key] if o.problem(8_000)]
    assert not problems, "\n".join(problems)
    dropped = [o.args["data_ref"] for o in drops if o.ok]
    assert sorted(dropped) == victims, "each shared ref is dropped exactly once between the two servers"
    assert all(o.ok or not_found(o) for o in drops)
    assert final.ok and not final.structured.get("damaged"), final.describe()
    refs = {r["name"]: r["rows"] for r in final.structured["refs"]}
    assert not set(victims) & set(refs)
    autos = sorted(n for n in refs if n == "auto" or n.startswith("auto_"))
    assert len(autos) == 20 and sorted(refs[n] for n in autos) == list(range(1, 21)), autos
    loads = [o for key in results for o in results[key] if o.tool == "read_csv"]
    if loads:
        contested = [o for o in loads if o.args.get("name", "").startswith("contested_")]
        for name in {o.args["name"] for o in contested}:
            wins = [o for o in contested if o.args["name"] == name and o.ok]
            assert len(wins) == 1, f"{name}: {len(wins)} servers claim to have created it"
        auto_loads = [o for o in loads if o.ok and "name" not in o.args]
        made = {o.structured["data_ref"] for o in auto_loads if o.structured}
        assert len(made) == len(auto_loads), "two loads were given the same auto name"
        assert all(refs.get(n) == 50 for n in made)
    assert not seeded.damage() and not list(reg.root.glob(".tmp-*"))
    print(f"\ntwo servers: {len(drops)} drops, {len(loads)} loads, plus a writer process: registry intact")
