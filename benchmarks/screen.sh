#!/usr/bin/env bash
# The screen benchmark of docs/screens.md, 5 x 128 (32 on Scharenberg22's 1,061
# genes), on every single-gene screen of the shared data (Horlbeck is gene
# PAIRS: left out). One worker, one thread: the machine has 2 cores.
#
#   benchmarks/screen.sh select   # 8 candidates + random, selection seeds 100-102
#   benchmarks/screen.sh final    # the shipped default + random, seeds 0-9
#   benchmarks/screen.sh final --screen-only IFNG   # one screen, into results/final/IFNG
#
# then `python benchmarks/screen_loso.py benchmarks/results/select/screen_rounds.csv
# --coverage 0.85 0.95` prints the leave-one-screen-out choice and `python benchmarks/screen_table.py
# benchmarks/results/final/*/screen_rounds.csv` the final table (docs/screens.md).
# Other options pass through, e.g.
# `benchmarks/screen.sh final --table my_screen.csv --hits my_hits.txt`.
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
PY="${PYTHON:-.venv/bin/python}"
SCREENS=(--screen IFNG --screen IL2 --screen Scharenberg22 --screen Zhu21 --screen Zhuang19
         --screen Wang14)
what="${1:-final}"; shift || true
OUT="benchmarks/results/$what"
if [[ "${1:-}" == "--screen-only" ]]; then  # one screen, its own folder
  SCREENS=(--screen "$2"); OUT="$OUT/$2"; shift 2
fi
case "$what" in
  select)
    # the candidates of docs/screens.md, every option spelt out (so that a later
    # change of a default does not change what an arm means)
    Q=calibrate=quantile; H=calibrate=heteroscedastic; P=priors=others
    exec "$PY" -m loop.run.cli bench screen "${SCREENS[@]}" \
      --arm linear:ucb:beta=0.25,initial=essential,$Q \
      --arm linear:ucb:beta=0.25,$P,initial=essential,$Q \
      --arm linear:ucb:beta=1,$P,initial=essential,$Q \
      --arm linear:ucb:beta=0.25,$P,initial=mixed,share=0.5,$Q \
      --arm linear:ucb:beta=0.25,$P,initial=essential,$H \
      --arm linear:ucb:beta=0.25,$P,initial=mixed,share=0.25,$H \
      --arm linear:ucb:beta=0.25,$P,initial=mixed,share=0.5,$H \
      --arm linear:ucb:beta=0.25,$P,initial=random,$H --arm random \
      --seeds 3 --first-seed 100 --workers "${WORKERS:-2}" --out "$OUT" "$@" ;;
  final)
    exec "$PY" -m loop.run.cli bench screen "${SCREENS[@]}" --arm default --arm random \
      --seeds "${SEEDS:-10}" --workers 1 --out "$OUT" "$@" ;;
  *) echo "usage: $0 select|final [--screen-only NAME] [options]" >&2; exit 2 ;;
esac
