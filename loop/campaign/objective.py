"""Objectives: what the instruments are trained on, and which readouts count as hits."""

from __future__ import annotations

import numpy as np

from loop.campaign.spec import ObjectiveSpec


def to_target(spec: ObjectiveSpec, values: np.ndarray, scale: float | None = None) -> np.ndarray:
    """Map raw readouts to the quantity the agent maximises.

    With `transform: log`, a target t becomes sign(t) log1p(|t| / scale), which
    keeps the order of targets and tames heavy tails (a screen's few huge
    effects would otherwise set the scale of everything); `scale` comes from
    `robust_scale` of the first round's targets and stays fixed afterwards.
    """
    values = np.asarray(values, dtype=np.float64)
    if spec.kind == "minimize":
        target = -values
    elif spec.kind == "maximize_abs" or (spec.kind == "hits" and spec.two_sided):
        target = np.abs(values)
    else:
        target = values
    if spec.transform == "log" and scale is not None:
        target = np.sign(target) * np.log1p(np.abs(target) / scale)
    return target


def from_target(spec: ObjectiveSpec, targets: np.ndarray, scale: float | None = None) -> np.ndarray:
    """Map targets back to the readout's own units (the inverse of `to_target`).

    For objectives on |readout| (`maximize_abs`, two-sided `hits`) the sign is
    not known from the target, so the magnitude is returned. The map is
    monotone, so quantiles (interval ends) map to quantiles.
    """
    t = np.asarray(targets, dtype=np.float64)
    if spec.transform == "log" and scale is not None:
        t = np.sign(t) * scale * np.expm1(np.abs(t))
    return -t if spec.kind == "minimize" else t


def robust_scale(targets: np.ndarray) -> float:
    """Return median(|t|) / 0.6745 (the sd of a normal with that median |t|), or a fallback."""
    targets = np.abs(np.asarray(targets, dtype=np.float64))
    for value in (np.median(targets) / 0.6745, targets.mean(), 1.0):
        if np.isfinite(value) and value > 0:
            return float(value)
    return 1.0


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


def _feasible(spec: ObjectiveSpec, values: np.ndarray,
              attributes: dict[str, np.ndarray]) -> np.ndarray:
    """Return which of `values` (with their candidates' `attributes`) meet the constraints."""
    ok = np.ones(len(values), dtype=bool)
    for k, c in enumerate(spec.constraints):
        if c.name == "value":
            x = values
        elif c.name in attributes:
            x = attributes[c.name]
        else:
            raise ValueError(f"objective.constraints[{k}].name: '{c.name}' is neither 'value' "
                             f"nor a candidate attribute ({sorted(attributes)})")
        if c.min is not None:
            ok &= x >= c.min
        if c.max is not None:
            ok &= x <= c.max
    return ok


def allowed_candidates(spec: ObjectiveSpec, attributes: dict[str, np.ndarray],
                       n: int) -> np.ndarray:
    """Return which of the `n` candidates meet the constraints on attributes known in advance.

    Constraints on the readout (`value`) cannot be checked before measuring and
    are left to the target (`scalarised_target` puts breaking measurements below
    every feasible one); constraints on an attribute (a numeric factor, a
    factor's `attributes:` column) remove the candidates that break them.

    Raises:
        ValueError: a constraint names an unknown attribute, or no candidate is left.
    """
    ok = np.ones(n, dtype=bool)
    known = [c for c in spec.constraints if c.name != "value"]
    if not known:
        return ok
    ok &= _feasible(spec.model_copy(update={"constraints": known}), np.zeros(n), attributes)
    if not ok.any():
        rules = ", ".join(f"{c.name} in [{c.min}, {c.max}]" for c in known)
        raise ValueError(f"no candidate meets objective.constraints ({rules})")
    return ok


def _attribute(spec: ObjectiveSpec, k: int, attributes: dict[str, np.ndarray]) -> np.ndarray:
    name = spec.secondary[k].attribute
    if name not in attributes:
        raise ValueError(f"objective.secondary[{k}].attribute: '{name}' is not a candidate "
                         f"attribute ({sorted(attributes)})")
    return attributes[name]


