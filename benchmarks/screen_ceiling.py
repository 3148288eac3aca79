"""How far can the gene-set features see on a screen? A ceiling, not a campaign.

A ridge regression on the same membership features the default uses (Reactome
+ WikiPathways blocks, the essential and unannotated flags, and the other public
screens as prior-screen columns; never the screen itself), trained on a
random 3% or 50% of the screen's genes on the log target, ranks the rest; the
share of hits among its top 640 (160 for Scharenberg22) is the precision a
campaign would reach if it knew that much of the screen in advance. 3x random
needs 3x the base rate. Usage:

    python benchmarks/screen_ceiling.py Zhuang19 IFNG Scharenberg22
"""

from __future__ import annotations

import sys

import numpy as np

from loop.design.datasets import PUBLIC_SCREENS, read_table, resolve
from loop.design.features import membership_features, read_gene_list


def ceiling(screen: str, fractions=(0.03, 0.5), repeats: int = 3, lam: float = 1.0) -> None:
    table = read_table(resolve(f"data:screens/ground_truth_{screen}.csv"), ["Gene", "Score"],
                       ids="Gene", numeric=["Score"])
    table = table.drop_duplicates("Gene")
    hits = read_gene_list(resolve(f"data:screens/topmovers_{screen}.npy"))
    genes = list(table["Gene"])
    X, _, _ = membership_features(
        genes, [resolve("data:genesets/ReactomePathways.gmt"),
                resolve("data:genesets/wikipathway.v7.2.symbols.gmt")],
        essential_path=resolve("data:screens/CEGv2.txt"),
        prior_paths=[resolve(t) for s, (t, _) in PUBLIC_SCREENS.items() if s != screen])
    X = np.c_[X, np.ones(len(X))].astype(np.float64)
    is_hit = np.array([g.upper() in hits for g in genes])
    score = np.abs(table["Score"].to_numpy(dtype=float))
    y = np.log1p(score / (np.median(score) / 0.6745))
    k = 160 if len(genes) < 2000 else 640
    rng = np.random.default_rng(0)
    for frac in fractions:
        precision = []
        for _ in range(repeats):
            train = rng.random(len(y)) < frac
            w = np.linalg.solve(X[train].T @ X[train] + lam * np.eye(X.shape[1]),
                                X[train].T @ y[train])
            top = np.argsort(-(X[~train] @ w))[:k]
            precision.append(is_hit[~train][top].mean())
        print(f"{screen}: trained on {frac:.0%}, hits among the top {k} of the rest "
              f"{np.round(precision, 3).tolist()}, base rate {is_hit.mean():.3f}")


if __name__ == "__main__":
    for name in sys.argv[1:]:
        ceiling(name)
