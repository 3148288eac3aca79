"""The round summary: one frozen, typed record of what a round did and found.

It is written by the campaign as the round goes (fit, propose, finish), kept by
the store, and read by the console, the report, the CLI and the benchmarks; the
figures of merit are computed here by pure functions of what was measured.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field, fields
from typing import Any, Iterable

import numpy as np

from loop.campaign.states import RoundStatus


@dataclass(frozen=True)
class RoundSummary:
    """What one round of a campaign did and found (None: not known, or not applicable)."""

    round: int
    status: RoundStatus = RoundStatus.OPEN
    # -- propose
    strategy: str | None = None
    instrument: str | None = None
    n_proposed: int | None = None
    n_pending: int | None = None
    # -- fit
    n_train: int | None = None
    fit_s: float | None = None
    calibration_scale: float | None = None
    noise_variance: float | None = None
    propose_s: float | None = None
    agent_s: float | None = None
    #: share of the fitted model's prior variance from each feature block (gene sets,
    #: essential flag, each prior screen, ...): what the instrument learned to weigh
    block_weights: dict[str, float] | None = field(default=None, compare=False)
    # -- finish: what the campaign knows after the round
    n_measured: int | None = None
    n_failed: int | None = None
    hits_found: int | None = None
    n_hits: int | None = None
    hit_ratio: float | None = None
    best_value: float | None = None
    coverage90: float | None = None
    nll: float | None = None
    n_calibration: int | None = None
    pareto: tuple[dict[str, Any], ...] | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "status", RoundStatus(self.status))
        if self.pareto is not None:
            object.__setattr__(self, "pareto", tuple(self.pareto))

    def update(self, **changes: Any) -> "RoundSummary":
        """Return a copy with `changes`; None values leave a field as it is."""
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})

    def to_json(self) -> dict[str, Any]:
        """Return the fields that are set, JSON-able."""
        out = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is not None:
                out[f.name] = list(value) if isinstance(value, tuple) else str(value) \
                    if isinstance(value, RoundStatus) else value
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "RoundSummary":
        """Read a stored summary; keys this version does not know are ignored."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})

    @property
    def seconds(self) -> float:
        """Fit plus propose seconds."""
        return (self.fit_s or 0.0) + (self.propose_s or 0.0)


def summary_fields(data: dict[str, Any]) -> dict[str, Any]:
    """Keep the keys of `data` that are `RoundSummary` fields (e.g. a fit's figures)."""
    names = {f.name for f in fields(RoundSummary)}
    return {k: v for k, v in data.items() if k in names}


# -- figures of merit (pure) -------------------------------------------------------------
def hit_figures(measured: Iterable[str], hits: set[str] | None) -> dict[str, Any]:
    """Hits found among the `measured` candidate ids, out of the known `hits`."""
    if hits is None:
        return {}
    found = len(set(measured) & hits)
    return {"hits_found": found, "n_hits": len(hits), "hit_ratio": found / max(len(hits), 1)}


def calibration_figures(mean: np.ndarray, sd: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    """Coverage of the central 90% intervals and mean NLL of predictions `mean`, `sd` of `y`."""
    if len(y) == 0:
        return {}
    import torch

    from instruments import gaussian_nll, interval_coverage

    mean_t, y_t = torch.as_tensor(mean, dtype=torch.float64), torch.as_tensor(y, dtype=torch.float64)
    sd_t = torch.as_tensor(sd, dtype=torch.float64).clamp_min(1e-9)
    return {"coverage90": interval_coverage(mean_t, sd_t, y_t, level=0.9),
            "nll": gaussian_nll(mean_t, sd_t, y_t), "n_calibration": int(len(y))}
