"""Calibration of a campaign's predictions, round by round (pure functions).

Each experiment keeps the prediction made when it was proposed (mean and sd
in the instrument's target units); set against what the lab measured, mapped
to the same units, they say whether the stated intervals were honest.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import norm

from loop.report.view import CampaignView

#: nominal coverages of the central intervals in the reliability plot
LEVELS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99)


@dataclass(frozen=True)
class RoundPredictions:
    """Round `round`'s `n` predictions (`mean`, `sd`) and measured targets `y`."""

    round: int
    mean: np.ndarray
    sd: np.ndarray
    y: np.ndarray


def coverage(mean: np.ndarray, sd: np.ndarray, y: np.ndarray, level: float) -> float:
    """Return the fraction of `y` inside the central `level` intervals `mean +- z sd`."""
    z = norm.ppf(0.5 + level / 2.0)
    return float(np.mean(np.abs(y - mean) <= z * np.maximum(sd, 1e-12)))


def reliability(mean: np.ndarray, sd: np.ndarray, y: np.ndarray,
                levels: tuple[float, ...] = LEVELS) -> list[float]:
    """Return the observed coverage of the central interval at each nominal level."""
    return [coverage(mean, sd, y, p) for p in levels]


def round_predictions(view: CampaignView) -> list[RoundPredictions]:
    """Return each round's predictions beside its measurements (rounds with none are left out).

    Empty for campaigns with secondary objectives: their instrument predicts a
    per-round scalarisation that cannot be set against the readout.
    """
    if not view.predicts_readout:
        return []
    values = view.values_by_experiment()
    by_round: dict[int, list[tuple[float, float, float]]] = {}
    for e in view.experiments:
        if e.round >= 0 and e.predicted_mean is not None and e.predicted_sd is not None \
                and e.id in values:
            by_round.setdefault(e.round, []).append((e.predicted_mean, e.predicted_sd,
                                                     values[e.id]))
    out = []
    for r in sorted(by_round):
        mean, sd, raw = (np.array(c, dtype=np.float64) for c in zip(*by_round[r]))
        out.append(RoundPredictions(r, mean, sd, view.target(raw)))
    return out
