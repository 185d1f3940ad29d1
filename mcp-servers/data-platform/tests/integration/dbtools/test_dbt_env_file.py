"""dbt sees what the settings see: credentials in the project's `.env` reach `env_var()` in profiles.yml."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from harness import call, connect, text_of
from pgcluster import Cluster
from shopproject import copy_shop, dbt_env

pytestmark = [pytest.mark.anyio, pytest.mark.slow]


async def test_a_profile_reading_env_vars_from_the_project_env_file(tmp_path: Path, pg: Cluster) -> None:
    shop = copy_shop(tmp_path)
    env = dbt_env(pg, shop, schema="envfile")
    # Everything in the project's .env, nothing in the server's environment (a process is the point).
    (shop / ".env").write_text("".join(f"{k}={v}\n" for k, v in env.items()))
    async with connect(shop) as client:
        result = await call(client, "dbt_build", select="+stg_orders")
        assert "stg_orders" in text_of(result)
    with psycopg.connect(pg.url) as conn:
        rows = conn.execute("SELECT count(*) FROM envfile.stg_orders").fetchone()
    assert rows is not None and rows[0] > 0
