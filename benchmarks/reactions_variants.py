"""The research harness behind docs/reactions.md's tables of variants.

Runs loopwell's instruments and agents, with one thing changed at a time, on
the reactions benchmark's protocol (the shared random start of 5 rows, batches
of 5, to a top-1% yield, budget 100), through the same loop as the peers
(`loop.bench.reactions._run_peer`) and without the store, so 80 seeds of a
variant take minutes. It prints, per table and variant, the median, p75 and
mean experiments to a top-1% yield and the share of seeds with a hit by 15
experiments (the figure the median goal turns on), and appends every run to
a JSON-lines file. Tune on seeds the benchmark does not report (it reports
0-19):

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/reactions_variants.py \\
        --seeds 20-100 recipe first16 order2

Variants (the classes are in reactions_variant_parts.py):

- recipe (additive + ucb beta 4, the reaction default); ucbB (beta B, e.g.
  ucb2); ei; thompson; hedge (one beta per pick of a batch, 0 to 16);
- first16 / firstunc / firstgibbon / lookahead (the first model batch by ucb
  beta 16 / by uncertainty / by GIBBON / chosen for hits in it or in the
  recipe's batch after it, over joint samples; then the recipe); later1 (the
  recipe first, then beta 1); gibbon (GIBBON batches every round); coverage1 /
  coverage3 (the batch most likely to hold one of the pool's top 1% / 3%, by
  greedy max coverage over 512 joint samples);
- yeojohnson / rank (the yield transformed before the fit); sparse2 / sparse8
  (outputscale prior Gamma(1.1, 2 or 8) per factor); order2 (a second-order
  additive term, one outputscale); pairs (one outputscale per pair of
  factors); nocal (no leave-one-out variance calibration);
- ohe / both (one-hot levels, or DFT PCs and one-hot levels, in each factor's
  block); pca2 / pca3 (2 or 3 DFT principal components per factor, not 5);
  mordred (Mordred descriptors instead of DFT);
- oracle: a diagnostic, not a method (the prior fitted on the whole table,
  never refitted).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path[:0] = [str(Path(__file__).resolve().parents[1]), str(Path(__file__).resolve().parent)]

import numpy as np  # noqa: E402
import torch  # noqa: E402

from agents.greedy import EIStrategy, UCBStrategy, UncertaintyStrategy  # noqa: E402
from agents.thompson import ThompsonStrategy  # noqa: E402
from instruments.additive import AdditiveGP  # noqa: E402
from loop.bench.reactions import PRESETS, design_spec, load_table  # noqa: E402
from reactions_variant_parts import (HEDGE_BETAS, Coverage, FirstBatch, Gibbon,  # noqa: E402
                                     Hedge, Lookahead, Oracle, Order2, Pairs,
                                     SparseScales, Warped)


def variant(name: str):
    """Return (encoding, model factory, strategy factory) of a named variant."""
    recipe = lambda: UCBStrategy(beta=4.0)  # noqa: E731
    model = AdditiveGP
    if name == "recipe":
        return "descriptors", model, recipe
    if name.startswith("ucb"):
        return "descriptors", model, lambda: UCBStrategy(beta=float(name[3:]))
    simple = {"ei": EIStrategy, "thompson": ThompsonStrategy,
              "first16": lambda: FirstBatch(UCBStrategy(beta=16.0), recipe()),
              "firstunc": lambda: FirstBatch(UncertaintyStrategy(), recipe()),
              "coverage1": lambda: Coverage(0.01), "coverage3": lambda: Coverage(0.03),
              "gibbon": Gibbon, "firstgibbon": lambda: FirstBatch(Gibbon(), recipe()),
              "hedge": lambda: Hedge(HEDGE_BETAS),
              "later1": lambda: FirstBatch(recipe(), UCBStrategy(beta=1.0)),
              "lookahead": lambda: FirstBatch(Lookahead(), recipe())}
    if name in simple:
        return "descriptors", model, simple[name]
    models = {"yeojohnson": lambda **o: Warped("yj", **o), "rank": lambda **o: Warped("rank", **o),
              "sparse2": lambda **o: SparseScales(2.0, **o),
              "sparse8": lambda **o: SparseScales(8.0, **o), "order2": Order2,
              "pairs": Pairs}
    if name in models:
        return "descriptors", models[name], recipe
    if name in ("ohe", "both", "pca2", "pca3", "mordred"):
        return name, model, recipe
    if name == "nocal":
        return "descriptors", lambda **o: AdditiveGP(calibrate=False, **o), recipe
    if name == "oracle":
        return "descriptors", Oracle, recipe
    raise SystemExit(f"unknown variant '{name}'; see the module docstring")


# -- the proposer -------------------------------------------------------------------
def features(table: str, encoding: str) -> tuple[np.ndarray, list[list[int]]]:
    """Return the design's features and its blocks (one per factor) in the table's row order."""
    from loop.design.reactions import reaction_space
    from loop.campaign.spec import ReactionDesign

    def design(enc):
        pca = {"pca2": 2, "pca3": 3}.get(enc, 5)
        spec = design_spec(PRESETS[table], pca=pca)
        for f in spec["factors"]:
            if enc == "ohe" and "descriptors" in f:
                f["encoding"] = "ohe"
            if enc == "mordred" and "descriptors" in f:
                folder, name = f["descriptors"].rsplit("/", 1)
                f["descriptors"] = f"{folder}/{name.rsplit('_dft', 1)[0].split('-')[0]}_mordred.csv"
        return reaction_space(ReactionDesign.model_validate(spec))

    if encoding != "both":
        d = design(encoding)
        return d.X.astype(np.float64), [[a, b] for _, a, b in d.blocks]
    a, b = design("descriptors"), design("ohe")
    columns, blocks, at = [], [], 0
    for (name, s1, e1), (_, s2, e2) in zip(a.blocks, b.blocks):
        part = a.X[:, s1:e1] if e1 - s1 == e2 - s2 == 1 else \
            np.concatenate([a.X[:, s1:e1], b.X[:, s2:e2]], 1)
        columns.append(part)
        blocks.append([at, at + part.shape[1]])
        at += part.shape[1]
    return np.concatenate(columns, 1).astype(np.float64), blocks


class VariantProposer:
    """A bench proposer: fit the variant's instrument, propose with its strategy."""

    def __init__(self, bench, seed: int, name: str) -> None:
        encoding, make_model, make_strategy = variant(name)
        X, blocks = features(bench.name, encoding)
        self.X, self.y = torch.from_numpy(X), bench.y
        if make_model is Oracle:
            self.model = Oracle(bench.name, self.X, bench.y, blocks=blocks)
        else:
            self.model = make_model(blocks=blocks)
        self.strategy = make_strategy()
        self.seed, self.round, self.measured = seed, 0, []

    def start(self, rows, y) -> None:
        self.measured += [int(i) for i in rows]

    def propose(self, q: int) -> list[int]:
        self.round += 1
        rows = self.measured
        self.model.fit(self.X[rows], torch.from_numpy(self.y[rows])[:, None].double())
        free = np.setdiff1d(np.arange(len(self.y)), rows)
        chosen = self.strategy.propose(self.model, self.X[free], q, None,
                                       seed=self.seed * 100_003 + self.round)
        return [int(free[int(i)]) for i in chosen]

    def observe(self, rows, y) -> None:
        self.measured += [int(i) for i in rows]


