#!/usr/bin/env bash
# Set up and run every benchmark; each prints ratios against baselines measured in the same run.
# Usage: scripts/bench.sh [start|frames|postgres|doctor|diff|dbt|dbt_show|dbt_impact|column_lineage|plugin|completions|pictures|lakes ...]   (default: all). BENCH_ROWS sizes the data.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PROJECT="$ROOT/mcp-servers/data-platform"
VENV="$PROJECT/.venv"
"$ROOT/scripts/setup-postgres.sh"
"$ROOT/scripts/setup-env.sh" "$VENV" dev,bench
cd "$PROJECT"
which=("$@")
[ ${#which[@]} -eq 0 ] && which=(start frames postgres doctor diff dbt dbt_show dbt_impact column_lineage plugin completions pictures lakes)
for b in "${which[@]}"; do
  echo "=== bench: $b"
  case "$b" in
    start) "$VENV/bin/python" bench/bench_start.py ;;
    frames) "$VENV/bin/python" bench/bench_frames.py ${BENCH_ROWS:+--rows "$BENCH_ROWS"} ;;
    postgres) "$VENV/bin/python" bench/bench_postgres.py ${BENCH_ROWS:+--rows "$BENCH_ROWS"} ;;
    doctor) "$VENV/bin/python" bench/bench_doctor.py ${BENCH_ROWS:+--rows "$BENCH_ROWS"} ;;
    diff) "$VENV/bin/python" bench/bench_diff.py ;;
    dbt) "$VENV/bin/python" bench/bench_dbt.py --quick ;;
    dbt_show) "$VENV/bin/python" bench/bench_dbt_show.py ;;
    dbt_impact) "$VENV/bin/python" bench/bench_dbt_impact.py ;;
    column_lineage) "$VENV/bin/python" bench/bench_column_lineage.py ;;
    plugin) "$VENV/bin/python" bench/plugin_start.py ;;
    completions) "$VENV/bin/python" bench/bench_completions.py ;;
    pictures) "$VENV/bin/python" bench/bench_pictures.py ${BENCH_ROWS:+--rows "$BENCH_ROWS"} ;;
    lakes) "$VENV/bin/python" bench/bench_lakes.py ${BENCH_ROWS:+--rows "$BENCH_ROWS"} ;;
    *) echo "unknown benchmark $b" >&2; exit 2 ;;
  esac
done
