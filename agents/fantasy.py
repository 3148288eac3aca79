"""Cheap fantasies: shrink a pool's variance as points are (believed) measured.

The covariance of the latent function over `m` pool points is approximated by
`F^T F`, `F` an `S x m` matrix of centred joint samples (an ensemble). A
fantasy observation of point `j` with noise `r` (kriging believer: the value is
the mean, so the mean does not move) is the square-root ensemble Kalman
update (Whitaker & Hamill, 2002):

    g = F^T f_j,  f_j = F[:, j]               cov(j, .)
    var <- var - g^2 / (|f_j|^2 + r)
    F <- (I - a f_j f_j^T) F,  a = 1 / ((|f_j|^2 + r)(1 + sqrt(r / (|f_j|^2 + r))))

so later covariances are conditioned too. `F` is never rewritten: it is kept
as `T F0` with `T = I - U V^T` built from the updates' rank-1 factors, which
makes the `k`-th update one pass over `F0` (`O(S m)`) plus `O(S k)`.

The rank of `F` is below `S`: every fantasy removes about one of its `S - 1`
directions, so `S` should be well above the number of fantasies (pending plus
batch), or the variance of points unrelated to any fantasy shrinks too.
"""

from __future__ import annotations

import math
from typing import Callable

import torch
from torch import Tensor

#: Smallest variance kept, relative to the largest pool variance.
RELATIVE_FLOOR = 1e-10


def _anomalies(samples: Tensor, variance: Tensor | None = None) -> Tensor:
    """Return `F` (`S x m`) such that `F^T F` is the samples' covariance.

    Args:
        samples: `S x m` joint samples, `S >= 2`.
        variance: optional `m`-dim exact marginal variances; the columns of `F`
            are then rescaled so the diagonal of `F^T F` equals them (sample
            correlations, exact variances). Columns without spread stay zero.
    """
    centred = (samples - samples.mean(0)) / math.sqrt(samples.shape[0] - 1)
    if variance is None:
        return centred
    norms = centred.norm(dim=0)
    scale = torch.where(norms > 0, variance.sqrt() / norms.clamp_min(1e-300), 0.0)
    return centred.mul_(scale.to(centred.dtype))


def _rank_one_update(F0: Tensor, U: Tensor, V: Tensor, k: int, variance: Tensor,
                     j: int, noise: float, floor: float) -> bool:
    """Condition on a fantasy observation of point `j`, in place.

    The current anomalies are `T @ F0` with `T = I - U[:, :k] @ V[:, :k]^T`;
    the update writes column `k` of `U` and `V`. Only matrix-vector products
    are used (no `S x S` elementwise work, which contends for threads with BLAS).

    Args:
        F0: `S x m` anomalies before any fantasy.
        U: `S x K` left factors of `I - T`, `K > k`.
        V: `S x K` right factors of `I - T`.
        k: number of updates made so far.
        variance: `m`-dim variances; shrunk and clamped at `floor`.
        j: index of the observed point.
        noise: observation noise variance `r`.
        floor: smallest variance kept.

    Returns:
        Whether anything changed (`False` when `j` carries no variance).
    """
    f0 = F0[:, j]
    f = f0 - U[:, :k] @ (V[:, :k].T @ f0)  # T f0
    total = float(f.double() @ f.double()) + noise
    if total <= 1e-300:
        return False
    w = f - V[:, :k] @ (U[:, :k].T @ f)  # T^T f
    g = (w @ F0).to(variance.dtype)  # cov(j, .)
    variance.sub_(g.square_().div_(total)).clamp_(min=floor)
    a = 1.0 / (total * (1.0 + math.sqrt(noise / total)))
    U[:, k] = f * a
    V[:, k] = w
    return True


class Fantasy:
    """The low-rank belief about a pool, conditioned point by point."""

    def __init__(self, samples: Tensor, variance: Tensor, noise: float,
                 rescale: bool = True, dtype: torch.dtype = torch.float32) -> None:
        """Start from `S x m` joint samples and `m`-dim marginal variances.

        Args:
            samples: `S x m` joint samples, `S >= 2`.
            variance: `m`-dim marginal variances (copied).
            noise: noise variance of each fantasy observation.
            rescale: make the low-rank covariance's diagonal equal `variance`.
            dtype: dtype of the anomalies; float32 halves the memory traffic of
                the updates, and its error is far below the sampling error.
        """
        self.F0 = _anomalies(samples.to(dtype), variance if rescale else None)
        S = samples.shape[0]
        self.U = torch.zeros(S, 0, dtype=self.F0.dtype)
        self.V = torch.zeros(S, 0, dtype=self.F0.dtype)
        self.n_updates = 0
        self.variance = variance.clone()
        self.noise = noise
        self.floor = max(RELATIVE_FLOOR * float(variance.max()), 1e-12)

    def condition(self, j: int) -> None:
        """Believe point `j` measured: shrink every variance accordingly."""
        k = self.n_updates
        if k == self.U.shape[1]:  # grow the factors geometrically
            extra = max(16, k)
            self.U = torch.cat([self.U, self.U.new_zeros(self.U.shape[0], extra)], 1)
            self.V = torch.cat([self.V, self.V.new_zeros(self.V.shape[0], extra)], 1)
        if _rank_one_update(self.F0, self.U, self.V, k, self.variance, j,
                            self.noise, self.floor):
            self.n_updates += 1

    def anomalies(self, rows: slice = slice(None)) -> Tensor:
        """Return the current anomalies `(T @ F0)[rows]` (`s x m`)."""
        k = self.n_updates
        T = torch.eye(self.F0.shape[0], dtype=self.F0.dtype)[rows]
        T = T - self.U[rows, :k].double() @ self.V[:, :k].double().T
        return T @ self.F0.double()


class ExactFantasy:
    """The exact GP belief about a pool, conditioned point by point.

    Keeps the columns `l_1 .. l_k` of a partial Cholesky factor of the
    fantasies: after observing `c_1 .. c_k` with noise `r`,

        cov_k(., c) = cov_0(., c) - sum_i l_i l_i[c],
        l_k = cov_{k-1}(., c_k) / sqrt(var_{k-1}(c_k) + r),
        var_k = var_{k-1} - l_k^2,

    the sequential Schur complement, so variances and the covariances among
    the chosen points are exact. `cov_0(., c_k)` comes from the model's joint
    posterior (`agents.pool.cross_covariance`): one chunked pass over the
    pool per fantasy, no `m x m` matrix.
    """

    def __init__(self, covariance_with: Callable[[int], Tensor], variance: Tensor,
                 noise: float) -> None:
        """Start from the `m`-dim marginal variances.

        Args:
            covariance_with: `j -> cov_0(., j)`, the `m`-dim prior (unconditioned
                by fantasies) posterior covariance with point `j`.
            variance: `m`-dim marginal variances (copied).
            noise: noise variance of each fantasy observation.
        """
        self.covariance_with = covariance_with
        self.variance = variance.clone()
        self.noise = noise
        self.floor = max(RELATIVE_FLOOR * float(variance.max()), 1e-12)
        self.factors: list[Tensor] = []

    @property
    def n_updates(self) -> int:
        return len(self.factors)

    def condition(self, j: int) -> None:
        """Believe point `j` measured: shrink every variance exactly."""
        g = self.covariance_with(j).to(self.variance.dtype)
        for l in self.factors:
            g = g - l * l[j]
        total = max(float(g[j]), 0.0) + self.noise
        if total <= 1e-300:
            return
        l = g / math.sqrt(total)
        self.variance.sub_(l.square()).clamp_(min=self.floor)
        self.factors.append(l)
