"""Leave one screen out: which candidate recipe would each held-out screen get?

Reads the per-round CSV of a `loopwell bench screen` run that holds the
candidate arms and `random` on every screen (selection seeds), and for each
held-out screen chooses the candidate with the best mean log(hit ratio /
random hit ratio) over the OTHER screens, then reports how that choice scores
on the held-out screen. With `--coverage LO HI`, a candidate is eligible only
if its 90% intervals covered between LO and HI of the unmeasured genes (mean
over guided rounds and seeds) on every one of the other screens: the issue's
calibration goal, applied the same way, without the held-out screen. Usage:

    python benchmarks/screen_loso.py benchmarks/results/select/screen_rounds.csv \
        [--coverage 0.85 0.95]
"""

from __future__ import annotations

import csv
import math
import sys
from collections import defaultdict


def coverages(path: str) -> dict[tuple[str, str], float]:
    """Return (screen, arm) -> mean coverage of 90% intervals over guided rounds and seeds."""
    out: dict[tuple[str, str], list[float]] = defaultdict(list)
    for r in csv.DictReader(open(path)):
        if int(r["round"]) > 0 and r.get("pool_coverage90"):
            out[(r["screen"], r["arm"])].append(float(r["pool_coverage90"]))
    return {k: sum(v) / len(v) for k, v in out.items()}


def final_ratios(path: str) -> dict[tuple[str, str], list[float]]:
    """Return (screen, arm) -> final hit ratios, one per seed."""
    rows = list(csv.DictReader(open(path)))
    last = defaultdict(int)
    for r in rows:
        key = (r["screen"], r["arm"], r["seed"])
        last[key] = max(last[key], int(r["round"]))
    out: dict[tuple[str, str], list[float]] = defaultdict(list)
    for r in rows:
        if int(r["round"]) == last[(r["screen"], r["arm"], r["seed"])]:
            out[(r["screen"], r["arm"])].append(float(r["hit_ratio"]))
    return out


def loso(ratios: dict[tuple[str, str], list[float]],
         coverage: dict[tuple[str, str], float] | None = None,
         band: tuple[float, float] | None = None) -> list[dict]:
    """For each held-out screen: the candidate chosen on the others and its scores."""
    screens = sorted({s for s, _ in ratios})
    arms = sorted({a for _, a in ratios if a != "random"})
    mean = {k: sum(v) / len(v) for k, v in ratios.items()}
    gain = {(s, a): math.log(max(mean[(s, a)], 1e-6) / mean[(s, "random")])
            for s in screens for a in arms}
    out = []
    for held in screens:
        train = [s for s in screens if s != held]
        score = {a: sum(gain[(s, a)] for s in train) / len(train) for a in arms}
        eligible = arms
        if band is not None:
            eligible = [a for a in arms
                        if all(band[0] <= (coverage or {}).get((s, a), -1) <= band[1]
                               for s in train)] or arms
        best = max(eligible, key=score.get)
        out.append({"held_out": held, "chosen": best,
                    "train_geomean_x_random": math.exp(score[best]),
                    "held_out_hit_ratio": mean[(held, best)],
                    "held_out_x_random": mean[(held, best)] / mean[(held, "random")]})
    return out


def main(path: str, band: tuple[float, float] | None = None) -> None:
    ratios = final_ratios(path)
    cover = coverages(path)
    screens = sorted({s for s, _ in ratios})
    arms = sorted({a for _, a in ratios})
    print("| arm | " + " | ".join(screens) + " |")
    print("|---|" + "---|" * len(screens))
    for a in arms:
        cells = []
        for s in screens:
            v = ratios.get((s, a), [])
            m = sum(v) / len(v) if v else float("nan")
            x = m / (sum(ratios[(s, "random")]) / len(ratios[(s, "random")]))
            cells.append(f"{m:.3f} ({x:.1f}x)")
        print(f"| {a} | " + " | ".join(cells) + " |")
    print()
    print("| held-out screen | chosen on the other five | their geo-mean x random | "
          "held-out hit ratio | x random |")
    print("|---|---|---|---|---|")
    if band is not None:
        print(f"(eligible: 90% coverage within {band[0]}-{band[1]} on every other screen)")
    for r in loso(ratios, cover, band):
        print(f"| {r['held_out']} | `{r['chosen']}` | {r['train_geomean_x_random']:.2f} | "
              f"{r['held_out_hit_ratio']:.3f} | {r['held_out_x_random']:.1f} |")


if __name__ == "__main__":
    args = sys.argv[1:]
    band = None
    if "--coverage" in args:
        i = args.index("--coverage")
        band = (float(args[i + 1]), float(args[i + 2]))
        del args[i:i + 3]
    main(args[0], band)
