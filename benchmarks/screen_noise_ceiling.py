"""How many hits could ANY method find in 5 x 128 if it knew every gene's true effect?

A screen's hits are the genes whose *measured* score passed a threshold, and a
measured score is the true effect plus measurement noise. No model can predict
the noise of an experiment not yet run, so the best any method can do is to
know each gene's true effect exactly (an oracle) and pick the genes most likely
to come out as hits. This script estimates that ceiling for a screen:

1. Deconvolve: estimate the distribution G of true effects from the scores,
   `score = effect + N(0, noise_sd^2)`, by the nonparametric maximum
   likelihood estimate on a grid (Kiefer-Wolfowitz, EM; Koenker & Mizera 2014).
2. Draw each gene's true effect from its posterior given its score under G
   (so the draws are consistent with the scores that define the hits).
3. The oracle picks the `budget` genes with the largest |effect| (ties at
   random); count how many of them are hits. Average over draws.

`noise_sd` is what the screen's own replicates would tell; the tables here keep
only a summary score, so the script prints the ceiling over a range of noise
levels. For Zhuang 2019 the score is the SUM of two replicates' MAGeCK-MLE
z-scores, each ~N(0, 1) for a gene without effect: noise_sd = sqrt(2) if the
replicates' noise is independent. Usage:

    python benchmarks/screen_noise_ceiling.py Zhuang19 --budget 640 --noise 1.0 1.2 1.414
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd

from loop.design.datasets import read_table, resolve


def npmle(scores: np.ndarray, noise_sd: float, grid: np.ndarray, iters: int = 500
          ) -> np.ndarray:
    """Mixing weights of G on `grid` by EM (the NPMLE of a Gaussian location mixture)."""
    lik = np.exp(-0.5 * ((scores[:, None] - grid[None, :]) / noise_sd) ** 2)
    w = np.full(len(grid), 1.0 / len(grid))
    for _ in range(iters):
        post = lik * w
        post /= post.sum(axis=1, keepdims=True) + 1e-300
        w = post.mean(axis=0)
    return w


def ceiling(scores: np.ndarray, is_hit: np.ndarray, noise_sd: float, budget: int,
            draws: int = 50, seed: int = 0) -> tuple[float, float]:
    """Mean and sd over draws of the hits an effect-knowing oracle finds in `budget` picks."""
    rng = np.random.default_rng(seed)
    grid = np.linspace(scores.min() - 1, scores.max() + 1, 400)
    w = npmle(scores, noise_sd, grid)
    post = np.exp(-0.5 * ((scores[:, None] - grid[None, :]) / noise_sd) ** 2) * w
    cdf = np.cumsum(post / post.sum(axis=1, keepdims=True), axis=1)
    found = []
    for _ in range(draws):
        u = rng.random(len(scores))[:, None]
        effect = grid[np.minimum((cdf < u).sum(axis=1), len(grid) - 1)]
        order = np.lexsort((rng.random(len(scores)), -np.abs(effect - np.median(effect))))
        found.append(is_hit[order[:budget]].sum())
    return float(np.mean(found)), float(np.std(found))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("screen")
    parser.add_argument("--budget", type=int, default=640)
    parser.add_argument("--noise", type=float, nargs="+", default=[1.0, 1.2, 1.414])
    args = parser.parse_args()
    table = resolve(f"data:screens/ground_truth_{args.screen}.csv")
    hits = set(map(str, np.load(resolve(f"data:screens/topmovers_{args.screen}.npy"),
                                allow_pickle=True)))
    frame = read_table(table, ["Gene", "Score"], ids="Gene", numeric=["Score"]).dropna()
    scores = frame["Score"].to_numpy(dtype=float)
    is_hit = frame["Gene"].isin(hits).to_numpy()
    centre = np.median(scores)
    print(f"{args.screen}: {len(scores)} genes, {is_hit.sum()} hits, score sd "
          f"{scores.std():.3f}, robust sd {1.4826 * np.median(np.abs(scores - centre)):.3f}; "
          f"random finds {is_hit.sum() * args.budget / len(scores):.1f} hits in {args.budget}")
    print("| noise sd | share of score variance that is noise | oracle hits (mean ± sd) | "
          "oracle hit ratio | x random |")
    print("|---|---|---|---|---|")
    for sd in args.noise:
        mean, spread = ceiling(scores, is_hit, sd, args.budget)
        share = min(1.0, sd**2 / scores.var())
        print(f"| {sd:.3f} | {share:.2f} | {mean:.1f} ± {spread:.1f} | "
              f"{mean / is_hit.sum():.3f} | {mean / (is_hit.sum() * args.budget / len(scores)):.1f} |")


if __name__ == "__main__":
    main()
