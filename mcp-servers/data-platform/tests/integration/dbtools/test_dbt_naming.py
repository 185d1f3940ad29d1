"""dbt answers name nodes as people do, and tell deprecations in full once (issue 13, items 7).

Through the SDK's in-memory client with the real shop project on the suite's PostgreSQL.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from data_platform.dbtools.artifacts import display_name, subject_of
from data_platform.dbtools.findings import Finding, ToldDeprecations
from harness import call, inmemory, text_of
from pgcluster import Cluster
from shopproject import copy_shop, dbt_env, make_deprecated, replace

pytestmark = pytest.mark.anyio
FULL_FOUR = (
    "DuplicateYAMLKeysDeprecation",
    "UnexpectedJinjaBlockDeprecation",
    "PropertyMovedToConfigDeprecation",
    "MissingArgumentsPropertyInGenericTestDeprecation",
)


@pytest.fixture
def dbt_environ(pg: Cluster, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """profiles.yml reads DP_TEST_PG_* with env_var(): dbt (in-process and its worker) sees os.environ."""
    env = dbt_env(pg, None)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    yield env


def _hashes(nodes: list[dict]) -> set[str]:
    """The hash suffixes of generic tests' unique_ids (test.<package>.<name>.<hash>)."""
    return {n["unique_id"].split(".")[3] for n in nodes if n["unique_id"].count(".") == 3}


async def test_a_failing_test_says_its_name_model_and_column_never_its_hash(
    tmp_path: Path, pg: Cluster, dbt_environ: dict[str, str]
) -> None:
    root = copy_shop(tmp_path)
    # Three payments without an amount (a not_null test on stg_payments.amount fails with 3),
    # one with a method the warn-severity accepted_values test does not accept.
    seed = root / "seeds" / "raw_payments.csv"
    replace(seed, "1,1,card,1250", "1,1,card,")
    replace(seed, "2,2,card,3000", "2,2,card,")
    replace(seed, "6,6,card,2500", "6,6,cash,")
    replace(
        root / "models" / "staging" / "schema.yml",
        "      - name: method\n",
        "      - name: amount\n        data_tests:\n          - not_null\n      - name: method\n",
    )
    # A test on the source: it has no attached node, dbt names what it tests in its arguments.
    replace(
        root / "models" / "staging" / "sources.yml",
        "          - name: id\n",
        "          - name: id\n            data_tests:\n              - not_null\n",
    )
    schema = dbt_environ["DP_TEST_PG_SCHEMA"]
    async with inmemory(tmp_path, env={"DBT_PROJECT_DIR": str(root)}) as client:
        # The source's test has no edge to the seed behind the source: in a build it may race it.
        built = await call(client, "dbt_build", exclude="source_not_null_shop_raw_payments_id")
        data, text = built.structured_content, text_of(built)
        assert data["success"] is False
        with psycopg.connect(pg.url) as conn:
            nulls = conn.execute(
                f'select count(*) from "{schema}".stg_payments where amount is null'
            ).fetchone()
            cash = conn.execute(
                f"select count(*) from \"{schema}\".stg_payments where method not in ('card', 'voucher', "
                "'bank_transfer')"
            ).fetchone()
        assert nulls == (3,) and cash == (1,)
        assert f"FAIL not_null_stg_payments_amount (stg_payments.amount): {nulls[0]} failures" in text
        assert (
            "WARN accepted_values_stg_payments_method__card__voucher__bank_transfer (stg_payments.method): "
            "1 failure\n" in text
        )
        by_name = {n["name"]: n for n in data["nodes"]}
        failing = by_name["not_null_stg_payments_amount"]
        assert (failing["status"], failing["failures"], failing["model"], failing["column"]) == (
            "fail",
            3,
            "stg_payments",
            "amount",
        )
        assert failing["unique_id"].startswith("test.shop.not_null_stg_payments_amount.")
        rel = by_name["relationships_stg_orders_customer_id__customer_id__ref_stg_customers_"]
        assert (rel["model"], rel["column"]) == ("stg_orders", "customer_id")
        singular = by_name["assert_no_negative_totals"]
        assert (singular["model"], singular["column"]) == ("customer_orders", None)
        assert by_name["stg_payments"]["model"] is None and by_name["raw_payments"]["rows_affected"] == 8
        # Every test is named: no hash suffix anywhere in the text, and the table says what each checks.
        hashes = _hashes(data["nodes"])
        assert "source_not_null_shop_raw_payments_id" not in by_name
        assert len(hashes) == 15 and not any(h in text for h in hashes), hashes
        assert "| not_null_stg_payments_amount | test | stg_payments.amount | fail |" in text
        # A test's "rows" is not a fact about data: left empty.
        assert all(n["rows_affected"] is None for n in data["nodes"] if n["resource_type"] == "test")

        source = await call(client, "dbt_test", select="source:shop_raw")
        node = source.structured_content["nodes"][0]
        assert (node["name"], node["model"], node["column"], node["status"]) == (
            "source_not_null_shop_raw_payments_id",
            "shop_raw.payments",
            "id",
            "pass",
        )
        assert "| source_not_null_shop_raw_payments_id | test | shop_raw.payments.id | pass |" in text_of(
            source
        )


