"""The campaign's charts as plotly figures: pure functions of a `CampaignView`.

The static report (`loop.report.html`) and the service's campaign page draw
the same figures: `campaign_figures(view)` returns them by name, and
`figures_json(view)` the same as plotly JSON for a browser to draw.
Each builder returns None when its chart does not apply to the campaign
(a discovery curve needs hits, a Pareto front secondary objectives).
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from loop.report.calibration import LEVELS, coverage, reliability, round_predictions
from loop.report.proposals import proposals_table
from loop.report.view import CampaignView

_LOOP, _RANDOM, _MUTED = "#1f6fb4", "#888888", "#b8c4d0"
#: headings of the figures, by name, in the order a page shows them
TITLES = {
    "discovery": "Hits found vs experiments measured",
    "best": "Best value so far",
    "pareto": "Pareto front",
    "coverage": "90% interval coverage per round",
    "reliability": "Reliability of the predicted intervals",
    "proposals": "This round's proposals: predicted and measured",
}


def _layout(fig: go.Figure, x: str, y: str, **extra: Any) -> go.Figure:
    fig.update_layout(template="plotly_white", height=380, margin=dict(l=60, r=20, t=30, b=50),
                      xaxis_title=x, yaxis_title=y,
                      legend=dict(orientation="h", yanchor="bottom", y=1.02, x=0), **extra)
    return fig


def discovery_figure(view: CampaignView) -> go.Figure | None:
    """Hits found against experiments measured, beside the number expected at random."""
    done = [s for s in view.rounds if s.round >= 0 and s.hits_found is not None
            and s.n_measured is not None]
    if view.objective.kind != "hits" or not done:
        return None
    xs = [0] + [s.n_measured for s in done]
    ys = [0] + [s.hits_found for s in done]
    n_hits = next((s.n_hits for s in done if s.n_hits), None)
    fig = go.Figure(go.Scatter(
        x=xs, y=ys, mode="lines+markers", name="loopwell", line=dict(color=_LOOP),
        text=["start"] + [f"round {s.round}" for s in done],
        hovertemplate="%{text}: %{y} hits in %{x} experiments<extra></extra>"))
    if n_hits and view.n_candidates:
        rate = n_hits / view.n_candidates
        fig.add_trace(go.Scatter(
            x=xs, y=[x * rate for x in xs], mode="lines", name="random (expected)",
            line=dict(color=_RANDOM, dash="dash"),
            hovertemplate="random: %{y:.1f} hits expected in %{x}<extra></extra>"))
    return _layout(fig, "experiments measured",
                   "hits found" + (f" (of {n_hits})" if n_hits else ""))


def best_figure(view: CampaignView) -> go.Figure | None:
    """Every measured value per round, and the best so far (by the objective's order)."""
    if view.objective.kind == "hits" or not view.measurements:
        return None
    by_round: dict[int, list[float]] = {}
    for m in view.measurements:
        by_round.setdefault(m.round, []).append(m.value)
    rounds = sorted(by_round)
    xs, ys, best = [], [], []
    seen: list[float] = []
    for r in rounds:
        xs += [r] * len(by_round[r])
        ys += by_round[r]
        seen += by_round[r]
        best.append(seen[int(np.argmax(view.target(np.array(seen))))])
    fig = go.Figure(go.Scatter(
        x=xs, y=ys, mode="markers", name="measured", marker=dict(color=_MUTED, size=7),
        hovertemplate="round %{x}: %{y:.4g}<extra></extra>"))
    fig.add_trace(go.Scatter(
        x=rounds, y=best, mode="lines+markers", name="best so far", line=dict(color=_LOOP),
        hovertemplate="after round %{x}: best %{y:.4g}<extra></extra>"))
    label = {"maximize": "(higher is better)", "minimize": "(lower is better)",
             "maximize_abs": "(larger |value| is better)"}.get(view.objective.kind, "")
    fig = _layout(fig, "round (-1: measured outside the campaign)" if -1 in by_round else
                  "round", f"measured value {label}")
    fig.update_xaxes(dtick=1)
    return fig


def pareto_figure(view: CampaignView) -> go.Figure | None:
    """The measured readout against the first secondary objective, the front highlighted."""
    if not view.objective.secondary:
        return None
    front = next((s.pareto for s in reversed(view.rounds) if s.pareto), None)
    if not front:
        return None
    attr = view.objective.secondary[0].attribute
    fig = go.Figure()
    attributes = getattr(view.design, "attributes", None) or {}
    if attr in attributes:
        index = {cid: i for i, cid in enumerate(view.design.ids)}
        values = view.values_by_candidate()
        ids = [c for c in values if c in index]
        fig.add_trace(go.Scatter(
            x=[float(attributes[attr][index[c]]) for c in ids], y=[values[c] for c in ids],
            mode="markers", name="measured", marker=dict(color=_MUTED, size=7), text=ids,
            hovertemplate="%{text}<br>" + attr + " %{x:.4g}, value %{y:.4g}<extra></extra>"))
    points = sorted(front, key=lambda p: p[attr])
    fig.add_trace(go.Scatter(
        x=[p[attr] for p in points], y=[p["value"] for p in points], mode="lines+markers",
        name="Pareto front", line=dict(color=_LOOP, shape="hv"), marker=dict(size=9),
        text=[p["id"] for p in points],
        hovertemplate="%{text}<br>" + attr + " %{x:.4g}, value %{y:.4g}<extra></extra>"))
    direction = view.objective.secondary[0].direction
    return _layout(fig, f"{attr} ({direction})", f"measured value ({view.objective.kind})")


def coverage_figure(view: CampaignView) -> go.Figure | None:
    """The share of each round's measurements inside their 90% predicted intervals."""
    rounds = round_predictions(view)
    if not rounds:
        return None
    xs = [p.round for p in rounds]
    ys = [coverage(p.mean, p.sd, p.y, 0.9) for p in rounds]
    fig = go.Figure(go.Bar(
        x=xs, y=ys, name="observed", marker_color=_LOOP, text=[f"n={len(p.y)}" for p in rounds],
        textposition="outside",
        hovertemplate="round %{x}: %{y:.0%} inside (%{text})<extra></extra>"))
    fig.add_hline(y=0.9, line=dict(color=_RANDOM, dash="dash"),
                  annotation_text="nominal 90%", annotation_position="bottom right")
    fig = _layout(fig, "round", "measured inside the 90% interval")
    fig.update_yaxes(range=[0, 1.08], tickformat=".0%")
    fig.update_xaxes(dtick=1)
    return fig


def reliability_figure(view: CampaignView) -> go.Figure | None:
    """Nominal against observed coverage of central intervals, one line per round."""
    rounds = round_predictions(view)
    if not rounds:
        return None
    fig = go.Figure(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="ideal",
                               line=dict(color=_RANDOM, dash="dash"), hoverinfo="skip"))
    for p in rounds:
        fig.add_trace(go.Scatter(
            x=list(LEVELS), y=reliability(p.mean, p.sd, p.y), mode="lines+markers",
            name=f"round {p.round} (n={len(p.y)})",
            hovertemplate="nominal %{x:.0%}: observed %{y:.0%}<extra></extra>"))
    fig = _layout(fig, "nominal coverage of the central interval", "observed coverage")
    fig.update_xaxes(range=[0, 1], tickformat=".0%")
    fig.update_yaxes(range=[0, 1.02], tickformat=".0%")
    return fig


