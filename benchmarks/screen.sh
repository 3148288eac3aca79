#!/usr/bin/env bash
# The screen benchmark of docs/screens.md: 5 x 128 on IFNG and IL2, 10 seeds,
# every strategy (about 40 minutes on 2 cores). Pass other options through,
# e.g. `benchmarks/screen.sh --table my_screen.csv --hits my_hits.txt`.
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=1
exec .venv/bin/loopwell bench screen \
  --arm linear:ucb:beta=0.25 --arm linear:thompson --arm linear:ei \
  --arm linear:ucb:beta=0.25,initial=random \
  --arm gp:ucb:features=svd,initial=random --arm random --seeds "${SEEDS:-10}" "$@"