@pytest.mark.slow  # five dbt commands on an edited project (~30 s); the fast tier keeps the unit-level test
async def test_deprecations_in_full_once_then_one_line_and_new_ones_in_full(
    tmp_path: Path, dbt_environ: dict[str, str]
) -> None:
    root = copy_shop(tmp_path)
    make_deprecated(root)
    summary_four = "4 deprecations (D023, D024, D030, D039): dbt_parse lists them."
    async with inmemory(tmp_path, env={"DBT_PROJECT_DIR": str(root)}) as client:

        async def run(tool: str, select: str) -> tuple[str, list[dict]]:
            result = await call(client, tool, select=select)
            assert result.structured_content["success"] is True, text_of(result)
            return text_of(result), result.structured_content["deprecations"]

        parsed = text_of(await call(client, "dbt_parse"))
        assert all(event in parsed for event in FULL_FOUR)

        # The first run answer that sees them tells them in full (even after dbt_parse did).
        text, deps = await run("dbt_build", "raw_customers")
        assert text.splitlines()[1].startswith("WARNING: 4 dbt deprecation(s)")
        assert all(event in text for event in FULL_FOUR)
        assert [d["told_before"] for d in deps] == [False] * 4

        # Later answers on the same deprecations: one line; structured content still has them all.
        text, deps = await run("dbt_run", "stg_customers")  # (a view over that seed: dbt_test needs it)
        assert text.splitlines()[1] == summary_four
        assert not any(event in text for event in FULL_FOUR) and "WARNING" not in text
        assert {d["event"] for d in deps} == set(FULL_FOUR) and all(d["told_before"] for d in deps)
        assert all(d["fix"] and d["file"] for d in deps)

        # dbt_parse always lists them in full.
        parsed = text_of(await call(client, "dbt_parse"))
        assert all(event in parsed for event in FULL_FOUR)

        # An edit that moves the duplicate key a line down is the same deprecation: still one line.
        schema = root / "models" / "staging" / "schema.yml"
        schema.write_text("# staging models\n" + schema.read_text())
        text, deps = await run("dbt_build", "raw_orders")
        dup = next(d for d in deps if d["event"] == "DuplicateYAMLKeysDeprecation")
        assert dup["line"] == 35 and text.splitlines()[1] == summary_four

        # A new deprecation (a second D039, in another file): it in full, the others as one line.
        replace(
            root / "models" / "marts" / "schema.yml",
            "      - name: country\n        data_tests:\n          - unique\n",
            "      - name: country\n        data_tests:\n          - unique\n"
            "          - accepted_values:\n              values: ['GB', 'US', 'NL']\n",
        )
        text, deps = await run("dbt_build", "raw_customers")
        lines = text.splitlines()
        assert lines[1].startswith("WARNING: 1 new dbt deprecation(s)")
        assert lines[2].startswith(
            "- MissingArgumentsPropertyInGenericTestDeprecation (D039) models/marts/schema.yml"
        )
        assert "'revenue_by_country'" in lines[2] and "Fix: Nest" in lines[3]
        assert "Also " + summary_four in lines
        assert "DuplicateYAMLKeysDeprecation" not in text
        new = [d for d in deps if not d["told_before"]]
        assert len(deps) == 5 and [d["file"] for d in new] == ["models/marts/schema.yml"]

        text, _ = await run("dbt_test", "unique_stg_customers_customer_id")
        assert text.splitlines()[1] == "5 deprecations (D023, D024, D030, D039 x2): dbt_parse lists them."

        # Fixed, then brought back: it counts as new again and is told in full.
        macro = root / "macros" / "cents_to_dollars.sql"
        stray = macro.read_text()
        macro.write_text(stray.removesuffix("{% endmacro %}\n"))
        text, deps = await run("dbt_test", "unique_stg_customers_customer_id")
        assert (
            len(deps) == 4
            and text.splitlines()[1] == "4 deprecations (D024, D030, D039 x2): dbt_parse lists them."
        )
        macro.write_text(stray)
        text, _ = await run("dbt_test", "unique_stg_customers_customer_id")
        assert text.splitlines()[1].startswith("WARNING: 1 new dbt deprecation(s)")
        assert "UnexpectedJinjaBlockDeprecation (D023) macros/cents_to_dollars.sql" in text

    # A new server: its dbt service has told nothing yet, so the first run tells all five in full.
    async with inmemory(tmp_path, env={"DBT_PROJECT_DIR": str(root)}) as client:
        text = text_of(await call(client, "dbt_test", select="unique_stg_customers_customer_id"))
        assert text.splitlines()[1].startswith("WARNING: 5 dbt deprecation(s)")


