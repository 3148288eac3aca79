"""DataFrames in and out of a campaign: what `ask` returns and what `tell` takes.

Pure functions between records and pandas, so the campaign's Python face
(`Campaign.ask`, `tell`, `add_measurements`, `measurements`, `proposals`) stays
thin and the same conversions serve the CLI's exports and the service.
"""

from __future__ import annotations

from typing import Any, Iterable

import numpy as np
import pandas as pd

from loop.campaign.records import Experiment, Measurement

#: columns of `Campaign.proposals()` / `ask()`, before the candidate's parameters
PROPOSAL_COLUMNS = ["experiment_id", "round", "candidate_id", "state", "predicted",
                    "predicted_lo90", "predicted_hi90", "predicted_mean_target",
                    "predicted_sd_target", "acquisition", "note"]
MEASUREMENT_COLUMNS = ["experiment_id", "round", "candidate_id", "replicate", "value"]
_Z90 = 1.6448536269514722


def proposals_frame(experiments: Iterable[Experiment], params: dict[str, dict[str, Any]],
                    to_readout=None) -> pd.DataFrame:
    """Tabulate experiments with their predictions in the readout's units.

    Args:
        experiments: the experiments to show.
        params: candidate id -> its parameters (one column each, prefixed `param_`).
        to_readout: maps an array of targets to readout units (monotone); without
            it the readout-unit columns stay empty.
    """
    rows = []
    for e in experiments:
        row: dict[str, Any] = {"experiment_id": e.id, "round": e.round,
                               "candidate_id": e.candidate_id, "state": str(e.state),
                               "predicted_mean_target": e.predicted_mean,
                               "predicted_sd_target": e.predicted_sd,
                               "acquisition": e.acquisition, "note": e.note}
        if to_readout is not None and e.predicted_mean is not None and \
                e.predicted_sd is not None:
            lo, mid, hi = to_readout(np.array([e.predicted_mean - _Z90 * e.predicted_sd,
                                               e.predicted_mean,
                                               e.predicted_mean + _Z90 * e.predicted_sd]))
            row.update(predicted=float(mid), predicted_lo90=float(min(lo, hi)),
                       predicted_hi90=float(max(lo, hi)))
        row.update({f"param_{k}": v for k, v in params.get(e.candidate_id, {}).items()})
        rows.append(row)
    frame = pd.DataFrame.from_records(rows)
    extra = [c for c in frame.columns if c not in PROPOSAL_COLUMNS]
    return frame.reindex(columns=PROPOSAL_COLUMNS + extra)


def measurements_frame(measurements: Iterable[Measurement]) -> pd.DataFrame:
    """Tabulate measurements, one row per (experiment, replicate)."""
    return pd.DataFrame.from_records(
        [{"experiment_id": m.experiment_id, "round": m.round, "candidate_id": m.candidate_id,
          "replicate": m.replicate, "value": m.value} for m in measurements],
        columns=MEASUREMENT_COLUMNS)


def result_records(frame: pd.DataFrame | Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Turn what `tell` was given into result mappings (missing cells dropped).

    Columns: `experiment_id` and `value`, optionally `replicate`, `candidate_id`,
    `status` (`ok` or `failed`) and `error`.
    """
    records = frame.to_dict(orient="records") if isinstance(frame, pd.DataFrame) else list(frame)
    out = []
    for rec in records:
        clean = {}
        for key, value in dict(rec).items():
            if value is None or (isinstance(value, float) and np.isnan(value) and key != "value"):
                continue
            if isinstance(value, np.generic):
                value = value.item()
            clean[str(key)] = value
        out.append(clean)
    return out
