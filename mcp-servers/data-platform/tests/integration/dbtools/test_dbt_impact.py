"""dbt_impact and state-aware runs through the real MCP client, on copies of the shop project.

Prod is built; in dev a staging model's type changes (stg_payments.amount) and a downstream model
gets a filter (customer_orders drops customer 5). `state:modified+` with a state (the tools then
defer) builds only those and their descendants in dev, reading unchanged parents from prod; then
one dbt_impact call names the modified and impacted models, the type change, the row-count change
and the changed values per column, each checked against plain SQL in the warehouse; the same
review against a git revision (the project's last commit, parsed for prod) and a state folder.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from harness import call, call_error, inmemory, text_of
from shopproject import copy_shop, duckdb_env, replace
from shopwarehouse import ADAPTERS, Shop, make_shop

pytestmark = pytest.mark.anyio

DOUBLE = {"postgres": "double precision", "duckdb": "double"}


def _git(root: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", "-C", str(root), *args],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


def _commit_all(root: Path, message: str) -> None:
    """The project as a git repository of one commit: the baseline a review compares against."""
    for args in (("init", "-q"), ("add", "-A"), ("commit", "-q", "-m", message)):
        _git(root, *args)


def _change(shop: Shop) -> None:
    """The type change in staging and the filter downstream, not committed."""
    replace(
        shop.root / "models" / "staging" / "stg_payments.sql",
        "{{ cents_to_dollars('amount_cents') }} as amount",
        f"cast(amount_cents as {DOUBLE[shop.adapter]}) / 100 as amount",
    )
    replace(
        shop.root / "models" / "marts" / "customer_orders.sql",
        "group by 1, 2, 3",
        "where c.customer_id <> 5\ngroup by 1, 2, 3",
    )


def _models(got: dict) -> dict[str, dict]:
    return {m["model"]: m for m in got["models"]}


def _check_review(shop: Shop, got: dict, dev: str, prod: str) -> None:
    assert [m["name"] for m in got["modified"]] == ["customer_orders", "stg_payments"]
    assert all(m["reasons"] == ["sql"] for m in got["modified"])
    impacted = {i["name"]: i for i in got["impacted"]}
    assert set(impacted) == {"revenue_by_country", "sales_dashboard"}
    assert (
        impacted["revenue_by_country"]["via"] == "stg_payments"
        or impacted["revenue_by_country"]["distance"] >= 1
    )
    assert "unique_customer_orders_customer_id" in got["tests"]["customer_orders"]
    models = _models(got)
    assert set(models) == {"stg_payments", "customer_orders", "revenue_by_country"}
    # the type change, as the warehouse reports the two columns
    pay = models["stg_payments"]
    assert [t.split(" ", 1)[0] for t in pay["type_changes"]] == ["amount"]
    changed_amounts = shop.rows(
        f"select count(*) from {dev}.stg_payments d join {prod}.stg_payments p "
        "on d.payment_id = p.payment_id where d.amount <> p.amount"
    )[0][0]
    assert pay["key"] == ["payment_id"] and pay["changed"] == changed_amounts
    # the row-count change
    co = models["customer_orders"]
    rows = [shop.rows(f"select count(*) from {s}.customer_orders")[0][0] for s in (prod, dev)]
    assert (co["baseline_rows"], co["rows"]) == tuple(rows) == (5, 4)
    assert co["only_in_baseline"] == 1 and co["key_from"] == "unique test"
    # the changed values per column, keyed by the unique test's column (country)
    rev = models["revenue_by_country"]
    assert rev["key"] == ["country"]
    per_column = {c["name"]: c["changed"] for c in rev["columns"]}
    for column in ("revenue", "orders"):
        want = shop.rows(
            f"select count(*) from {dev}.revenue_by_country d join {prod}.revenue_by_country p "
            f"on d.country = p.country where d.{column} <> p.{column}"
        )[0][0]
        assert per_column[column] == want
    assert per_column["orders"] == 1  # customer 5's country lost one customer's orders


@pytest.mark.slow
@pytest.mark.parametrize("adapter", ADAPTERS)
async def test_state_modified_build_with_defer_then_one_impact_review(
    request: pytest.FixtureRequest, tmp_path: Path, adapter: str
) -> None:
    shop = make_shop(request, tmp_path, adapter)
    prod_target = "prod" if adapter == "postgres" else "duckdb_prod"
    dev, prod = shop.schema, f"{shop.schema}_prod"
    _commit_all(shop.root, "prod")
    async with inmemory(tmp_path, env=shop.env) as client:
        await call(client, "dbt_build", target=prod_target)
        _change(shop)
        err = await call_error(client, "dbt_build", select="state:modified+", state="nowhere")
        assert "state='prod' (a target of the profile)" in err and "git:main" in err
        # Only what changed and what depends on it is built in dev; parents are read from prod
        # (the payments source is a seed in each target's schema: sources are never deferred).
        await call(client, "dbt_build", select="raw_payments")
        r = await call(client, "dbt_build", select="state:modified+", state=prod_target)
        assert r.structured_content["success"], text_of(r)
        built = {n["name"] for n in r.structured_content["nodes"] if n["resource_type"] == "model"}
        assert built == {"stg_payments", "customer_orders", "revenue_by_country"}
        in_dev = {
            t
            for (t,) in shop.rows(
                f"select table_name from information_schema.tables where table_schema = '{dev}'"
            )
        }
        assert in_dev == built | {"raw_payments"}  # stg_orders, stg_customers and their seeds: from prod
        # dbt_show and dbt_compile with a state defer too: stg_orders' seed is only in prod
        r = await call(client, "dbt_show", model="stg_orders", state=prod_target)
        assert r.structured_content["rows"] == shop.rows(f"select count(*) from {prod}.raw_orders")[0][0]
        r = await call(client, "dbt_compile", select="customer_orders", state=prod_target)
        assert f'{prod}"."stg_orders"' in r.structured_content["nodes"][0]["sql"]
        r = await call(client, "dbt_ls", select="state:modified", state=prod_target, resource_type="model")
        assert {x["name"] for x in r.structured_content["resources"]} == {"stg_payments", "customer_orders"}

        r = await call(client, "dbt_impact", against=prod_target)
        got = r.structured_content
        _check_review(shop, got, dev, prod)
        text = text_of(r)
        first = text.splitlines()[0]
        assert "2 modified (customer_orders, stg_payments)" in first and "rows 5→4" in first
        assert "Next: dbt_build select='state:modified+'" in text
        assert any(p["column"] == "amount" for p in _models(got)["stg_payments"]["profile"])
        assert got["models"][0]["examples"]
        assert f"(`*_changed`: `<column>_left` is {prod_target}, `<column>_right` {got['target']})" in text
        assert got["breaks"] == []  # a type change and a filter: every column read downstream is there

        # The same review against a git revision (the last commit, parsed for prod)...
        r = await call(client, "dbt_impact", against=f"git:HEAD@{prod_target}")
        _check_review(shop, r.structured_content, dev, prod)
        assert "git HEAD" in r.structured_content["baseline_how"]
        assert _git(shop.root, "status", "--porcelain", "--untracked-files=no").split() == [
            "M",
            "models/marts/customer_orders.sql",
            "M",
            "models/staging/stg_payments.sql",
        ]  # the checkout is untouched: only the user's two edits
        assert _git(shop.root, "worktree", "list").count("\n") == 1
        # ... and against a state folder holding prod's manifest.
        folder = tmp_path / "prod-state"
        folder.mkdir()
        shutil.copy(
            shop.root / "target" / ".data-platform" / "state" / f"target-{prod_target}" / "manifest.json",
            folder,
        )
        r = await call(client, "dbt_impact", baseline=str(folder))
        _check_review(shop, r.structured_content, dev, prod)


async def test_impact_against_a_git_revision_without_a_warehouse(tmp_path: Path) -> None:
    """The fast tier's review: lineage and state only (DuckDB, nothing built), against the last commit."""
    root = copy_shop(tmp_path)
    _commit_all(root, "base")
    replace(root / "macros" / "cents_to_dollars.sql", "{{ scale }})", "{{ scale }}) + 0")
    replace(
        root / "models" / "marts" / "schema.yml",
        "      - name: total_amount\n",
        "      - name: total_amount\n        data_tests: [not_null]\n",
    )
    env = duckdb_env(root, tmp_path / "warehouse.duckdb")
    async with inmemory(tmp_path, env=env) as client:
        r = await call(client, "dbt_impact", against="HEAD")  # a bare revision: not a target, not a folder
        got = r.structured_content
        reasons = {m["name"]: m["reasons"] for m in got["modified"]}
        assert reasons == {"stg_payments": ["macros"], "customer_orders": ["tests"]}
        detail = {m["name"]: m["detail"] for m in got["modified"]}
        assert detail["stg_payments"] == ["macro cents_to_dollars"]
        assert detail["customer_orders"] == ["test not_null_customer_orders_total_amount added"]
        assert {i["name"] for i in got["impacted"]} == {"revenue_by_country", "sales_dashboard"}
        # parsed for this target: the same relations, so no data is compared (and the answer says why)
        assert all("same relation" in (m["problem"] or "") for m in got["models"])
        assert text_of(r).startswith("dbt_impact vs HEAD: 2 modified (customer_orders, stg_payments)")
        # dbt's own state:modified: the model through its macro, and the new test (a node of its own)
        r = await call(client, "dbt_ls", select="state:modified", state="git:HEAD")
        names = {x["name"] for x in r.structured_content["resources"]}
        assert {"stg_payments", "not_null_customer_orders_total_amount"} <= names
        assert "customer_orders" not in names
        err = await call_error(client, "dbt_impact", against="git:no-such-branch")
        assert "'no-such-branch' is not a git revision" in err
        err = await call_error(client, "dbt_impact", against="./missing-folder")
        assert "does not exist" in err and "state='prod'" in err
    assert _git(root, "status", "--porcelain", "--untracked-files=no").split() == [
        "M",
        "macros/cents_to_dollars.sql",
        "M",
        "models/marts/schema.yml",
    ]


