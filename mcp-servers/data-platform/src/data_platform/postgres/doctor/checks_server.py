"""Server checks: transaction-ID wraparound, connections, cache hit ratio, long and blocked
queries with their blockers, replication slots and lag."""

from __future__ import annotations

from typing import Any

import psycopg

from data_platform.postgres.doctor.common import ident
from data_platform.postgres.doctor.health import Check, Finding, Status, worst
from data_platform.render import human_bytes

XID_WARN, XID_PROBLEM = 500_000_000, 1_200_000_000  # of the ~2.1 billion before wraparound
CONN_WARN, CONN_PROBLEM = 0.75, 0.9
HIT_WARN = 0.95
HIT_MIN_BLOCKS = 100_000  # fewer reads and hits say nothing about the cache yet
LONG_QUERY_S = 300
IDLE_IN_TX_S = 300
BLOCKED_S = 30
SLOT_WAL_WARN = 1 << 30


def wraparound(conn: psycopg.Connection[Any]) -> Check:
    row = conn.execute(
        "select age(datfrozenxid) from pg_database where datname = current_database()"
    ).fetchone()
    age = int(row[0]) if row else 0
    if age < XID_WARN:
        return Check(
            "transaction-ID wraparound",
            "ok",
            f"oldest unfrozen transaction ID age {age:,} (fine under {XID_WARN:,})",
        )
    tables = conn.execute(
        """select n.nspname, c.relname, age(c.relfrozenxid) from pg_class c
           join pg_namespace n on n.oid = c.relnamespace where c.relkind in ('r', 'm', 't')
           order by 3 desc limit 5"""
    ).fetchall()
    found = [
        Finding(
            ident(s, t),
            f"transaction-ID age {a:,}",
            f"VACUUM (FREEZE, VERBOSE) {ident(s, t)}; first end long transactions, abandoned replication "
            "slots and prepared transactions that hold it back",
        )
        for s, t, a in tables
    ]
    status: Status = "problem" if age >= XID_PROBLEM else "warning"
    return Check("transaction-ID wraparound", status, f"database age {age:,} of ~2,147,483,647", found)


def connections(conn: psycopg.Connection[Any]) -> Check:
    row = conn.execute(
        """select count(*), current_setting('max_connections')::int,
                  current_setting('superuser_reserved_connections')::int,
                  count(*) filter (where state = 'idle in transaction'
                                   and now() - state_change > make_interval(secs => %s))
           from pg_stat_activity where backend_type = 'client backend'""",
        (IDLE_IN_TX_S,),
    ).fetchone()
    assert row is not None
    used, most, reserved, idle_tx = row
    room = max(1, most - reserved)
    share = used / room
    found: list[tuple[Status, Finding]] = []
    if share >= CONN_WARN:
        found.append(
            (
                "problem" if share >= CONN_PROBLEM else "warning",
                Finding(
                    "max_connections",
                    f"{used} of {room} connections in use ({share:.0%})",
                    "use a connection pooler (PgBouncer) or close idle clients; raising max_connections "
                    "needs a restart and memory",
                ),
            )
        )
    if idle_tx:
        found.append(
            (
                "warning",
                Finding(
                    "idle in transaction",
                    f"{idle_tx} session(s) idle inside a transaction for over {IDLE_IN_TX_S // 60} min "
                    "(they hold locks and stop vacuum)",
                    "commit or roll back in the client; set idle_in_transaction_session_timeout",
                ),
            )
        )
    return Check("connections", worst(found), f"{used} of {room} in use ({share:.0%})", [f for _, f in found])


def cache_hit(conn: psycopg.Connection[Any]) -> Check:
    row = conn.execute(
        "select blks_hit, blks_read from pg_stat_database where datname = current_database()"
    ).fetchone()
    hit, read = (int(row[0] or 0), int(row[1] or 0)) if row else (0, 0)
    total = hit + read
    if total < HIT_MIN_BLOCKS:
        return Check("cache hit ratio", "ok", f"not judged yet: only {total:,} block reads recorded")
    ratio = hit / total
    if ratio >= HIT_WARN:
        return Check("cache hit ratio", "ok", f"{ratio:.1%} of block reads from shared buffers")
    finding = Finding(
        "shared_buffers",
        f"{ratio:.1%} of block reads served from shared buffers (under {HIT_WARN:.0%})",
        "look at pg_top_queries by reads for the statements that read most, index them; or raise "
        "shared_buffers (restart) if the working set should fit in memory",
    )
    return Check("cache hit ratio", "warning", f"{ratio:.1%} hit ratio", [finding])


