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

Variants: recipe (additive + ucb beta 4, the reaction default), ucbB (beta
B, e.g. ucb2), ei, thompson, first16 / firstunc (the first model batch by ucb
beta 16 / by uncertainty, then the recipe), yeojohnson / rank (the yield
transformed before the fit), sparse2 / sparse8 (outputscale prior Gamma(1.1,
2 or 8) per factor), order2 (a second-order additive term), coverage1 /
coverage3 (the batch most likely to hold one of the pool's top 1% / 3%, by
greedy max coverage over 512 joint samples), gibbon / firstgibbon (greedy
GIBBON batches, every round / the first model batch only), ohe / both (one-hot levels,
or DFT PCs and one-hot levels, in each factor's block), pca2 / pca3 (2 or 3 DFT
principal components per factor instead of 5), mordred (the Mordred descriptors
instead of DFT), nocal (no leave-one-out variance calibration), oracle (a diagnostic: the
prior fitted on the whole table, never refitted; not a method), hedge (one beta per
pick of a batch: 0, 1, 4, 9, 16), pairs (one outputscale per pair of factors), lookahead (the first model batch
chosen for hits in it or in the recipe's batch after it, over joint samples), later1 (the first model batch by the recipe, then beta 1).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import Tensor  # noqa: E402

from agents.base import StrategyBase  # noqa: E402
from agents.greedy import EIStrategy, UCBStrategy, UncertaintyStrategy  # noqa: E402
from agents.pool import pool_samples  # noqa: E402
from agents.thompson import ThompsonStrategy  # noqa: E402
from instruments import additive  # noqa: E402
from instruments.additive import AdditiveGP  # noqa: E402
from loop.bench.reactions import PRESETS, design_spec, load_table  # noqa: E402


# -- variant parts ------------------------------------------------------------------
class FirstBatch(StrategyBase):
    """One strategy for the first model batch (5 measurements), another after."""

    def __init__(self, first: StrategyBase, later: StrategyBase) -> None:
        self.first, self.later = first, later

    def _propose(self, model, candidates, q, pending, seed):
        strategy = self.first if model.train_X.shape[0] <= 5 else self.later
        return strategy._propose(model, candidates, q, pending, seed)


class Hedge(UCBStrategy):
    """A batch of UCB picks with a beta per pick (a portfolio from exploiting to exploring).

    Pick k of a batch scores `mean + sqrt(betas[k]) * sd`, its variances conditioned
    on the picks before it as in the recipe.
    """

    def __init__(self, betas: list[float]) -> None:
        super().__init__(beta=betas[0])
        self.betas, self._k = betas, 0

    def _propose(self, model, candidates, q, pending, seed):
        self._k = 0
        return super()._propose(model, candidates, q, pending, seed)

    def _acquisition(self, pool, best_f):
        from botorch.acquisition import UpperConfidenceBound

        beta = self.betas[min(self._k, len(self.betas) - 1)]
        self._k += 1
        return UpperConfidenceBound(pool, beta=beta)


class Lookahead(StrategyBase):
    """A first model batch chosen for the hits it and the recipe's next batch can land.

    Candidate batches come from UCB at several betas, the hedged batch and pure
    uncertainty. Each is scored over `n_samples` joint pool samples: a sample
    counts when the batch holds one of its top 1%, or when the recipe's next
    batch does after the model is conditioned (hyperparameters kept) on the
    sample's values at the batch plus noise. The best-scoring batch is proposed.
    """

    def __init__(self, n_samples: int = 32) -> None:
        self.n_samples = n_samples
        self.candidates = [UCBStrategy(beta=b) for b in (0.0, 1.0, 4.0, 9.0, 16.0)] + \
            [Hedge([0.0, 1.0, 4.0, 9.0, 16.0]), UncertaintyStrategy()]

    def _propose(self, model, candidates, q, pending, seed):
        X = candidates.double()
        n = X.shape[0]
        k = math.ceil(0.01 * (n + model.train_X.shape[0]))
        S = pool_samples(model, X, self.n_samples, seed)
        threshold = S.topk(k, dim=1).values[:, -1]
        noise_sd = math.sqrt(model.noise_variance)
        gen = torch.Generator().manual_seed(seed)
        best, best_score = None, -1.0
        for j, strategy in enumerate(self.candidates):
            batch = strategy._propose(model, X, q, pending, seed + j)
            rest = torch.ones(n, dtype=torch.bool)
            rest[batch] = False
            free = rest.nonzero().squeeze(-1)
            hits = 0
            for s in range(self.n_samples):
                if bool((S[s, batch] >= threshold[s]).any()):
                    hits += 1
                    continue
                y = S[s, batch] + noise_sd * torch.randn(q, generator=gen, dtype=torch.float64)
                after = AdditiveGP(blocks=model.blocks)
                after._set_data(torch.cat([model.train_X, X[batch]]),
                                torch.cat([model.train_Y, y[:, None]]))
                after.theta = model.theta.clone()
                after._prepare()
                nxt = UCBStrategy(beta=4.0)._propose(after, X[free], q, None, seed + 1000 + s)
                hits += int(bool((S[s, free[nxt]] >= threshold[s]).any()))
            score = hits / self.n_samples
            if score > best_score:
                best, best_score = batch, score
        return best


class Coverage(StrategyBase):
    """The batch most likely to hold one of the pool's top `top` fraction.

    Over joint pool samples, each sample's top `ceil(top * n)` rows are its
    hits; rows are added greedily by how many samples not yet covered they hit.
    """

    def __init__(self, top: float, n_samples: int = 512) -> None:
        self.top, self.n_samples = top, n_samples

    def _propose(self, model, candidates, q, pending, seed):
        S = pool_samples(model, candidates, self.n_samples, seed)
        n = S.shape[1]
        k = max(1, math.ceil(self.top * n))
        H = (S >= S.topk(k, dim=1).values[:, -1:]).double()
        p = H.mean(0)
        mean = S.mean(0)
        tiebreak = (mean - mean.min()) / (mean.max() - mean.min() + 1e-12) * 1e-6
        covered = torch.zeros(S.shape[0], dtype=torch.bool)
        taken = torch.zeros(n, dtype=torch.bool)
        out = []
        for _ in range(q):
            gain = H[~covered].sum(0) + tiebreak + p * 1e-3
            gain[taken] = -1
            j = int(gain.argmax())
            out.append(j)
            taken[j] = True
            covered |= H[:, j].bool()
        return torch.tensor(out)


class _Latent(torch.nn.Module):
    """A model GIBBON can call: `model(X)` is its latent joint normal (GPyTorch style)."""

    def __init__(self, model) -> None:
        super().__init__()
        self.model = model
        self.num_outputs = 1

    def posterior(self, X, **kwargs):
        return self.model.posterior(X, **kwargs)

    def forward(self, X):
        return self.model.posterior(X).distribution


class Gibbon(StrategyBase):
    """Greedy batches by GIBBON (Moss et al., 2021), BoTorch's `qLowerBoundMaxValueEntropy`.

    Information about the pool's maximum value; each pick is scored jointly with
    the picks before it. Max values are sampled over the pool and the measured rows.
    """

    def __init__(self, n_mv_samples: int = 16, chunk: int = 256) -> None:
        self.n_mv_samples, self.chunk = n_mv_samples, chunk

    def _propose(self, model, candidates, q, pending, seed):
        from botorch.acquisition.max_value_entropy_search import qLowerBoundMaxValueEntropy

        torch.manual_seed(seed)
        X = candidates.double()
        pool = torch.cat([X, model.train_X.double()])
        acq = qLowerBoundMaxValueEntropy(_Latent(model), candidate_set=pool,
                                         num_mv_samples=self.n_mv_samples)
        chosen: list[int] = []
        with torch.no_grad():
            for _ in range(q):
                before = [X[chosen]] if chosen else []
                if pending is not None:
                    before.append(pending.double())
                acq.set_X_pending(torch.cat(before) if before else None)
                values = torch.cat([acq(c.unsqueeze(-2)) for c in X.split(self.chunk)])
                values[chosen] = -math.inf
                chosen.append(int(values.argmax()))
        return torch.tensor(chosen)


class Warped(AdditiveGP):
    """The additive GP fitted to a monotone transform of the yields."""

    def __init__(self, how: str, **options) -> None:
        super().__init__(**options)
        self.how = how

    def fit(self, X, Y):
        from scipy import stats

        y = Y.squeeze(-1).numpy()
        if self.how == "rank":
            z = stats.norm.ppf(stats.rankdata(y) / (len(y) + 1))
        else:
            from sklearn.preprocessing import PowerTransformer

            z = PowerTransformer(method="yeo-johnson").fit_transform(y[:, None])[:, 0]
        return super().fit(X, torch.from_numpy(np.asarray(z, dtype=np.float64))[:, None])


class SparseScales(AdditiveGP):
    """The additive GP with a Gamma(1.1, rate) outputscale prior per factor (mode near 0)."""

    def __init__(self, rate: float, **options) -> None:
        super().__init__(**options)
        self.prior = (1.1, rate)

    def _with_prior(self, fn, *args):
        saved, additive._SCALE_PRIOR = additive._SCALE_PRIOR, self.prior
        try:
            return fn(*args)
        finally:
            additive._SCALE_PRIOR = saved

    def _initial(self):
        return self._with_prior(super()._initial)

    def _neg_log_posterior(self, theta, X, y):
        return self._with_prior(super()._neg_log_posterior, theta, X, y)


class Order2(AdditiveGP):
    """First-order additive kernel plus `s2` times the normalised second-order one.

    The second-order term `sum_{i<j} k_i k_j` (Duvenaud et al., 2011) reuses
    each factor's lengthscales; only its outputscale is new.
    """

    def _n_params(self):
        n = super()._n_params()
        return -1 if n < 0 else n + 1

    def _unpack(self, theta):
        scales, lengths, noise, mean = super()._unpack(theta)
        return list(scales) + [theta[-1].exp()], lengths, noise, mean

    def _initial(self):
        return torch.cat([super()._initial(), torch.tensor([math.log(0.1)], dtype=torch.float64)])

    def _kernel(self, A, B, scales, lengths):
        comps = self._components()
        K = S1 = S2 = 0.0
        for cols, s, ell in zip(comps, scales, lengths):
            a, b = A[..., cols] / ell, B[..., cols] / ell
            sq = (a * a).sum(-1)[..., :, None] + (b * b).sum(-1)[..., None, :] \
                - 2.0 * a @ b.transpose(-1, -2)
            k = torch.exp(-0.5 * sq.clamp_min(0.0))
            K, S1, S2 = K + s * k, S1 + k, S2 + k * k
        nb = len(comps)
        if len(scales) > nb and nb > 1:
            K = K + scales[-1] * (S1 * S1 - S2) / (nb * (nb - 1))
        return K


class Oracle(AdditiveGP):
    """A diagnostic, not a method: the additive GP with the prior fitted on the whole table.

    Hyperparameters (and the yields' mean and sd used to standardise) come from a
    MAP fit on 1,500 random rows of the table, and are never refitted: what the
    recipe's model would do if it knew its prior exactly.
    """

    fixed: dict[str, tuple[Tensor, Tensor]] = {}

    def __init__(self, table: str, X: Tensor, y: np.ndarray, **options) -> None:
        super().__init__(**options)
        if table not in Oracle.fixed:
            rows = np.random.default_rng(0).permutation(len(y))[:1500]
            full = AdditiveGP(maxiter=300, **options)
            full.fit(X[rows], torch.from_numpy(y[rows])[:, None].double())
            Oracle.fixed[table] = (full.theta.clone(), full.y_stats.clone())
        self.theta_fixed, self.stats_fixed = Oracle.fixed[table]

    def _set_data(self, train_X, train_Y):
        super()._set_data(train_X, train_Y)
        self.y_stats = self.stats_fixed.clone()

    def _fit(self, train_X, train_Y):
        self._set_data(train_X, train_Y)
        self.theta = self.theta_fixed.clone()
        self._prepare()


class Pairs(AdditiveGP):
    """First-order additive kernel plus one outputscale per pair of factors.

    `sum_i s_i k_i + sum_{i<j} s_ij k_i k_j`: every pairwise interaction has its
    own weight (Order2 shares one), with the first-order kernels' lengthscales and
    the first-order outputscale prior, started at a tenth of the first-order ones.
    """

    def _pairs(self):
        nb = len(self._components())
        return [(i, j) for i in range(nb) for j in range(i + 1, nb)]

    def _n_params(self):
        n = super()._n_params()
        return -1 if n < 0 else n + len(self._pairs())

    def _unpack(self, theta):
        m = len(self._pairs())
        scales, lengths, noise, mean = super()._unpack(theta[:-m])
        return list(scales) + list(theta[-m:].exp()), lengths, noise, mean

    def _initial(self):
        base = super()._initial()
        return torch.cat([base, torch.full((len(self._pairs()),), float(base[0]) - math.log(10))])

    def _kernel(self, A, B, scales, lengths):
        comps = self._components()
        ks = []
        for cols, ell in zip(comps, lengths):
            a, b = A[..., cols] / ell, B[..., cols] / ell
            sq = (a * a).sum(-1)[..., :, None] + (b * b).sum(-1)[..., None, :] \
                - 2.0 * a @ b.transpose(-1, -2)
            ks.append(torch.exp(-0.5 * sq.clamp_min(0.0)))
        K = sum(s * k for s, k in zip(scales, ks))
        if len(scales) > len(comps):
            K = K + sum(s * ks[i] * ks[j]
                        for s, (i, j) in zip(scales[len(comps):], self._pairs()))
        return K


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
              "hedge": lambda: Hedge([0.0, 1.0, 4.0, 9.0, 16.0]),
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
    from loop.reactions import reaction_space
    from loop.spec import ReactionDesign

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
