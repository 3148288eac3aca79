"""Time every strategy on a genome-scale pool: q=128 of 18,418 with 128 pending.

Builds a synthetic 18,418 x 64 pool, fits a botorch SingleTaskGP on 640 of its
points (with `sample_pool` by pathwise sampling), and prints for each strategy
the total seconds of `propose`, the part spent inside the model (`posterior`,
`sample_pool`) and the agent's own part. For reference it also times botorch's
`optimize_acqf_discrete` with qUCB for q=8 on a 2,000-candidate subset.

Run: `.venv/bin/python benchmarks/propose_speed.py` (about three minutes on 2
cores, a minute of it the reference). On small machines `OMP_NUM_THREADS=1` is
faster: the agent's per-step work is many small tensor ops, which lose more to
waking OpenMP threads than they gain from them.
"""

from __future__ import annotations

import time

import torch
from botorch.acquisition import qUpperConfidenceBound
from botorch.fit import fit_gpytorch_mll
from botorch.models import SingleTaskGP
from botorch.models.model import Model
from botorch.optim import optimize_acqf_discrete
from botorch.sampling.pathwise import draw_matheron_paths
from gpytorch.mlls import ExactMarginalLogLikelihood

from agents import make_strategy, strategy_names
from instruments import ModelInstrument

N_POOL, N_FEATURES, N_TRAIN, Q, N_PENDING = 18_418, 64, 640, 128, 128


class PathwiseGP(SingleTaskGP):
    """A SingleTaskGP with `sample_pool` by Matheron's rule and `noise_variance`."""

    @property
    def noise_variance(self) -> float:
        stdvs = self.outcome_transform.stdvs.squeeze()
        return float(self.likelihood.noise.detach().squeeze() * stdvs**2)

    def sample_pool(self, X: torch.Tensor, n_samples: int, seed: int = 0) -> torch.Tensor:
        """Draw `n_samples x n` joint samples over `X` (`n x d`)."""
        with torch.random.fork_rng(), torch.no_grad():
            torch.manual_seed(seed)
            paths = draw_matheron_paths(self, torch.Size([n_samples]))
            prior, update = paths.paths["prior_paths"], paths.paths["update_paths"]
            chunks = []
            for chunk in X.split(2048):  # features once, then one matmul per path set
                values = (prior.feature_map(chunk) @ prior.weight.T
                          + update.feature_map(chunk).to_dense() @ update.weight.T
                          + prior.bias_module(chunk).unsqueeze(-1))
                chunks.append(values.T)
            return paths.output_transform(torch.cat(chunks, -1))


class TimedModel(ModelInstrument):
    """The GP as an instrument, adding up the seconds spent in its posterior and samples."""

    def __init__(self, model: PathwiseGP) -> None:
        super().__init__(model, noise_variance=model.noise_variance)
        self.seconds = 0.0

    def _posterior(self, X, observation_noise):
        start = time.perf_counter()
        try:
            return super()._posterior(X, observation_noise)
        finally:
            self.seconds += time.perf_counter() - start

    def sample_pool(self, X, n_samples, seed=0):
        start = time.perf_counter()
        try:
            return self.model.sample_pool(X, n_samples, seed=seed)
        finally:
            self.seconds += time.perf_counter() - start


def build_problem(seed: int = 0) -> tuple[PathwiseGP, torch.Tensor, torch.Tensor]:
    """Return a fitted GP, the candidate pool and the pending points."""
    generator = torch.Generator().manual_seed(seed)
    pool = torch.rand(N_POOL, N_FEATURES, generator=generator, dtype=torch.float64)
    order = torch.randperm(N_POOL, generator=generator)
    train_X = pool[order[:N_TRAIN]]
    signal = torch.sin(3 * train_X[:, :4]).sum(-1) + train_X[:, 4:8].square().sum(-1)
    noise = 0.1 * torch.randn(N_TRAIN, generator=generator, dtype=torch.float64)
    model = PathwiseGP(train_X, (signal + noise).unsqueeze(-1))
    # A capped fit: the benchmark times proposals, not hyperparameter search.
    fit_gpytorch_mll(ExactMarginalLogLikelihood(model.likelihood, model),
                     optimizer_kwargs={"options": {"maxiter": 25}})
    model.eval()
    pending = pool[order[N_TRAIN:N_TRAIN + N_PENDING]]
    candidates = pool[order[N_TRAIN + N_PENDING:]]
    return model, candidates, pending


def time_reference(model: Model, candidates: torch.Tensor, q: int = 8,
                   n: int = 2000) -> float:
    """Return seconds of `optimize_acqf_discrete` with qUCB over `n` candidates."""
    acqf = qUpperConfidenceBound(model, beta=4.0)
    start = time.perf_counter()
    optimize_acqf_discrete(acqf, q=q, choices=candidates[:n], max_batch_size=256)
    return time.perf_counter() - start


def main() -> None:
    torch.set_default_dtype(torch.float64)
    start = time.perf_counter()
    model, candidates, pending = build_problem()
    print(f"pool {N_POOL} x {N_FEATURES}, GP fitted on {N_TRAIN} points in "
          f"{time.perf_counter() - start:.1f} s; q={Q}, {N_PENDING} pending")
    print(f"{'strategy':<22}{'total s':>9}{'model s':>9}{'agent s':>9}")
    runs = [(name, {"column": 0} if name == "flagged" else {}) for name in strategy_names()]
    runs += [("ucb", {"n_samples": 128})]
    for name, options in runs:
        timed = TimedModel(model)
        strategy = make_strategy(name, **options)
        indices = strategy.propose(timed, candidates, Q, pending, seed=0)
        assert indices.unique().numel() == Q
        label = name + "".join(f" {k}={v}" for k, v in options.items())
        total = strategy.last_seconds
        print(f"{label:<22}{total:>9.2f}{timed.seconds:>9.2f}{total - timed.seconds:>9.2f}")
    seconds = time_reference(model, candidates)
    print(f"reference: botorch optimize_acqf_discrete qUCB q=8 of 2000: {seconds:.2f} s")


if __name__ == "__main__":
    main()