def run(job: tuple[str, int, str]) -> dict:
    from loop.bench import peers
    from loop.bench.reactions import _run_peer

    table, seed, name = job
    torch.set_num_threads(1)
    peers.PROPOSERS[name] = lambda bench, s: VariantProposer(bench, s, name)
    record = _run_peer(load_table(PRESETS[table]), {"tool": name, "seed": seed, "q": 5,
                                                    "budget": 100})
    return {"table": table, "seed": seed, "variant": name, "hit_at": record["hit_at"],
            "s_per_proposal": float(np.median(record["sec_per_proposal"] or [0.0]))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("variants", nargs="+")
    parser.add_argument("--seeds", default="20-100", help="first-last (last excluded)")
    parser.add_argument("--table", action="append", choices=sorted(PRESETS))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/variants.jsonl"))
    args = parser.parse_args()
    for name in args.variants:
        variant(name)  # fail before running anything
    first, last = (int(v) for v in args.seeds.split("-"))
    tables = args.table or sorted(PRESETS)
    jobs = [(t, s, v) for v in args.variants for t in tables for s in range(first, last)]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    results: dict[tuple[str, str], list[float]] = {}
    with ProcessPoolExecutor(args.workers) as pool, open(args.out, "a") as out:
        for k, r in enumerate(pool.map(run, jobs), 1):
            out.write(json.dumps(r) + "\n")
            out.flush()
            results.setdefault((r["table"], r["variant"]), []).append(
                r["hit_at"] if r["hit_at"] is not None else 105)
            print(f"[{k}/{len(jobs)}] {r['table']} {r['variant']} seed {r['seed']}: "
                  f"{r['hit_at'] or '>100'}", file=sys.stderr, flush=True)
    for (table, name), hits in sorted(results.items()):
        h = np.array(hits, dtype=np.float64)
        print(f"{table:17s} {name:11s} seeds {len(h):3d}  median {np.median(h):5.1f}  "
              f"p75 {np.percentile(h, 75):5.1f}  mean {h.mean():5.1f}  "
              f"<=15 {np.mean(h <= 15):.2f}")


if __name__ == "__main__":
    main()
