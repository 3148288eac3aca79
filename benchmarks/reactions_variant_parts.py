"""The model and strategy variants of `reactions_variants.py`, one thing changed each.

Strategies are `agents` strategies (`_propose` over a pool); models are
`instruments.additive.AdditiveGP` with one part replaced. See the harness's
docstring for what each named variant runs.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor

from agents.base import StrategyBase
from agents.greedy import UCBStrategy, UncertaintyStrategy
from agents.pool import pool_samples
from instruments import additive
from instruments.additive import AdditiveGP

#: the hedged batch's beta per pick, from exploiting to exploring
HEDGE_BETAS = [0.0, 1.0, 4.0, 9.0, 16.0]


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
        self.candidates = [UCBStrategy(beta=b) for b in HEDGE_BETAS] + \
            [Hedge(HEDGE_BETAS), UncertaintyStrategy()]

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
        ks = list(self._block_kernels(A, B, lengths))
        K = sum(s * k for s, k in zip(scales, ks))
        nb = len(ks)
        if len(scales) > nb and nb > 1:
            S1, S2 = sum(ks), sum(k * k for k in ks)
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
        ks = list(self._block_kernels(A, B, lengths))
        K = sum(s * k for s, k in zip(scales, ks))
        if len(scales) > len(ks):
            K = K + sum(s * ks[i] * ks[j] for s, (i, j) in zip(scales[len(ks):], self._pairs()))
        return K
