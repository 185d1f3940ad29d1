"""dbt answers name the target and the schemas they ran in (issue 22), through the in-memory client
on the suite's PostgreSQL: a table built in dev is never read as prod."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness import call, inmemory, text_of
from shopwarehouse import make_shop

pytestmark = pytest.mark.anyio


@pytest.mark.slow
async def test_run_test_build_compile_and_ls_say_their_target_and_schema(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    shop = make_shop(request, tmp_path, "postgres")
    db = shop.env["DP_TEST_PG_DBNAME"]
    dev, prod = f"{db}.{shop.schema}", f"{db}.{shop.schema}_prod"
    async with inmemory(tmp_path, env=shop.env) as client:
        r = await call(client, "dbt_build", select="raw_customers raw_orders stg_customers stg_orders")
        assert f"Ran in target dev, schema {dev}." in text_of(r), text_of(r)
        assert r.structured_content["target"] == "dev" and r.structured_content["schemas"] == [dev]

        # Another target: its own schema, said.
        r = await call(client, "dbt_build", select="raw_customers stg_customers", target="prod")
        assert f"Ran in target prod, schema {prod}." in text_of(r), text_of(r)
        assert shop.rows(f"select count(*) from {shop.schema}_prod.stg_customers")[0][0] > 0

        # Tests: the schema of the relations they read, not their audit schema.
        r = await call(client, "dbt_test", select="stg_customers")
        assert f"Ran in target dev, schema {dev}." in text_of(r), text_of(r)
        assert r.structured_content["schemas"] == [dev]

        r = await call(client, "dbt_compile", select="stg_orders", target="prod")
        assert f"Compiled for target prod, schema {prod}." in text_of(r), text_of(r)
        r = await call(client, "dbt_ls", select="stg_orders stg_customers")
        assert f"In target dev, schema {dev}." in text_of(r), text_of(r)
        assert r.structured_content["target"] == "dev"
