"""The figures of merit of a round, as pure functions of what was proposed and measured."""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from loop.campaign.objective import hit_threshold, pareto_front, to_target
from loop.campaign.records import Experiment, Measurement
from loop.campaign.spec import ObjectiveSpec
from loop.campaign.states import ExperimentState
from loop.campaign.summary import calibration_figures, hit_figures


def measured_means(ms: Sequence[Measurement], index: dict[str, int],
                   ) -> tuple[list[str], list[int], np.ndarray]:
    """Return ids, design rows and mean readout (over replicates) of the measured candidates."""
    by_candidate: dict[str, list[float]] = {}
    for m in ms:
        by_candidate.setdefault(m.candidate_id, []).append(m.value)
    ids = [cid for cid in by_candidate if cid in index]
    rows = [index[cid] for cid in ids]
    values = np.array([np.mean(by_candidate[cid]) for cid in ids], dtype=np.float64)
    return ids, rows, values


def round_figures(objective: ObjectiveSpec, r: int, ms: Sequence[Measurement],
                  experiments: Sequence[Experiment], index: dict[str, int],
                  attributes: dict[str, np.ndarray], hits: set[str] | None,
                  target: Callable[[np.ndarray], np.ndarray]) -> dict[str, Any]:
    """Hits found so far, the best readout, the Pareto front, and round `r`'s calibration.

    Args:
        objective: what the campaign wants of the readout.
        r: the round being closed.
        ms: every measurement of the campaign.
        experiments: round `r`'s experiments (with their predictions).
        index: candidate id -> design row.
        attributes: per-candidate attributes of the design space.
        hits: the known hits (simulated campaigns), or None.
        target: readouts -> the target the instrument was trained on.
    """
    ids, rows, values = measured_means(ms, index)
    out: dict[str, Any] = {"n_measured": len(ids), "n_failed": sum(
        e.state == ExperimentState.FAILED for e in experiments)}
    out.update(hit_figures(ids, hits))
    if hits is None and (t := hit_threshold(objective, None)) is not None:
        out["hits_found"] = int((to_target(objective, values) >= t).sum())
    if len(values):  # the best readout so far, by the objective's order
        out["best_value"] = float(values[np.argmax(to_target(objective, values))])
    if not objective.secondary:
        # with secondary objectives the instrument predicts a per-round Chebyshev
        # scalarisation, which cannot be set against the readouts
        out.update(_calibration(experiments, [m for m in ms if m.round == r], target))
    if (objective.secondary or objective.constraints) and ids:
        keep = pareto_front(objective, values, rows, attributes)
        names = [s.attribute for s in objective.secondary]
        out["pareto"] = [{"id": ids[k], "value": float(values[k]),
                          **{a: float(attributes[a][rows[k]]) for a in names}} for k in keep]
    return out


def _calibration(experiments: Sequence[Experiment], ms: Sequence[Measurement],
                 target: Callable[[np.ndarray], np.ndarray]) -> dict[str, Any]:
    values: dict[str, list[float]] = {}
    for m in ms:
        values.setdefault(m.experiment_id, []).append(m.value)
    rows = [(e.predicted_mean, e.predicted_sd, np.mean(values[e.id])) for e in experiments
            if e.id in values and e.predicted_sd is not None]
    if not rows:
        return {}
    mean, sd, y = (np.array(c, dtype=np.float64) for c in zip(*rows))
    return calibration_figures(mean, sd, target(y))
