"""Objectives: what the instruments are trained on, and which readouts count as hits."""

from __future__ import annotations

import numpy as np

from loop.spec import ObjectiveSpec


def to_target(spec: ObjectiveSpec, values: np.ndarray) -> np.ndarray:
    """Map raw readouts to the quantity the agent maximises."""
    values = np.asarray(values, dtype=np.float64)
    if spec.kind == "minimize":
        return -values
    if spec.kind == "maximize_abs" or (spec.kind == "hits" and spec.two_sided):
        return np.abs(values)
    return values


def hit_threshold(spec: ObjectiveSpec, reference_values: np.ndarray | None) -> float | None:
    """Return the target-scale threshold above which a readout is a hit, if defined.

    With `top_fraction`, the threshold is the matching quantile of
    `reference_values` (all readouts known so far, or a full simulated table).
    """
    if spec.kind != "hits":
        return None
    if spec.threshold is not None:
        return abs(spec.threshold) if spec.two_sided else spec.threshold
    if reference_values is None or len(reference_values) == 0:
        return None
    target = to_target(spec, reference_values)
    return float(np.quantile(target, 1.0 - spec.top_fraction))
