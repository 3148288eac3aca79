"""The final table of docs/screens.md from one or more per-round CSVs of `bench screen`.

Per screen and arm: final hit ratio (mean ± standard error over seeds), the
ratio to the random arm of the same run, fit + propose seconds per guided
round (mean, max) and coverage of 90% intervals on the unmeasured genes
(mean over guided rounds and seeds). Usage:

    python benchmarks/screen_table.py benchmarks/results/final/*/screen_rounds.csv
"""

from __future__ import annotations

import csv
import math
import sys
from collections import defaultdict


def main(paths: list[str]) -> None:
    rows = [r for p in paths for r in csv.DictReader(open(p))]
    last = defaultdict(int)
    for r in rows:
        key = (r["screen"], r["arm"], r["seed"])
        last[key] = max(last[key], int(r["round"]))
    finals, seconds, cover = defaultdict(dict), defaultdict(list), defaultdict(list)
    for r in rows:
        key = (r["screen"], r["arm"])
        if int(r["round"]) == last[(r["screen"], r["arm"], r["seed"])]:
            finals[key][r["seed"]] = float(r["hit_ratio"])
        if int(r["round"]) > 0 and r["arm"] != "random":
            seconds[key].append(float(r["fit_s"]) + float(r["propose_s"]))
            if r.get("pool_coverage90"):
                cover[key].append(float(r["pool_coverage90"]))
    print("| screen | arm | seeds | hit ratio (mean ± se) | x random | "
          "fit+propose s/round (mean, max) | 90% PI coverage, unmeasured |")
    print("|---|---|---|---|---|---|---|")
    for screen in sorted({s for s, _ in finals}):
        rnd = list(finals.get((screen, "random"), {}).values())
        rnd_mean = sum(rnd) / len(rnd) if rnd else float("nan")
        for arm in sorted({a for s, a in finals if s == screen}, key=lambda a: a == "random"):
            v = list(finals[(screen, arm)].values())
            m = sum(v) / len(v)
            se = math.sqrt(sum((x - m) ** 2 for x in v) / (len(v) - 1) / len(v)) if len(v) > 1 \
                else float("nan")
            s = seconds.get((screen, arm), [])
            c = cover.get((screen, arm), [])
            print(f"| {screen} | {arm} | {len(v)} | {m:.3f} ± {se:.3f} | "
                  f"{m / rnd_mean:.1f} | "
                  + (f"{sum(s) / len(s):.1f}, {max(s):.1f}" if s else "-") + " | "
                  + (f"{sum(c) / len(c):.2f} ({min(c):.2f}-{max(c):.2f})" if c else "-") + " |")


if __name__ == "__main__":
    main(sys.argv[1:])
