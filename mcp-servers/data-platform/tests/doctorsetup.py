"""Databases for the PostgreSQL doctor's tests and benchmark: a workload, planted problems, a clean one.

Each maker takes an autocommit connection to a fresh database (named connections of the suite's
cluster, see namedconns.py) and returns what it planted, so tests and bench/bench_doctor.py check
the same things.
"""

from __future__ import annotations

import contextlib
from typing import Any

import psycopg

EXTENSIONS = "create extension if not exists pg_stat_statements; create extension if not exists hypopg;"

# A shop with known missing indexes: orders.customer_id, orders(status, created_at) for the newest
# of a status, and events.device_id; and queries already served by an index (orders.id, customers.id).
WORKLOAD_SQL = """
create table customers (id int primary key, region text not null, created date not null);
insert into customers select g, 'r' || (g % 50), date '2020-01-01' + g % 1500
from generate_series(1, {customers}) g;
create table orders (id bigint primary key, customer_id int not null, status text not null,
                     amount numeric(10, 2) not null, created_at timestamptz not null);
insert into orders select g, 1 + (g::bigint * 7919) % {customers},
       (array['new','paid','shipped','done'])[1 + g % 4], (g % 997) / 10.0,
       timestamptz '2025-01-01' + (g || ' seconds')::interval
from generate_series(1, {rows}) g;
create table events (id bigint generated always as identity primary key, device_id int not null,
                     payload text);
insert into events (device_id, payload) select (g * 31) % 20000, md5(g::text)
from generate_series(1, {rows}) g;
analyze;
"""

# (query with constants, the advised index's table and first column)
MISSING = [
    ("select * from orders where customer_id = 4242", "orders", "customer_id"),
    (
        "select id, amount from orders where status = 'paid' order by created_at desc limit 20",
        "orders",
        "status",
    ),
    ("select count(*) from events where device_id = 777", "events", "device_id"),
]
SERVED = [
    "select * from orders where id = 123456",
    "select region from customers where id = 99",
]


def make_workload(conn: psycopg.Connection[Any], rows: int) -> None:
    conn.execute(EXTENSIONS)
    conn.execute(WORKLOAD_SQL.format(rows=rows, customers=max(1000, rows // 20)))


def run_workload(conn: psycopg.Connection[Any], times: int = 3) -> None:
    """Each query a few times, so pg_stat_statements has a workload to rank."""
    for _ in range(times):
        for sql, *_rest in MISSING:
            conn.execute(sql).fetchall()
        for sql in SERVED:
            conn.execute(sql).fetchall()


# Planted problems: (check name, object the finding names, a word of its fix).
PLANTED = [
    ("invalid indexes", '"public"."paid_once"', "DROP INDEX CONCURRENTLY"),
    ("duplicate indexes", '"public"."accounts_email_again"', "DROP INDEX CONCURRENTLY"),
    ("sequences", '"public"."tickets_id_seq"', "ALTER SEQUENCE"),
    ("dead rows and vacuum", '"public"."churn"', "VACUUM"),
]


def make_sick(conn: psycopg.Connection[Any], rows: int = 50_000) -> None:
    """An invalid index (a failed CREATE UNIQUE INDEX CONCURRENTLY), a duplicate and an overlapping
    index, a sequence at 95% of its maximum, a table whose rows are mostly dead (autovacuum off)."""
    conn.execute(
        """
        create table payments (id int primary key, ref text);
        insert into payments values (1, 'x'), (2, 'x');
        create table accounts (id int primary key, email text not null);
        insert into accounts select g, 'u' || g || '@example.com' from generate_series(1, 1000) g;
        create index accounts_email on accounts (email);
        create index accounts_email_again on accounts (email);
        create table visits (account_id int, at date);
        create index visits_account on visits (account_id);
        create index visits_account_at on visits (account_id, at);
        create table tickets (id serial primary key, title text);
        insert into tickets (title) values ('a');
        select setval(pg_get_serial_sequence('tickets', 'id'), 2040109466);
        """
    )
    conn.execute(
        f"""
        create table churn (id int primary key, v text) with (autovacuum_enabled = false);
        insert into churn select g, md5(g::text) from generate_series(1, {rows}) g;
        analyze churn;
        delete from churn where id % 10 <> 0;
        """
    )
    conn.execute("select pg_stat_force_next_flush()")  # the dead rows reach pg_stat_user_tables now
    with contextlib.suppress(psycopg.errors.UniqueViolation):  # expected: it stays behind, INVALID
        conn.execute("create unique index concurrently paid_once on payments (ref)")
    conn.execute("analyze payments, accounts, tickets")


def make_clean(conn: psycopg.Connection[Any], rows: int = 50_000) -> None:
    """Tables with their keys and indexes, analysed, a sequence in use: nothing to report."""
    conn.execute(
        f"""
        create table people (id serial primary key, email text unique, city text);
        insert into people (email, city) select 'p' || g || '@x.org', 'c' || g % 40
        from generate_series(1, {rows}) g;
        create table visits (id bigint generated always as identity primary key,
                             person_id int references people, at timestamptz not null);
        insert into visits (person_id, at) select 1 + g % {rows}, now() - (g || ' minutes')::interval
        from generate_series(1, {rows}) g;
        create index visits_person on visits (person_id);
        create index visits_at on visits (at);
        analyze;
        """
    )