def scalarised_target(spec: ObjectiveSpec, values: np.ndarray, rows: np.ndarray,
                      attributes: dict[str, np.ndarray], seed: int,
                      scale: float | None = None) -> np.ndarray:
    """Map readouts to the target, with secondary objectives and constraints folded in.

    With `secondary` objectives, every objective is scaled to [0, 1] (the readout
    over what was measured, an attribute over all candidates) and combined by
    the augmented Chebyshev scalarisation `min_k w_k f_k + 0.05 sum_k w_k f_k`
    with weights `w` drawn from a flat Dirichlet by `seed` (ParEGO, Knowles
    2006). Measurements that break a constraint get a target below every
    feasible one (a penalty the instrument learns from).

    Args:
        values: `n` raw readouts.
        rows: `n` design-space rows of the measured candidates.
        attributes: per-candidate attributes over the whole design space.
        seed: draws the weights; vary it per round.
        scale: the scale of `transform: log` (see `to_target`).
    """
    target = to_target(spec, values, scale)
    if (not spec.secondary and not spec.constraints) or len(target) == 0:
        return target
    rows = np.asarray(rows, dtype=np.int64)
    mine = {k: np.asarray(v, dtype=np.float64)[rows] for k, v in attributes.items()}
    if spec.secondary:
        parts = [_unit(target, target)]
        for k, s in enumerate(spec.secondary):
            full = np.asarray(_attribute(spec, k, attributes), dtype=np.float64)
            sign = 1.0 if s.direction == "maximize" else -1.0
            parts.append(_unit(sign * full[rows], sign * full))
        F = np.stack(parts, axis=1)
        w = np.random.default_rng(seed).dirichlet(np.ones(F.shape[1]))
        target = _chebyshev(F, w)
    ok = _feasible(spec, np.asarray(values, dtype=np.float64), mine)
    if ok.any() and not ok.all():
        spread = float(np.ptp(target[ok])) or 1.0
        target = np.where(ok, target, target[ok].min() - 0.1 * spread)
    return target


def _unit(x: np.ndarray, reference: np.ndarray) -> np.ndarray:
    lo, hi = float(np.min(reference)), float(np.max(reference))
    return (x - lo) / (hi - lo) if hi > lo else np.zeros_like(x)


def pareto_front(spec: ObjectiveSpec, values: np.ndarray, rows: np.ndarray,
                 attributes: dict[str, np.ndarray]) -> np.ndarray:
    """Return the positions (into `values`) of the feasible non-dominated measurements.

    Objectives are the target (`to_target` of the readout) and each secondary
    attribute in its direction; without secondary objectives the front is the best.
    """
    rows = np.asarray(rows, dtype=np.int64)
    values = np.asarray(values, dtype=np.float64)
    mine = {k: np.asarray(v, dtype=np.float64)[rows] for k, v in attributes.items()}
    cols = [to_target(spec, values)]
    for k, s in enumerate(spec.secondary):
        x = np.asarray(_attribute(spec, k, attributes), dtype=np.float64)[rows]
        cols.append(x if s.direction == "maximize" else -x)
    F = np.stack(cols, axis=1)
    ok = np.flatnonzero(_feasible(spec, values, mine))
    if len(ok) == 0:
        return np.array([], dtype=np.int64)
    import torch
    from botorch.utils.multi_objective.pareto import is_non_dominated

    keep = is_non_dominated(torch.from_numpy(F[ok]), maximize=True, deduplicate=False)
    return ok[keep.numpy()].astype(np.int64)


def _chebyshev(F: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Return `min_k w_k F_k + 0.05 sum_k w_k F_k` per row of `F` (already scaled to [0, 1]).

    BoTorch's augmented Chebyshev scalarisation, given no observations so that
    it keeps our scaling (the readout over what was measured, an attribute
    over all candidates) instead of rescaling by the rows at hand.
    """
    import torch
    from botorch.utils.multi_objective.scalarization import get_chebyshev_scalarization

    w = torch.from_numpy(np.asarray(weights, dtype=np.float64))
    scalarise = get_chebyshev_scalarization(w, torch.empty(0, len(w), dtype=torch.float64),
                                            alpha=0.05)
    return scalarise(torch.from_numpy(F)).numpy()
