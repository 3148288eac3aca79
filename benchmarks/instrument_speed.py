"""Time fit, pool posterior and pool sampling of every instrument.

640 x 64 training points, an 18,418 x 64 pool (random features), 128 pool samples:
one loopwell round on a genome-wide knockout library. Run:

    python benchmarks/instrument_speed.py [--threads N]
"""

from __future__ import annotations

import argparse
import time

import torch

from instruments import interval_coverage, make_instrument, predict_mean_sd

N_TRAIN, N_POOL, D, N_SAMPLES = 640, 18_418, 64, 128


def _data(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Return training X (`640 x 64`), Y (`640 x 1`), pool X (`18418 x 64`) and pool Y."""
    generator = torch.Generator().manual_seed(seed)
    X = torch.rand(N_TRAIN + N_POOL, D, generator=generator, dtype=torch.float64)
    f = torch.sin(6 * X[:, 0]) + 2 * X[:, 1] * X[:, 2] + X[:, 3:8].sum(-1)
    Y = (f + 0.2 * torch.randn(f.shape, generator=generator, dtype=torch.float64)).unsqueeze(-1)
    return X[:N_TRAIN], Y[:N_TRAIN], X[N_TRAIN:], Y[N_TRAIN:]


def _seconds(fn) -> tuple[float, object]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def main() -> None:
    """Print one line of timings and held-out figures per instrument."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    train_X, train_Y, pool_X, pool_Y = _data()
    print(f"torch threads: {torch.get_num_threads()}; train {N_TRAIN} x {D}, pool {N_POOL} x {D}")
    for kind in ("ensemble", "gp"):
        model = make_instrument(kind, seed=0)
        fit_s, _ = _seconds(lambda: model.fit(train_X, train_Y))
        refit_s, _ = _seconds(lambda: model.fit(train_X, train_Y))
        post_s, (mean, sd) = _seconds(lambda: predict_mean_sd(model, pool_X))
        sample_s, _ = _seconds(lambda: model.sample_pool(pool_X, N_SAMPLES, seed=0))
        noisy_mean, noisy_sd = predict_mean_sd(model, pool_X, observation_noise=True)
        coverage = interval_coverage(noisy_mean, noisy_sd, pool_Y, level=0.9)
        rmse = (mean - pool_Y.squeeze(-1)).square().mean().sqrt() / pool_Y.std()
        print(
            f"{kind:9s} fit {fit_s:6.2f}s  refit {refit_s:6.2f}s  posterior {post_s:6.2f}s  "
            f"sample_pool({N_SAMPLES}) {sample_s:6.2f}s  | scale {model.calibration_scale:.2f}  "
            f"90% coverage {coverage:.3f}  rmse/sd {rmse:.3f}"
        )


if __name__ == "__main__":
    main()
