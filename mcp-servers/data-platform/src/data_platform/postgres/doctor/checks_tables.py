"""Table checks: dead tuples and vacuum, analyse, bloat estimates, sequences near their maximum."""

from __future__ import annotations

from typing import Any

import psycopg

from data_platform.postgres.doctor.common import ident
from data_platform.postgres.doctor.health import Check, Finding, Status, worst
from data_platform.render import human_bytes

DEAD_WARN, DEAD_PROBLEM = 0.2, 0.5  # dead / (live + dead)
DEAD_MIN_ROWS = 10_000
NEVER_ANALYZED_MIN_ROWS = 10_000
BLOAT_RATIO = 2.0  # pages on disk / pages the rows need
BLOAT_MIN_BYTES = 32 << 20
SEQ_WARN, SEQ_PROBLEM = 0.75, 0.9


def dead_tuples(conn: psycopg.Connection[Any]) -> Check:
    rows = conn.execute(
        """select s.schemaname, s.relname, s.n_live_tup, s.n_dead_tup,
                  case when coalesce(s.last_autovacuum, '-infinity') > coalesce(s.last_vacuum, '-infinity')
                       then 'auto' else 'manual' end,
                  greatest(s.last_vacuum, s.last_autovacuum)::text,
                  exists (select from pg_options_to_table(c.reloptions)
                          where option_name = 'autovacuum_enabled'
                            and not option_value::bool)
           from pg_stat_user_tables s join pg_class c on c.oid = s.relid
           where s.n_dead_tup >= %s order by s.n_dead_tup desc""",
        (DEAD_MIN_ROWS,),
    ).fetchall()
    found: list[tuple[Status, Finding]] = []
    for schema, table, live, dead, how, last, off in rows:
        ratio = dead / max(1, live + dead)
        if ratio < DEAD_WARN:
            continue
        name = ident(schema, table)
        when = "never vacuumed" if last is None else f"last vacuum {last[:16]} ({how})"
        if off:  # the table's own setting: no autovacuum tuning matters until it is reset
            detail = f"autovacuum is disabled on this table (autovacuum_enabled = false); {when}"
            fix = f"ALTER TABLE {name} RESET (autovacuum_enabled); VACUUM (ANALYZE) {name}"
        else:
            detail = when
            fix = (
                f"VACUUM (ANALYZE) {name}; if it keeps coming back, look for long transactions holding "
                "old rows (pg_stat_activity.backend_xmin) and tune autovacuum_vacuum_scale_factor for "
                "this table"
            )
        found.append(
            (
                "problem" if ratio >= DEAD_PROBLEM else "warning",
                Finding(name, f"{ratio:.0%} dead rows ({dead:,} dead, {live:,} live); {detail}", fix),
            )
        )
    return Check(
        "dead rows and vacuum",
        worst(found),
        f"{len(found)} table(s) with many dead rows" if found else "none",
        [f for _, f in found],
    )


def never_analyzed(conn: psycopg.Connection[Any]) -> Check:
    rows = conn.execute(
        """select schemaname, relname, n_live_tup from pg_stat_user_tables
           where last_analyze is null and last_autoanalyze is null
           order by n_live_tup desc"""
    ).fetchall()
    found = [
        Finding(
            ident(s, t),
            f"{n:,} rows, never analysed: the planner guesses its row counts",
            f"ANALYZE {ident(s, t)}",
        )
        for s, t, n in rows
        if n >= NEVER_ANALYZED_MIN_ROWS
    ]
    small = len(rows) - len(found)
    # "none" alone would read as "every table analysed": say what was left out, and why.
    summary = f"{len(found)} table(s)" if found else f"none with {NEVER_ANALYZED_MIN_ROWS:,}+ rows"
    if small:
        summary += (
            f" ({small} smaller table(s) never analysed either: harmless, autovacuum analyses a table"
            " as it grows; ANALYZE one if its plans look wrong)"
        )
    return Check("never analysed", "warning" if found else "ok", summary, found)


# Pages the live rows need (tuple header 24 + item pointer 4 + average widths from pg_stats,
# at the table's fillfactor) against pages on disk. An estimate: said as one.
_TABLE_BLOAT = """
with widths as (
  select c.oid, sum(coalesce(s.avg_width, 32) * (1 - coalesce(s.null_frac, 0))) as width,
         count(s.attname) as known, count(a.attname) as columns
  from pg_class c
  join pg_namespace n on n.oid = c.relnamespace
  join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
  left join pg_stats s on s.schemaname = n.nspname and s.tablename = c.relname and s.attname = a.attname
  where c.relkind = 'r' and n.nspname not in ('pg_catalog', 'information_schema')
  group by c.oid
)
select n.nspname, c.relname, pg_relation_size(c.oid) as bytes,
       ceil(c.reltuples * (28 + w.width + 4) /
            ((current_setting('block_size')::int - 24) *
             coalesce((select option_value::int from pg_options_to_table(c.reloptions)
                       where option_name = 'fillfactor'), 100) / 100.0))
         * current_setting('block_size')::int as needed
from widths w join pg_class c on c.oid = w.oid join pg_namespace n on n.oid = c.relnamespace
where w.known = w.columns and c.reltuples > 0 and pg_relation_size(c.oid) >= %s
"""

