#!/usr/bin/env bash
# Reaction optimisation head to head: loopwell vs BayBE, Ax and random on the two
# published tables ($SEEDS seeds, default 10; the docs use 20; start 5, batches of 5, to a top-1% yield, budget 100).
# Needs the bench extras: pip install -c .ci/constraints.txt -e '.[bench]'.
# Ax takes ~10-45 s per proposal (20 seeds: 90 minutes on 2 cores); re-run with
# --resume to continue where it stopped (runs are kept in benchmarks/results/reactions_runs.jsonl).
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=1
exec .venv/bin/loopwell bench reactions --seeds "${SEEDS:-10}" --workers 2 "$@"
