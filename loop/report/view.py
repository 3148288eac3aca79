"""What a campaign's figures are drawn from: one frozen view of the store, and of the design.

`campaign_view` reads everything once (rounds, experiments, measurements, the
objective and the target's log scale) so that every figure builder is a pure
function of the view. The design space (candidate parameters, gene-set
membership, the pool size behind the random expectation) and the known hits
come from a `Campaign` when one is at hand, else from the stored spec when
its files can still be read; without them the view says why (`notes`) and
the figures that need them are left out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from loop.campaign.objective import from_target, robust_scale, to_target
from loop.campaign.records import Experiment, Measurement
from loop.campaign.spec import CampaignSpec, ObjectiveSpec
from loop.campaign.store import Store
from loop.campaign.summary import RoundSummary

#: experiments added from outside the campaign (`Campaign.add_measurements`)
_OUTSIDE = -1


@dataclass(frozen=True)
class CampaignView:
    """One campaign as its figures need it (read-only)."""

    name: str
    status: str
    description: str
    objective: ObjectiveSpec
    rounds: tuple[RoundSummary, ...]
    experiments: tuple[Experiment, ...]
    measurements: tuple[Measurement, ...]
    #: scale of a `log` target transform (None: no transform, or nothing measured yet)
    scale: float | None
    #: design space (None when neither a campaign nor the stored spec's files were at hand)
    design: Any = None
    hits: frozenset[str] | None = None
    n_rejected: int = 0
    #: what the page should say about figures left out, and why
    notes: tuple[str, ...] = field(default=())

    # -- units -----------------------------------------------------------------
    def target(self, values: np.ndarray) -> np.ndarray:
        """Map readouts to the units the instrument was trained on (its predictions' units)."""
        return to_target(self.objective, values, self.scale)

    def readout(self, targets: np.ndarray) -> np.ndarray:
        """Map targets (predictions) back to the readout's own units."""
        return from_target(self.objective, targets, self.scale)

    @property
    def on_magnitude(self) -> bool:
        """Whether the objective is on |readout| (its predictions carry no sign)."""
        o = self.objective
        return o.kind == "maximize_abs" or (o.kind == "hits" and o.two_sided)

    @property
    def predicts_readout(self) -> bool:
        """Whether predictions are of the readout (not of a per-round scalarisation)."""
        return not self.objective.secondary

    # -- what was measured -----------------------------------------------------
    def values_by_experiment(self) -> dict[str, float]:
        """Return experiment id -> mean measured readout (over replicates)."""
        acc: dict[str, list[float]] = {}
        for m in self.measurements:
            acc.setdefault(m.experiment_id, []).append(m.value)
        return {k: float(np.mean(v)) for k, v in acc.items()}

    def values_by_candidate(self) -> dict[str, float]:
        """Return candidate id -> mean measured readout (over replicates and rounds)."""
        acc: dict[str, list[float]] = {}
        for m in self.measurements:
            acc.setdefault(m.candidate_id, []).append(m.value)
        return {k: float(np.mean(v)) for k, v in acc.items()}

    @property
    def current_round(self) -> int | None:
        """Return the latest round with proposals (None before the first)."""
        rounds = [e.round for e in self.experiments if e.round >= 0]
        return max(rounds) if rounds else None

    @property
    def n_candidates(self) -> int | None:
        return None if self.design is None else int(self.design.n)


def log_scale(objective: ObjectiveSpec, measurements: list[Measurement]) -> float | None:
    """Return the `log` transform's scale as `Campaign.target_scale` fixes it.

    The first measurements fix it: those added from outside the campaign, else round 0's.
    """
    if objective.transform != "log":
        return None
    first = [m.value for m in measurements if m.round == _OUTSIDE] or \
        [m.value for m in measurements if m.round == 0]
    if not first:
        return None
    return robust_scale(to_target(objective, np.array(first)))


def campaign_view(store: Store, name: str, campaign: Any = None, *,
                  base_dir: Path | None = None, cache_dir: Path | None = None,
                  n_candidates: int | None = None) -> CampaignView:
    """Read campaign `name` from `store`, with its design space when it can be had.

    Args:
        store: the store that records the campaign.
        name: the campaign.
        campaign: a `Campaign` (its spec, design space, known hits and target
            scale are used); without one, they are rebuilt from the stored spec,
            relative paths starting at `base_dir` (default: the working folder).
        cache_dir: where gene features are cached (the CLI's state folder).
        n_candidates: the pool size, when known but no design space is at hand.

    Raises:
        KeyError: for an unknown campaign.
    """
    record = store.campaign(name)
    if record is None:
        raise KeyError(f"no campaign '{name}'")
    notes: list[str] = []
    measurements = store.measurements(name)
    if campaign is not None:
        spec, design, hits = campaign.spec, campaign.design, campaign.hits
        scale = campaign.target_scale()
    else:
        spec = CampaignSpec.model_validate(record.spec)
        design, hits, why = _design_from_spec(spec, base_dir, cache_dir)
        if why:
            notes.append(f"The campaign's files could not be read ({why}); figures that need "
                         "the design space (candidate parameters, gene sets, the random "
                         "expectation) are left out. Relative paths in the campaign file "
                         "start from the folder the report is written from, or from "
                         "`loopwell report --base-dir`.")
        scale = log_scale(spec.objective, measurements)
    if design is None and n_candidates is not None:
        design = _PoolSize(n_candidates)
    return CampaignView(
        name=name, status=str(record.status), description=spec.description,
        objective=spec.objective, rounds=tuple(store.rounds(name)),
        experiments=tuple(store.experiments(name)), measurements=tuple(measurements),
        scale=scale, design=design, hits=frozenset(hits) if hits is not None else None,
        n_rejected=len(store.rejected(name)), notes=tuple(notes))


@dataclass(frozen=True)
class _PoolSize:
    """A stand-in design space that knows only its size."""

    n: int
    ids: tuple[str, ...] = ()
    feature_names: tuple[str, ...] = ()
    blocks: tuple[tuple[str, int, int], ...] = ()
    parameters: tuple[dict[str, Any], ...] = ()


def _design_from_spec(spec: CampaignSpec, base_dir: Path | None, cache_dir: Path | None):
    """Return (design space, known hits, None) from the spec's files, or (None, None, why)."""
    from loop.design import build_design_space
    from loop.run.lab import reference_hits

    base = base_dir or Path.cwd()
    try:
        design = build_design_space(spec.design_space, base, cache_dir=cache_dir,
                                    seed=spec.seed)
        hits = reference_hits(spec, base, design.ids)
    except Exception as exc:  # noqa: BLE001 - any unreadable file: draw what the store has
        return None, None, f"{type(exc).__name__}: {exc}"
    return design, hits, None
