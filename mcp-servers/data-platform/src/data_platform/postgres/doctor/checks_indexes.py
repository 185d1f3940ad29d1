"""Index checks: invalid, duplicate or overlapping, and unused indexes (with the statistics' age)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import psycopg

from data_platform.postgres.doctor.common import ident
from data_platform.postgres.doctor.health import Check, Finding, Status, worst
from data_platform.render import human_bytes

UNUSED_MIN_AGE_DAYS = 7  # younger statistics cannot tell an unused index from a rarely used one
UNUSED_MIN_BYTES = 1 << 20

_INDEXES = """
select n.nspname, t.relname, c.relname, i.indisvalid, i.indisunique, i.indisprimary,
       i.indkey::text, i.indclass::text, coalesce(pg_get_expr(i.indexprs, i.indrelid), ''),
       coalesce(pg_get_expr(i.indpred, i.indrelid), ''), c.relam, pg_get_indexdef(i.indexrelid),
       pg_relation_size(i.indexrelid), exists(select 1 from pg_constraint k where k.conindid = i.indexrelid)
from pg_index i
join pg_class c on c.oid = i.indexrelid
join pg_class t on t.oid = i.indrelid
join pg_namespace n on n.oid = t.relnamespace
where n.nspname not in ('pg_catalog', 'information_schema') and n.nspname !~ '^pg_toast'
order by 1, 2, 3
"""


def _indexes(conn: psycopg.Connection[Any]) -> list[tuple[Any, ...]]:
    return conn.execute(_INDEXES).fetchall()


def invalid_indexes(conn: psycopg.Connection[Any]) -> Check:
    found = []
    for ix in (_Index(*r) for r in _indexes(conn)):
        if ix.valid:
            continue
        rebuild = re.sub(r"^CREATE (UNIQUE )?INDEX", r"CREATE \1INDEX CONCURRENTLY", ix.definition)
        why = " (a UNIQUE build fails on duplicate keys: remove them first)" if ix.unique else ""
        found.append(
            Finding(
                ident(ix.schema, ix.name),
                f"INVALID on {ident(ix.schema, ix.table)}: a failed CREATE INDEX CONCURRENTLY left it; "
                "it is maintained on every write but never used",
                f"DROP INDEX CONCURRENTLY {ident(ix.schema, ix.name)}; then {rebuild}{why}",
            )
        )
    status: Status = "problem" if found else "ok"
    return Check("invalid indexes", status, f"{len(found)} invalid index(es)" if found else "none", found)


def duplicate_indexes(conn: psycopg.Connection[Any]) -> Check:
    """Same table, method, columns, opclasses, expressions and predicate: a duplicate (problem);
    a plain b-tree whose columns begin another's: overlapping (warning)."""
    rows = [_Index(*r) for r in _indexes(conn) if r[3]]
    found: list[tuple[Any, Finding]] = []
    for r in rows:
        for o in rows:
            if o is r or not r.comparable(o):
                continue
            if r.keys == o.keys and o.outranks(r):
                status, kind = "problem", "duplicates"
            elif r.keys != o.keys and r.plain() and o.keys[: len(r.keys)] == r.keys:
                status, kind = "warning", "is a prefix of"
            else:
                continue
            detail = f"{kind} {ident(r.schema, o.name)} on {ident(r.schema, r.table)} "
            found.append(
                (
                    status,
                    Finding(
                        ident(r.schema, r.name),
                        detail + f"({human_bytes(r.size)} maintained on every write, never needed)",
                        f"DROP INDEX CONCURRENTLY {ident(r.schema, r.name)}",
                    ),
                )
            )
            break
    summary = f"{len(found)} redundant index(es)" if found else "none"
    return Check("duplicate indexes", worst(found), summary, [f for _, f in found])


@dataclass
class _Index:
    schema: str
    table: str
    name: str
    valid: bool
    unique: bool
    primary: bool
    indkey: str
    indclass: str
    exprs: str
    pred: str
    am: int
    definition: str
    size: int
    constraint: bool

    @property
    def keys(self) -> list[tuple[str, str]]:
        return list(zip(self.indkey.split(), self.indclass.split(), strict=False))

    def comparable(self, other: _Index) -> bool:
        return (self.schema, self.table, self.am, self.exprs, self.pred) == (
            other.schema,
            other.table,
            other.am,
            other.exprs,
            other.pred,
        )

    def outranks(self, other: _Index) -> bool:
        """Of two equal indexes the one kept: a constraint's, else a unique one, else the first by name."""
        mine, theirs = (
            (self.constraint or self.primary, self.unique),
            (other.constraint or other.primary, other.unique),
        )
        return mine > theirs or (mine == theirs and self.name < other.name)

    def plain(self) -> bool:
        """Droppable when another index starts with its columns: no uniqueness, no expressions."""
        return not (self.unique or self.primary or self.constraint or self.exprs)


def unused_indexes(conn: psycopg.Connection[Any]) -> Check:
    row = conn.execute(
        """select coalesce(d.stats_reset, pg_postmaster_start_time()),
                  extract(epoch from now() - coalesce(d.stats_reset, pg_postmaster_start_time())) / 86400
           from pg_stat_database d where d.datname = current_database()"""
    ).fetchone()
    since, days = (row[0], float(row[1])) if row else (None, 0.0)
    rows = conn.execute(
        """select s.schemaname, s.relname, s.indexrelname, pg_relation_size(s.indexrelid)
           from pg_stat_user_indexes s join pg_index i on i.indexrelid = s.indexrelid
           where s.idx_scan = 0 and not i.indisunique and not i.indisprimary and i.indisvalid
             and not exists(select 1 from pg_constraint k where k.conindid = i.indexrelid)
             and pg_relation_size(s.indexrelid) >= %s
           order by 4 desc""",
        (UNUSED_MIN_BYTES,),
    ).fetchall()
    age = f"statistics since {since:%Y-%m-%d %H:%M} ({days:.1f} days)" if since else "statistics age unknown"
    if days < UNUSED_MIN_AGE_DAYS:
        return Check(
            "unused indexes",
            "ok",
            f"not judged: {age}, under {UNUSED_MIN_AGE_DAYS} days ({len(rows)} index(es) unscanned so far)",
        )
    found = [
        Finding(
            ident(s, i),
            f"never scanned on {ident(s, t)} in {days:.0f} days, {human_bytes(size)}",
            f"DROP INDEX CONCURRENTLY {ident(s, i)} (check replicas first: their scans are counted there)",
        )
        for s, t, i, size in rows
    ]
    return Check("unused indexes", "warning" if found else "ok", f"{len(found)} unused; {age}", found)


CHECKS = [
    ("invalid indexes", invalid_indexes),
    ("duplicate indexes", duplicate_indexes),
    ("unused indexes", unused_indexes),
]
