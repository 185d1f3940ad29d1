"""The suite's dbt project (`projects/shop`): copies, and variants made from copies.

Named `shopproject`, not `dbt_*`: tests/ is on sys.path and dbt's plugin discovery
imports every top-level `dbt_*` module it finds there.
"""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

from pgcluster import Cluster

SHOP = Path(__file__).parent / "projects" / "shop"


def copy_shop(dest_parent: Path, name: str = "shop") -> Path:
    """A fresh copy of the test project (never run dbt inside tests/projects itself)."""
    dest = dest_parent / name
    shutil.copytree(SHOP, dest, ignore=shutil.ignore_patterns("target", "logs"))
    return dest


def dbt_env(pg: Cluster, project_dir: Path | None, schema: str | None = None) -> dict[str, str]:
    """Server environment: the profile's DP_TEST_PG_* variables and DBT_PROJECT_DIR."""
    env = {
        "DP_TEST_PG_HOST": pg.host,
        "DP_TEST_PG_PORT": str(pg.port),
        "DP_TEST_PG_USER": pg.user,
        "DP_TEST_PG_PASSWORD": pg.password,
        "DP_TEST_PG_DBNAME": pg.dbname,
        "DP_TEST_PG_SCHEMA": schema or f"shop_{uuid.uuid4().hex[:8]}",
    }
    if project_dir is not None:
        env["DBT_PROJECT_DIR"] = str(project_dir)
    return env


def replace(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


def make_deprecated(root: Path) -> None:
    """The four deprecations of the issue, each in a real file of the copy."""
    schema = root / "models" / "staging" / "schema.yml"
    # 1. generic test arguments not under `arguments:`  2. `severity` at the top level of a test
    replace(
        schema,
        "          - accepted_values:\n"
        "              arguments:\n"
        '                values: ["placed", "shipped", "completed", "returned"]',
        "          - accepted_values:\n"
        '              values: ["placed", "shipped", "completed", "returned"]\n'
        "              severity: warn",
    )
    # 3. a duplicate YAML key
    replace(
        schema,
        "    description: One row per payment, amounts in dollars.",
        "    description: One row per payment, amounts in dollars.\n    description: Payments.",
    )
    # 4. a stray {% endmacro %}
    macro = root / "macros" / "cents_to_dollars.sql"
    macro.write_text(macro.read_text() + "{% endmacro %}\n")


def break_jinja(root: Path) -> None:
    replace(
        root / "models" / "staging" / "stg_orders.sql", "{{ ref('raw_orders') }}", "{{ ref('raw_orders') }"
    )


def break_yaml(root: Path) -> None:
    replace(
        root / "models" / "marts" / "schema.yml",
        "    description: Revenue per country.",
        "    description: Revenue: per country.",
    )


def missing_ref(root: Path) -> None:
    replace(
        root / "models" / "marts" / "revenue_by_country.sql",
        "ref('customer_orders')",
        "ref('customer_order')",
    )


def undefined_macro(root: Path) -> None:
    replace(root / "models" / "staging" / "stg_payments.sql", "cents_to_dollars(", "cents_to_euros(")


def add_slow_model(root: Path, seconds: int) -> None:
    (root / "models" / "marts" / "slow_report.sql").write_text(
        f"{{{{ config(materialized='table') }}}}\nselect 1 as done from pg_sleep({seconds})\n"
    )


def duckdb_env(project_dir: Path | None, warehouse: Path, schema: str = "shop") -> dict[str, str]:
    """Server environment for the same project on dbt-duckdb: target `duckdb`, a throwaway file."""
    env = {"DBT_TARGET": "duckdb", "DP_TEST_DUCKDB_PATH": str(warehouse), "DP_TEST_PG_SCHEMA": schema}
    if project_dir is not None:
        env["DBT_PROJECT_DIR"] = str(project_dir)
    return env
