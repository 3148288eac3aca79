"""The current round's proposals and why each was picked (pure functions of a view).

Predictions are shown in the readout's units, beside what was measured in the
same units: the instrument's mean and 90% interval (target units, stored on
each experiment) are mapped back by the objective's inverse transform, which
is monotone, so interval ends map to interval ends (`frames.proposals_frame`).

For gene campaigns over gene-set membership, each gene's "gene sets" are the
sets it belongs to, ranked by how many of their measured members were high
(a known hit; else a hit by the objective's rule over what was measured; else
in the top 10% of measured targets). This
is evidence read from the data beside the prediction, not the instrument's
own decomposition of its mean.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from loop.campaign.frames import proposals_frame
from loop.campaign.objective import hit_threshold, to_target
from loop.report.view import CampaignView

#: quantile of measured targets above which a member counts as "high" (hits unknown)
HIGH_QUANTILE = 0.9


def proposals_table(view: CampaignView, r: int | None = None, *, n_sets: int = 3
                    ) -> pd.DataFrame:
    """Return round `r`'s proposals (default: the current round), best acquisition first.

    Columns: `candidate_id`, `state`, `predicted`, `predicted_lo90`,
    `predicted_hi90` (readout units; for campaigns with secondary objectives
    the scalarised score the instrument predicts, unitless), `measured`
    (readout units, mean over replicates; both as |readout| for objectives on
    the magnitude, `maximize_abs` and two-sided `hits`), `acquisition`, `gene_sets` (gene
    campaigns over membership features), then the candidate's parameters.
    """
    r = view.current_round if r is None else r
    experiments = [e for e in view.experiments if e.round == r]
    params = _params(view, [e.candidate_id for e in experiments])
    to_readout = view.readout if view.predicts_readout else (lambda t: np.asarray(t))
    frame = proposals_frame(experiments, params, to_readout)
    if frame.empty:
        return frame
    measured = view.values_by_experiment()
    frame["measured"] = [measured.get(eid, np.nan) for eid in frame["experiment_id"]]
    if view.on_magnitude:  # the prediction is of |readout|: set it beside |measured|
        frame["measured"] = frame["measured"].abs()
        if view.predicts_readout:  # and a size is never below zero
            for col in ("predicted", "predicted_lo90"):
                frame[col] = frame[col].clip(lower=0.0)
    evidence = gene_set_evidence(view, list(frame["candidate_id"]), n_sets=n_sets)
    if evidence is not None:
        frame["gene_sets"] = [evidence.get(cid, "") for cid in frame["candidate_id"]]
    frame = frame.sort_values("acquisition", ascending=False, na_position="last",
                              kind="stable")
    keep = ["candidate_id", "state", "predicted", "predicted_lo90", "predicted_hi90",
            "measured", "acquisition"] + (["gene_sets"] if evidence is not None else [])
    return frame[keep + [c for c in frame.columns if c.startswith("param_")
                         and c != "param_gene"]].reset_index(drop=True)


def _params(view: CampaignView, ids: list[str]) -> dict[str, dict[str, Any]]:
    design = view.design
    if design is None or not getattr(design, "parameters", None):
        return {}
    index = {cid: i for i, cid in enumerate(design.ids)}
    return {cid: design.params(index[cid]) for cid in ids if cid in index}


def high_candidates(view: CampaignView) -> set[str]:
    """Return the measured candidates that count as high: hits, else the top measured targets."""
    values = view.values_by_candidate()
    if not values:
        return set()
    if view.hits is not None:
        return set(values) & view.hits
    ids = list(values)
    raw = np.array([values[c] for c in ids])
    target = to_target(view.objective, raw)  # the units of `hit_threshold`: no log scale
    t = hit_threshold(view.objective, raw)
    if t is None:
        t = float(np.quantile(target, HIGH_QUANTILE))
    return {c for c, v in zip(ids, target) if v >= t}


def gene_set_evidence(view: CampaignView, ids: list[str], *, n_sets: int = 3
                      ) -> dict[str, str] | None:
    """Return, per candidate, its gene sets with the most high measured members.

    Each set reads `NAME (h/m high)`: h of its m measured members were high.
    None when the design has no gene-set membership block.
    """
    design = view.design
    block = next((b for b in getattr(design, "blocks", ()) if b[0] == "pathways"), None)
    if block is None:
        return None
    _, start, stop = block
    M = np.asarray(design.X[:, start:stop]) > 0
    names = design.feature_names[start:stop]
    index = {cid: i for i, cid in enumerate(design.ids)}
    measured = [index[c] for c in view.values_by_candidate() if c in index]
    high = [index[c] for c in high_candidates(view) if c in index]
    n_measured = M[measured].sum(axis=0) if measured else np.zeros(M.shape[1])
    n_high = M[high].sum(axis=0) if high else np.zeros(M.shape[1])
    out = {}
    for cid in ids:
        if cid not in index:
            continue
        sets = np.flatnonzero(M[index[cid]])
        # most high members first, then the highest share of high among the measured
        share = n_high[sets] / np.maximum(n_measured[sets], 1)
        order = sets[np.lexsort((-share, -n_high[sets]))][:n_sets]
        out[cid] = "; ".join(f"{names[j]} ({int(n_high[j])}/{int(n_measured[j])} high)"
                             for j in order) or "in no gene set"
    return out