def _finding(event: str, file: str, message: str, line: int | None = None) -> Finding:
    return Finding(kind="deprecation", event=event, code="D0", message=message, file=file, line=line)


def test_told_deprecations_are_kept_per_project_and_by_what_they_are() -> None:
    told = ToldDeprecations()
    a = _finding("DuplicateYAMLKeysDeprecation", "m.yml", "Duplicate key 'x' line 3, column 5 in file", 3)
    b = _finding("MissingArgumentsPropertyInGenericTestDeprecation", "m.yml", "on 'orders'")
    c = _finding("MissingArgumentsPropertyInGenericTestDeprecation", "m.yml", "on 'customers'")
    assert told.before(Path("/p"), [a, b]) == []
    assert told.before(Path("/p"), [a, b]) == [a, b]
    assert told.before(Path("/other"), [a]) == []  # another project has its own record
    moved = _finding(a.event, a.file or "", "Duplicate key 'x' line 9, column 5 in file", 9)
    assert told.before(Path("/p"), [moved, b, c]) == [moved, b]  # the same event in the same file: new
    assert told.before(Path("/p"), [moved, c]) == [moved, c]
    assert told.before(Path("/p"), [moved, b, c]) == [moved, c]  # b was fixed in between: new again


MANIFEST = {
    "nodes": {
        "model.p.orders": {"resource_type": "model", "name": "orders"},
        "model.p.dim.v2": {"resource_type": "model", "name": "dim", "version": 2},
        "test.p.not_null_orders_id.1a2b3c4d5e": {
            "resource_type": "test",
            "name": "not_null_orders_id",
            "attached_node": "model.p.orders",
            "column_name": "id",
            "depends_on": {"nodes": ["model.p.orders"]},
        },
        "test.p.source_unique_raw_t_id.9f8e7d6c5b": {
            "resource_type": "test",
            "name": "source_unique_raw_t_id",
            "attached_node": None,
            "test_metadata": {
                "name": "unique",
                "kwargs": {"column_name": "id", "model": "{{ get_where_subquery(source('raw', 't')) }}"},
            },
            "depends_on": {"nodes": ["source.p.raw.t"]},
        },
        "test.p.custom_check.0a0b0c0d0e": {
            "resource_type": "test",
            "name": "custom_check",
            "test_metadata": {"kwargs": {"model": "{{ get_where_subquery(ref('p', 'orders')) }}"}},
            "depends_on": {"nodes": ["model.p.orders", "model.p.dim.v2"]},
        },
    },
    "sources": {"source.p.raw.t": {"resource_type": "source", "name": "t", "source_name": "raw"}},
}


def test_names_come_from_the_manifest_and_fall_back_to_the_unique_id_without_its_hash() -> None:
    nodes = MANIFEST["nodes"]
    assert display_name("test.p.not_null_orders_id.1a2b3c4d5e", MANIFEST) == "not_null_orders_id"
    assert display_name("source.p.raw.t", MANIFEST) == "raw.t"
    assert display_name("model.p.dim.v2", MANIFEST) == "dim.v2"
    assert display_name("test.p.gone_test.ffffffffff") == "gone_test"  # no manifest: still no hash
    assert display_name("seed.p.raw_orders") == "raw_orders"
    assert subject_of(nodes["test.p.not_null_orders_id.1a2b3c4d5e"], MANIFEST) == ("orders", "id")
    assert subject_of(nodes["test.p.source_unique_raw_t_id.9f8e7d6c5b"], MANIFEST) == ("raw.t", "id")
    assert subject_of(nodes["test.p.custom_check.0a0b0c0d0e"], MANIFEST) == ("orders", None)
    assert re.fullmatch(r"\w+", display_name("test.p.custom_check.0a0b0c0d0e", MANIFEST))