def activity(conn: psycopg.Connection[Any]) -> Check:
    """Queries running long, and queries waiting on a lock, each with its blockers."""
    rows = conn.execute(
        """select a.pid, a.usename, a.state, extract(epoch from now() - a.query_start)::int,
                  left(coalesce(a.query, ''), 200), pg_blocking_pids(a.pid), a.wait_event_type
           from pg_stat_activity a
           where a.pid <> pg_backend_pid() and a.backend_type = 'client backend' and a.state <> 'idle'
             and a.datname = current_database()
             and (now() - a.query_start > make_interval(secs => %s)
                  or cardinality(pg_blocking_pids(a.pid)) > 0)
           order by 4 desc""",
        (LONG_QUERY_S,),
    ).fetchall()
    info = {
        r[0]: r
        for r in conn.execute(
            """select pid, usename, state, extract(epoch from now() - coalesce(xact_start, query_start))::int,
                  left(coalesce(query, ''), 200) from pg_stat_activity"""
        ).fetchall()
    }
    found: list[tuple[Status, Finding]] = []
    for pid, user, state, secs, query, blockers, _wait in rows:
        secs = secs or 0
        if blockers:
            if secs < BLOCKED_S:
                continue
            who = "; ".join(
                f"pid {b} ({info[b][1]}, {info[b][2]}, {info[b][3]} s: {info[b][4] or '?'})"
                if b in info
                else f"pid {b}"
                for b in blockers
            )
            found.append(
                (
                    "problem",
                    Finding(
                        f"pid {pid}",
                        f"blocked for {secs} s ({user}: {query or '<not visible>'}) by {who}",
                        "end the blocker's transaction in its client, or SELECT "
                        f"pg_cancel_backend({blockers[0]}) (pg_terminate_backend({blockers[0]}) if it is "
                        "idle in transaction)",
                    ),
                )
            )
        else:
            found.append(
                (
                    "warning",
                    Finding(
                        f"pid {pid}",
                        f"running {secs // 60} min ({user}, {state}): {query or '<not visible>'}",
                        f"EXPLAIN it (pg_explain) or SELECT pg_cancel_backend({pid}); set statement_timeout",
                    ),
                )
            )
    hidden = any(r[4] == "<insufficient privilege>" for r in info.values())
    note = "; other users' queries hidden (grant pg_read_all_stats)" if hidden else ""
    summary = (f"{len(found)} long or blocked quer(ies)" if found else "no long or blocked queries") + note
    return Check("long and blocked queries", worst(found), summary, [f for _, f in found])


def replication(conn: psycopg.Connection[Any]) -> Check:
    row = conn.execute("select pg_is_in_recovery()").fetchone()
    if row and row[0]:
        lag = conn.execute(
            "select extract(epoch from now() - pg_last_xact_replay_timestamp())::int"
        ).fetchone()
        secs = lag[0] if lag else None
        return Check("replication", "ok", f"this server is a standby; last replayed transaction {secs} s ago")
    slots = conn.execute(
        """select slot_name, slot_type, active, pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::bigint
           from pg_replication_slots"""
    ).fetchall()
    standbys = conn.execute(
        "select application_name, state, extract(epoch from replay_lag)::int from pg_stat_replication"
    ).fetchall()
    found: list[tuple[Status, Finding]] = []
    for name, kind, active, retained in slots:
        if not active and (retained or 0) >= SLOT_WAL_WARN:
            found.append(
                (
                    "problem",
                    Finding(
                        f"slot {name}",
                        f"inactive {kind} slot retains {human_bytes(retained)} of WAL "
                        "(the disk fills, vacuum is held back)",
                        f"reconnect its consumer, or SELECT pg_drop_replication_slot('{name}')",
                    ),
                )
            )
    for app, state, lag in standbys:
        if lag is not None and lag > 60:
            found.append(
                (
                    "warning",
                    Finding(
                        f"standby {app}",
                        f"{state}, replay lag {lag} s",
                        "check the standby's I/O and network",
                    ),
                )
            )
    if not slots and not standbys:
        return Check("replication", "ok", "no replication slots or standbys")
    summary = f"{len(slots)} slot(s), {len(standbys)} standby(s)"
    return Check("replication", worst(found), summary, [f for _, f in found])


CHECKS = [
    ("transaction-ID wraparound", wraparound),
    ("connections", connections),
    ("cache hit ratio", cache_hit),
    ("long and blocked queries", activity),
    ("replication", replication),
]
