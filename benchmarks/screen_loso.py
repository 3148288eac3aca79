"""Leave one screen out: which candidate recipe would each held-out screen get?

Reads the per-round CSV of a `loopwell bench screen` run that holds the
candidate arms and `random` on every screen (selection seeds), and for each
held-out screen chooses the candidate with the best mean log(hit ratio /
random hit ratio) over the OTHER screens, then reports how that choice scores
on the held-out screen. Usage:

    python benchmarks/screen_loso.py benchmarks/results/select/screen_rounds.csv
"""

from __future__ import annotations

import csv
import math
import sys
from collections import defaultdict


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


def loso(ratios: dict[tuple[str, str], list[float]]) -> list[dict]:
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
        best = max(arms, key=score.get)
        out.append({"held_out": held, "chosen": best,
                    "train_geomean_x_random": math.exp(score[best]),
                    "held_out_hit_ratio": mean[(held, best)],
                    "held_out_x_random": mean[(held, best)] / mean[(held, "random")]})
    return out


def main(path: str) -> None:
    ratios = final_ratios(path)
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
    for r in loso(ratios):
        print(f"| {r['held_out']} | `{r['chosen']}` | {r['train_geomean_x_random']:.2f} | "
              f"{r['held_out_hit_ratio']:.3f} | {r['held_out_x_random']:.1f} |")


if __name__ == "__main__":
    main(sys.argv[1])
