"""The attack corpus every tool that takes SQL must survive (tests/integration/: postgres/
test_pg_readonly.py, server/test_sql_attacks.py, server/test_readonly_promise.py): one list, one
proof of harmlessness.

PostgreSQL: writes, writes hidden in CTEs, several statements, COPY, file reads, session-wide
settings, functions with side effects a rollback does not undo. DuckDB: file and network reads
and writes, ATTACH, extensions, settings, writes. `snapshot`/`duckdb_snapshot`/`stray_files`
prove afterwards that nothing changed, read on a connection of their own.
"""

from __future__ import annotations

import hashlib
import secrets
from pathlib import Path
from typing import Any

import duckdb
import psycopg

MARK = "/tmp/dp_ro_" + secrets.token_hex(4)
# A file whose content must never come back in an answer of a tool that is not a file reader.
CANARY = MARK + "_canary"
CANARY_TEXT = "dp-canary-" + secrets.token_hex(8)

SETUP = """
drop schema if exists dp_ro cascade;
create schema dp_ro;
create table dp_ro.t (id int primary key, v int);
insert into dp_ro.t select g, g * 10 from generate_series(1, 10) g;
create sequence dp_ro.s;
select nextval('dp_ro.s');
create function dp_ro.evil() returns int language plpgsql as $$
  begin delete from dp_ro.t; return 1; end $$;
create function dp_ro.evil_srf() returns setof int language sql as $$ delete from dp_ro.t returning id $$;
create function dp_ro.sneaky() returns int language sql stable as $$ select 1 $$;
create procedure dp_ro.evil_proc() language sql as $$ delete from dp_ro.t $$;
"""

CORPUS: list[str] = [
    "SELECT 1; DROP TABLE dp_ro.t",
    "COMMIT; DROP TABLE dp_ro.t",
    "ROLLBACK; DELETE FROM dp_ro.t",
    "SELECT * FROM dp_ro.t; COMMIT",
    "WITH d AS (DELETE FROM dp_ro.t RETURNING *) SELECT count(*) FROM d",
    "WITH u AS (UPDATE dp_ro.t SET v = 0 RETURNING 1) SELECT 1",
    "SELECT * INTO dp_ro.t_copy FROM dp_ro.t",
    "CREATE TABLE dp_ro.t2 AS SELECT * FROM dp_ro.t",
    f"COPY (SELECT 1) TO PROGRAM 'touch {MARK}_prog'",
    f"COPY dp_ro.t TO '{MARK}_copy'",
    "SELECT * FROM pg_read_file('/etc/hostname')",
    f"SELECT pg_read_file('{CANARY}') AS x",
    f"SELECT * FROM pg_catalog.pg_read_file('{CANARY}', 0, 100) AS x",
    f"WITH f AS (SELECT pg_read_file('{CANARY}') AS x) SELECT x FROM f",
    f"COPY dp_ro.t FROM '{CANARY}'",
    "SELECT pg_ls_dir('.')",
    "SELECT * FROM pg_catalog.pg_read_binary_file('/etc/hostname')",
    f"SELECT lo_export(lo_from_bytea(0, 'x'), '{MARK}_lo')",
    "SELECT lo_from_bytea(0, 'x')",
    "SELECT set_config('default_transaction_read_only', 'off', false)",
    "SELECT pg_catalog.set_config('statement_timeout', '0', false)",
    "SET ROLE postgres",
    "SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE",
    "SET TRANSACTION READ WRITE",
    "BEGIN READ WRITE",
    "RESET ALL",
    "ALTER SYSTEM SET work_mem = '77MB'",
    "ALTER DATABASE dp_test SET work_mem = '77MB'",
    "LOCK TABLE dp_ro.t IN ACCESS EXCLUSIVE MODE",
    "SELECT * FROM dp_ro.t FOR UPDATE",
    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid <> pg_backend_pid()",
    "SELECT pg_cancel_backend(pid) FROM pg_stat_activity",
    "SELECT nextval('dp_ro.s')",
    "SELECT setval('dp_ro.s', 1000)",
    "SELECT dp_ro.evil()",
    'SELECT "dp_ro"."evil"()',
    "SELECT (SELECT dp_ro.evil()) AS x",
    "SELECT * FROM dp_ro.evil_srf()",
    "SELECT * FROM dp_ro.t WHERE id = (SELECT dp_ro.evil())",
    "DO $$ BEGIN DELETE FROM dp_ro.t; END $$",
    "CALL dp_ro.evil_proc()",
    "VACUUM dp_ro.t",
    "ANALYZE dp_ro.t",
    "CHECKPOINT",
    "NOTIFY ch, 'x'",
    "LISTEN ch",
    "SELECT pg_notify('ch', 'x')",
    "PREPARE p AS DELETE FROM dp_ro.t",
    "EXECUTE p",
    "DEALLOCATE ALL",
    "SELECT 1 /* ; */ ; DELETE FROM dp_ro.t",
    "SELECT $$;$$ ; DELETE FROM dp_ro.t",
    "SELECT $x$ $$ ; $x$; DELETE FROM dp_ro.t",
    "-- just a comment\nDELETE FROM dp_ro.t",
    "/* SELECT */ UPDATE dp_ro.t SET v = 0",
    "UPDATE dp_ro.t SET v = 0",
    "TRUNCATE dp_ro.t",
    "MERGE INTO dp_ro.t USING (SELECT 1 AS id) s ON t.id = s.id WHEN MATCHED THEN DELETE",
    "INSERT INTO dp_ro.t VALUES (99, 99)",
    "SELECT query_to_xml('DELETE FROM dp_ro.t RETURNING 1', true, false, '')",
    "EXPLAIN ANALYZE DELETE FROM dp_ro.t",
    "EXPLAIN ANALYZE SELECT dp_ro.evil()",
    "SELECT dblink_exec('dbname=dp_test', 'DELETE FROM dp_ro.t')",
    "SELECT pg_reload_conf()",
    "SELECT pg_advisory_lock(42)",
    "SELECT pg_sleep(0)",
    "SELECT txid_current()",
    "CREATE EXTENSION IF NOT EXISTS dblink",
    "GRANT ALL ON dp_ro.t TO PUBLIC",
    "COMMENT ON TABLE dp_ro.t IS 'x'",
    "DISCARD ALL",
    "SELECT 1\x00; DELETE FROM dp_ro.t",
]