async def test_impact_names_the_downstream_reads_of_a_renamed_column(tmp_path: Path) -> None:
    """Renamed columns that children still read are named, with the child: it fails at run.
    customer_orders reads stg_orders.customer_id through a `select *` CTE (`o.customer_id`) and
    stg_payments.amount unqualified from a single table (which sqlglot qualifies without error)."""
    root = copy_shop(tmp_path)
    _commit_all(root, "base")
    replace(
        root / "models" / "staging" / "stg_orders.sql", "    customer_id,", "    customer_id as customer_ref,"
    )
    replace(
        root / "models" / "staging" / "stg_payments.sql",
        "{{ cents_to_dollars('amount_cents') }} as amount",
        "{{ cents_to_dollars('amount_cents') }} as payment_amount",
    )
    env = duckdb_env(root, tmp_path / "warehouse.duckdb")
    async with inmemory(tmp_path, env=env) as client:
        r = await call(client, "dbt_impact", against="git:HEAD")
        got = r.structured_content
        assert {(b["reader"], b["model"], b["column"]) for b in got["breaks"]} == {
            ("customer_orders", "stg_orders", "customer_id"),
            ("customer_orders", "stg_payments", "amount"),
        }
        text = text_of(r)
        assert "1 will fail at run (customer_orders: columns gone)" in text.splitlines()[0]
        gone = "customer_orders reads stg_orders.customer_id, which stg_orders no longer has"
        assert f"{gone}: it will fail at run" in text


async def test_impact_with_the_same_code_says_it_compared_code_and_how_to_compare_data(
    tmp_path: Path,
) -> None:
    """Against a target whose code is the same: not "nothing to do" (the data may differ), but
    that dbt_impact compared code and that dbt_compare compares a model's data."""
    root = copy_shop(tmp_path)
    env = duckdb_env(root, tmp_path / "warehouse.duckdb")
    async with inmemory(tmp_path, env=env) as client:
        r = await call(client, "dbt_impact", against="duckdb_prod")
        text = text_of(r)
        assert text.startswith(
            "dbt_impact vs duckdb_prod: no model, seed or snapshot changed (it compares the code"
        )
        assert "nothing to do" not in text
        compare = "dbt_compare model=<model> against='duckdb_prod' compares a model's data"
        assert f"{compare} in duckdb and duckdb_prod" in text
