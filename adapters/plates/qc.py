"""Plate quality and normalisation against the plate's own controls.

Z'-factor (Zhang, Chung & Oldenburg, J Biomol Screen 1999)::

    Z' = 1 - 3 * (sd_pos + sd_neg) / |mean_pos - mean_neg|

1 is a perfect assay, 0.5 and above an excellent one, below 0 the controls
overlap. Standard deviations are sample standard deviations (n - 1).

Percent of control::

    poc(x) = 100 * (x - mean_neg) / (mean_pos - mean_neg)

so a well reads 0 at the negative controls' mean and 100 at the positive
controls' mean, whichever way the signal goes.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass


@dataclass(frozen=True)
class ControlStats:
    """The controls of one plate: means, standard deviations, counts."""

    mean_pos: float
    sd_pos: float
    n_pos: int
    mean_neg: float
    sd_neg: float
    n_neg: int


def control_stats(positive: list[float], negative: list[float]) -> ControlStats:
    """Return the means and sample standard deviations of the controls.

    Raises:
        ValueError: If either kind has fewer than two readable wells.
    """
    if len(positive) < 2 or len(negative) < 2:
        raise ValueError(f"too few readable controls for statistics: {len(positive)} "
                         f"positive, {len(negative)} negative (two of each at least)")
    return ControlStats(statistics.fmean(positive), statistics.stdev(positive), len(positive),
                        statistics.fmean(negative), statistics.stdev(negative), len(negative))


def z_prime(stats: ControlStats) -> float:
    """Return the Z'-factor of a plate (-inf when the control means coincide)."""
    window = abs(stats.mean_pos - stats.mean_neg)
    if window == 0:
        return -math.inf
    return 1.0 - 3.0 * (stats.sd_pos + stats.sd_neg) / window


def percent_of_control(x: float, stats: ControlStats) -> float:
    """Return `x` as percent of control: 0 at the negative mean, 100 at the positive mean.

    Raises:
        ValueError: If the control means coincide (no window to scale by).
    """
    window = stats.mean_pos - stats.mean_neg
    if window == 0:
        raise ValueError("positive and negative controls have the same mean")
    return 100.0 * (x - stats.mean_neg) / window