# Valid analytics SQL that must keep working (the bugs a naive guard has).
VALID: list[str] = [
    "WITH x AS (SELECT id, v FROM dp_ro.t) SELECT id, sum(v) OVER (ORDER BY id) AS run FROM x",
    "SELECT id, rank() OVER (PARTITION BY v % 3 ORDER BY id) FROM dp_ro.t",
    "SELECT ST_AsText(ST_Buffer(ST_MakePoint(0, 0), 1, 2)) AS g, ST_Area(ST_MakeEnvelope(0, 0, 2, 2)) AS a",
    "EXPLAIN SELECT * FROM dp_ro.t WHERE id = 3",
    "EXPLAIN (ANALYZE, BUFFERS) SELECT count(*) FROM dp_ro.t",
    "SELECT random() < 2 AS ok, gen_random_uuid() IS NOT NULL AS u, now() IS NOT NULL AS n",
    "SELECT current_setting('transaction_read_only') AS ro",
    "SELECT string_agg(v::text, ',' ORDER BY id) FROM dp_ro.t",
    "SELECT * FROM dp_ro.t a CROSS JOIN LATERAL (SELECT a.v * 2 AS w) b WHERE a.id < 3",
    "SELECT jsonb_build_object('a', 1) -> 'a' AS j, '{1,2}'::int[] AS arr",
    "SELECT g FROM generate_series(1, 3) g",
    "VALUES (1, 'a'), (2, 'b')",
    "TABLE dp_ro.t",
    "SELECT dp_ro.sneaky()",
    "SHOW statement_timeout",
    "SELECT 'DELETE FROM dp_ro.t; DROP TABLE dp_ro.t' AS harmless_text -- ; DROP TABLE dp_ro.t",
    "SELECT count(*) FROM pg_stat_activity",
]