# B-tree leaves: (8 + key widths, aligned) per row at the default 90 % fill.
_INDEX_BLOAT = """
select n.nspname, ic.relname, t.relname, pg_relation_size(ic.oid),
       ceil(ic.reltuples * (16 + sum(coalesce(s.avg_width, 32)))
            / ((current_setting('block_size')::int - 24) * 0.9))
         * current_setting('block_size')::int,
       count(s.attname) = count(a.attname)
from pg_index i
join pg_class ic on ic.oid = i.indexrelid
join pg_am am on am.oid = ic.relam and am.amname = 'btree'
join pg_class t on t.oid = i.indrelid
join pg_namespace n on n.oid = t.relnamespace
join pg_attribute a on a.attrelid = t.oid and a.attnum = any(i.indkey)
left join pg_stats s on s.schemaname = n.nspname and s.tablename = t.relname and s.attname = a.attname
where n.nspname not in ('pg_catalog', 'information_schema') and i.indexprs is null
  and ic.reltuples > 0 and pg_relation_size(ic.oid) >= %s
group by n.nspname, ic.relname, t.relname, ic.oid, ic.reltuples
"""


def bloat(conn: psycopg.Connection[Any]) -> Check:
    found: list[Finding] = []
    for schema, table, size, needed in conn.execute(_TABLE_BLOAT, (BLOAT_MIN_BYTES,)).fetchall():
        if needed and size / float(needed) >= BLOAT_RATIO:
            found.append(
                Finding(
                    ident(schema, table),
                    f"table ~{size / float(needed):.1f}x the size its rows need ({human_bytes(size)}, "
                    f"~{human_bytes(size - int(needed))} reclaimable; an estimate)",
                    f"VACUUM makes the space reusable; to give it back: VACUUM FULL {ident(schema, table)} "
                    "(locks the table) or pg_repack",
                )
            )
    for schema, index, table, size, needed, known in conn.execute(
        _INDEX_BLOAT, (BLOAT_MIN_BYTES,)
    ).fetchall():
        if known and needed and size / float(needed) >= BLOAT_RATIO:
            found.append(
                Finding(
                    ident(schema, index),
                    f"index on {ident(schema, table)} ~{size / float(needed):.1f}x the size it needs "
                    f"({human_bytes(size)}; an estimate)",
                    f"REINDEX INDEX CONCURRENTLY {ident(schema, index)}",
                )
            )
    return Check(
        "bloat",
        "warning" if found else "ok",
        f"{len(found)} bloated table(s)/index(es) (estimate)"
        if found
        else f"none over {human_bytes(BLOAT_MIN_BYTES)} (estimate)",
        found,
    )


def sequences(conn: psycopg.Connection[Any]) -> Check:
    """Ascending sequences near their maximum, or near the maximum of the column they feed."""
    rows = conn.execute(
        """select s.schemaname, s.sequencename, s.last_value, s.max_value, s.increment_by,
                  col.attname, col.tname, col.typname
           from pg_sequences s
           left join lateral (
             select a.attname, t.relname as tname, ty.typname
             from pg_depend d
             join pg_class sc on sc.oid = d.objid
             join pg_namespace sn on sn.oid = sc.relnamespace
             join pg_class t on t.oid = d.refobjid
             join pg_attribute a on a.attrelid = d.refobjid and a.attnum = d.refobjsubid
             join pg_type ty on ty.oid = a.atttypid
             where d.classid = 'pg_class'::regclass and d.refclassid = 'pg_class'::regclass
               and sc.relname = s.sequencename and sn.nspname = s.schemaname and d.deptype in ('a', 'i')
             limit 1) col on true
           where s.schemaname not in ('pg_catalog', 'information_schema')"""
    ).fetchall()
    found: list[tuple[Status, Finding]] = []
    hidden = 0
    limits = {"int2": 32767, "int4": 2147483647, "int8": 9223372036854775807}
    for schema, name, last, maxv, inc, col, table, typ in rows:
        if last is None:
            hidden += 1  # never used, or not readable by this role
            continue
        if inc <= 0:
            continue
        cap = min(maxv, limits.get(typ or "", maxv))
        used = last / cap
        if used < SEQ_WARN:
            continue
        feeds = f" (feeds {ident(schema, table)}.{col} {typ})" if col else ""
        widen = (
            f'ALTER TABLE {ident(schema, table)} ALTER COLUMN "{col}" TYPE bigint (rewrites the table) and '
            if typ in ("int2", "int4")
            else ""
        )
        found.append(
            (
                "problem" if used >= SEQ_PROBLEM else "warning",
                Finding(
                    ident(schema, name),
                    f"at {used:.0%} of its maximum: {last:,} of {cap:,}{feeds}",
                    f"{widen}ALTER SEQUENCE {ident(schema, name)} AS bigint MAXVALUE 9223372036854775807",
                ),
            )
        )
    summary = f"{len(found)} sequence(s) near the end" if found else "none near their maximum"
    if hidden:
        summary += f" ({hidden} never used or not readable by this role)"
    return Check("sequences", worst(found), summary, [f for _, f in found])


CHECKS = [
    ("dead rows and vacuum", dead_tuples),
    ("never analysed", never_analyzed),
    ("bloat", bloat),
    ("sequences", sequences),
]