def proposals_figure(view: CampaignView) -> go.Figure | None:
    """The current round's predictions (readout units, 90% interval) beside what was measured."""
    table = proposals_table(view)
    if table.empty or table["predicted"].isna().all():
        return None
    rank = [f"#{k + 1}" for k in range(len(table))]
    hover = [str(c) if a is None or pd.isna(a) else f"{c}<br>acquisition {a:.4g}"
             for c, a in zip(table["candidate_id"], table["acquisition"])]
    mid, lo, hi = (table[c].to_numpy(dtype=float) for c in
                   ("predicted", "predicted_lo90", "predicted_hi90"))
    fig = go.Figure(go.Scatter(
        x=rank, y=mid, mode="markers", name="predicted (90% interval)",
        marker=dict(color=_LOOP, size=8), text=hover,
        error_y=dict(type="data", symmetric=False, array=hi - mid, arrayminus=mid - lo,
                     color=_LOOP, thickness=1.2),
        hovertemplate="%{text}<br>predicted %{y:.4g}<extra></extra>"))
    measured = table["measured"].to_numpy(dtype=float)
    # a scalarised score and a readout share no axis: then only the score is drawn
    if view.predicts_readout and np.isfinite(measured).any():
        fig.add_trace(go.Scatter(
            x=rank, y=measured, mode="markers", name="measured",
            marker=dict(color="#d62728", size=9, symbol="x"), text=hover,
            hovertemplate="%{text}<br>measured %{y:.4g}<extra></extra>"))
    units = "readout units" if view.predicts_readout else "scalarised score"
    value = "|value|" if view.on_magnitude and view.predicts_readout else "value"
    return _layout(fig, "proposal, by acquisition value (best first)", f"{value} ({units})")


BUILDERS = {"discovery": discovery_figure, "best": best_figure, "pareto": pareto_figure,
            "coverage": coverage_figure, "reliability": reliability_figure,
            "proposals": proposals_figure}


def campaign_figures(view: CampaignView) -> dict[str, go.Figure]:
    """Return the campaign's figures by name (those that apply), in page order."""
    out = {}
    for name, build in BUILDERS.items():
        fig = build(view)
        if fig is not None:
            out[name] = fig
    return out


def figures_json(view: CampaignView) -> dict[str, Any]:
    """Return the campaign's figures as plotly JSON objects (`Plotly.newPlot(div, fig)`)."""
    return {name: json.loads(fig.to_json()) for name, fig in campaign_figures(view).items()}