def snapshot(url: str) -> dict[str, Any]:
    with psycopg.connect(url, autocommit=True) as conn:

        def one(sql: str) -> Any:
            row = conn.execute(sql).fetchone()
            return row[0] if row else None

        return {
            "rows": conn.execute("select count(*), sum(v), max(id) from dp_ro.t").fetchone(),
            "tables": conn.execute(
                "select string_agg(schemaname || '.' || tablename, ',' order by 1) from pg_tables"
            ).fetchone(),
            "objects": one(
                "select count(*) from pg_class c join pg_namespace n on n.oid = c.relnamespace "
                "where n.nspname = 'dp_ro'"
            ),
            "sequence": conn.execute("select last_value, is_called from dp_ro.s").fetchone(),
            "db_settings": one("select count(*) from pg_db_role_setting"),
            "auto_conf": one("select pg_read_file('postgresql.auto.conf')"),
            "large_objects": one("select count(*) from pg_largeobject_metadata"),
            "extensions": one("select string_agg(extname, ',' order by 1) from pg_extension"),
            "comment": one("select obj_description('dp_ro.t'::regclass, 'pg_class')"),
            "grants": one("select relacl::text from pg_class where oid = 'dp_ro.t'::regclass"),
        }


# Reads and side effects that get through on a plain DuckDB connection (dbt-duckdb's own).
DUCKDB_CORPUS: list[str] = [
    f"SELECT * FROM read_text('{CANARY}')",
    f"SELECT content FROM read_text('{CANARY}')",
    f"SELECT * FROM read_csv('{CANARY}')",
    f"SELECT * FROM read_csv_auto('{CANARY}', header = false)",
    f"SELECT * FROM read_blob('{CANARY}')",
    f"SELECT * FROM '{CANARY}'",
    "SELECT * FROM read_csv('/etc/passwd')",
    "SELECT * FROM glob('/etc/*')",
    "SELECT * FROM read_parquet('/nonexistent/*.parquet')",
    "SELECT * FROM read_json('http://127.0.0.1:9/x.json')",
    f"COPY (SELECT 1 AS x) TO '{MARK}_duck_copy.csv'",
    f"ATTACH '{MARK}_duck_attach.duckdb' AS other",
    "INSTALL httpfs",
    "LOAD httpfs",
    "SET enable_external_access = true",
    "SET lock_configuration = false",
    "RESET ALL",
    "PRAGMA enable_profiling",
    "SELECT 1; CREATE TABLE dp_evil AS SELECT 1 AS x",
    "CREATE TABLE dp_evil AS SELECT 1 AS x",
    "CREATE SCHEMA dp_evil_schema",
    "CREATE SEQUENCE dp_evil_seq",
    "CREATE MACRO dp_evil_macro() AS 1",
    f"EXPORT DATABASE '{MARK}_duck_export'",
    "CHECKPOINT",
    "DETACH DATABASE memory",
    "CALL enable_logging()",
    f"SELECT * FROM query_table('{CANARY}')",
    f"SELECT * FROM query('SELECT * FROM read_text(''{CANARY}'')')",
    "SELECT current_setting('enable_external_access') AS x, getenv('HOME') AS h",
    # Writes on the sentinel objects DUCKDB_SETUP makes in the DuckDB file.
    "DELETE FROM dp_sentinel",
    "WITH d AS (DELETE FROM dp_sentinel RETURNING *) SELECT count(*) FROM d",
    "UPDATE dp_sentinel SET x = 0",
    "INSERT INTO dp_sentinel VALUES (9)",
    "DROP TABLE dp_sentinel",
    "SELECT nextval('dp_sentinel_seq')",
    "SELECT * FROM dp_sentinel; DELETE FROM dp_sentinel",
]
DUCKDB_SETUP = (
    "create table main.dp_sentinel as select range as x from range(5); create sequence main.dp_sentinel_seq"
)


def write_canary() -> None:
    path = Path(CANARY)
    path.write_text(CANARY_TEXT + "\n")
    path.chmod(0o644)


def stray_files() -> list[str]:
    """Files an attack would have made (COPY, lo_export, EXPORT, ATTACH...)."""
    return sorted(str(p) for p in Path(MARK).parent.glob(Path(MARK).name + "_*") if str(p) != CANARY)


def duckdb_snapshot(path: Path) -> dict[str, Any]:
    """A DuckDB file's bytes and catalogue, read without changing it."""
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    with duckdb.connect(str(path), read_only=True) as conn:
        objects = conn.execute(
            "select string_agg(schema_name || '.' || table_name || ':' || estimated_size, ',' order by 1) "
            "from duckdb_tables()"
        ).fetchone()
        sentinel = conn.execute("select count(*), sum(x) from main.dp_sentinel").fetchone()
    return {"sha256": digest, "mtime": path.stat().st_mtime_ns, "objects": objects, "sentinel": sentinel}


def leaked_canary(text: str) -> bool:
    return CANARY_TEXT in text
