"""The campaign report: one self-contained HTML page of interactive plotly charts.

plotly's JavaScript is inlined once in the page's head, so the file can be
mailed and opened offline; each figure is a `<div>` drawn by it. The service's
campaign page renders the same page (`render_page`) from the same figures
(`loop.report.figures.campaign_figures`).
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import pandas as pd

from loop.campaign.store import Store
from loop.report.figures import TITLES, campaign_figures
from loop.report.proposals import proposals_table
from loop.report.table import fmt, round_table
from loop.report.view import CampaignView, campaign_view

_STYLE = """body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;color:#222;
padding:0 1em}h1{margin-bottom:.2em}.meta{color:#555}.note{background:#fff6e0;
border-left:4px solid #e0a000;padding:.5em 1em}.grid{display:grid;
grid-template-columns:repeat(auto-fill,minmax(480px,1fr));gap:1em}
figure{margin:0;min-width:0}figcaption{color:#555;font-size:.9em}
table{border-collapse:collapse;font-size:.9em}td,th{border:1px solid #ccc;padding:3px 8px;
text-align:right}td.l{text-align:left;max-width:22em;overflow-wrap:anywhere}td.n{white-space:nowrap}"""

#: one line under each chart: what it shows
CAPTIONS = {
    "discovery": "Hits among the candidates measured so far; the dashed line is what "
                 "measuring candidates at random would find on average.",
    "best": "Each measured value (grey) and the best so far after each round, in the "
            "readout's units.",
    "pareto": "Measured candidates (grey) and the non-dominated ones after the last round.",
    "coverage": "Share of each round's measurements inside the 90% interval predicted when "
                "they were proposed (in the instrument's target units).",
    "reliability": "Observed against nominal coverage of central predicted intervals at "
                   "several levels; on the diagonal the stated uncertainty is honest, "
                   "below it over-confident.",
    "proposals": "The current round's proposals in order of acquisition value: predicted "
                 "mean and 90% interval, and the measured value once known (in the same "
                 "units; with secondary objectives only the predicted score).",
}


def plotly_js() -> str:
    """Return plotly's JavaScript bundle (about 4.6 MB), to inline once per page."""
    from plotly.offline import get_plotlyjs

    return get_plotlyjs()


def figure_div(name: str, fig: Any) -> str:
    """Return a figure as a `<div>` drawn by a page that has loaded plotly."""
    return fig.to_html(full_html=False, include_plotlyjs=False, div_id=f"fig-{name}",
                       config={"displaylogo": False, "responsive": True})


def render_page(view: CampaignView, figures: dict[str, Any] | None = None, *,
                plotly_src: str | None = None, head: str = "", top: str = "",
                bottom: str = "") -> str:
    """Render a campaign's full HTML page.

    Args:
        view: the campaign.
        figures: the figures to show (default `campaign_figures(view)`).
        plotly_src: a URL to load plotly from; by default the bundle is inlined,
            so the page works offline.
        head, top, bottom: raw HTML put in the page's head, first in its body and
            last in its body (the service's dashboard adds its links and buttons).
    """
    figures = campaign_figures(view) if figures is None else figures
    script = (f'<script src="{html.escape(plotly_src)}"></script>' if plotly_src else
              f'<script type="text/javascript">{plotly_js()}</script>')
    notes = list(view.notes) + _absent(view, figures)
    charts = "".join(
        f'<figure><h3>{html.escape(TITLES[n])}</h3>{figure_div(n, f)}'
        f'<figcaption>{html.escape(CAPTIONS[n])}</figcaption></figure>'
        for n, f in figures.items())
    name = html.escape(view.name)
    return f"""<!doctype html><html><head><meta charset="utf-8">
<title>loopwell: {name}</title><style>{_STYLE}</style>{head}{script}</head><body>
{top}<h1>Campaign {name}</h1>
<p class="meta">{html.escape(view.description)} &mdash; status: {html.escape(view.status)}
&mdash; objective: {html.escape(_objective_text(view))} &mdash; {len(view.measurements)}
measurements</p>
{''.join(f'<p class="note">{html.escape(n)}</p>' for n in notes)}
<div class="grid">{charts}</div>
<h2>Rounds</h2>{round_table(list(view.rounds)).to_html()}
{_weights_section(view)}
{_proposals_section(view)}
<h2>Rejected inputs ({view.n_rejected})</h2>
<p>See <code>loopwell status {name}</code> for the reasons.</p>
{bottom}</body></html>"""


def _objective_text(view: CampaignView) -> str:
    o = view.objective
    text = o.kind + (f", log transform (scale {view.scale:.4g})" if o.transform == "log"
                     and view.scale else "")
    if o.secondary:
        text += "; secondary: " + ", ".join(f"{s.direction} {s.attribute}" for s in o.secondary)
    return text


def _absent(view: CampaignView, figures: dict[str, Any]) -> list[str]:
    """Say why a chart people look for is missing."""
    out = []
    if not view.measurements:
        out.append("Nothing has been measured yet: the charts appear as results arrive.")
    elif "coverage" not in figures and view.objective.secondary:
        out.append("No calibration charts: with secondary objectives the instrument "
                   "predicts a per-round scalarised score, which cannot be set against "
                   "the readout.")
    elif "coverage" not in figures:
        out.append("No calibration charts yet: no measured experiment was proposed with a "
                   "prediction (the first round is proposed without a model).")
    if "discovery" in figures and view.n_candidates is None:
        out.append("The random expectation is left out: the size of the design space is "
                   "not known without the campaign's files.")
    return out


def _weights_section(view: CampaignView) -> str:
    """What the last fit weighs: each feature block's share of the prior variance."""
    fitted = [r for r in view.rounds if r.block_weights]
    if not fitted:
        return ""
    last = fitted[-1]
    rows = "".join(
        f"<tr><td>{html.escape(name.replace('prior:', 'prior screen: '))}</td>"
        f"<td>{share:.1%}</td></tr>"
        for name, share in sorted(last.block_weights.items(), key=lambda kv: -kv[1]))
    return (f"<h2>What the model weighs (fit of round {last.round})</h2>"
            "<p>Each feature block's share of the fitted model's prior variance over the "
            "candidates: a block the campaign's data found useless gets a small share.</p>"
            f"<table><tr><th>feature block</th><th>share</th></tr>{rows}</table>")


def _proposals_section(view: CampaignView) -> str:
    r = view.current_round
    if r is None:
        return ""
    table = proposals_table(view, r)
    strategy = next((s.strategy for s in view.rounds if s.round == r), None)
    head = f"<h2>Proposals of round {r}" + (f" ({html.escape(strategy)})" if strategy
                                             else "") + "</h2>"
    if view.predicts_readout:
        units = ("<p>Predicted mean and 90% interval in the readout's units (the "
                 "instrument's prediction mapped back through the objective's transform), "
                 "beside the measured value in the same units.</p>")
        if view.on_magnitude:
            units += ("<p>The objective is on the size of the effect either way, so "
                      "predicted and measured are both |readout|.</p>")
    else:
        units = ("<p>Predicted: the round's scalarised score (unitless; the instrument is "
                 "trained on a per-round Chebyshev scalarisation of readout and secondary "
                 "objectives); measured: the readout.</p>")
    if "gene_sets" in table:
        units += ("<p>Gene sets: the sets each gene belongs to with the most high measured "
                  "members (hits, or the top measured values when hits are not known), as "
                  "<i>high/measured</i>: the evidence beside the prediction, not the "
                  "instrument's own decomposition of it.</p>")
    return head + units + _table_html(table, view.predicts_readout)


def _table_html(table: pd.DataFrame, predicts_readout: bool = True) -> str:
    if table.empty:
        return "<p>No proposals.</p>"
    # a candidate with parameters (a reaction) is shown by them; its id is their concatenation
    params = [c for c in table.columns if c.startswith("param_")]
    values = ["predicted", "90% interval", "measured"] if predicts_readout else \
        ["predicted score", "90% interval (score)", "measured readout"]
    cols = ["#"] + ([] if params else ["candidate"]) + ["state", *values, "acquisition"] + \
        (["gene sets"] if "gene_sets" in table else []) + [c[len("param_"):] for c in params]
    rows = []
    for k, row in enumerate(table.itertuples(index=False)):
        rec = row._asdict()
        cid = html.escape(str(rec["candidate_id"]), quote=True)
        cells = [f'<td title="{cid}">{k + 1}'] + \
            ([] if params else [f'<td class="l">{cid}']) + [
            html.escape(rec["state"]), _num(rec["predicted"]),
            _interval(rec["predicted_lo90"], rec["predicted_hi90"]),
            _num(rec["measured"]), _num(rec["acquisition"])]
        if "gene_sets" in rec:
            cells.append(f'<td class="l">{html.escape(str(rec["gene_sets"]))}')
        cells += [f'<td class="l">{html.escape(fmt(rec[c], ".4g"))}' for c in params]
        rows.append("<tr>" + "".join(c if c.startswith("<td") else f"<td>{c}" for c in cells)
                    + "</tr>")
    head = "".join(f"<th>{html.escape(c)}</th>" for c in cols)
    return f"<table><tr>{head}</tr>{''.join(rows)}</table>"


def _num(x: Any) -> str:
    return "-" if x is None or pd.isna(x) else format(float(x), ".4g")


def _interval(lo: Any, hi: Any) -> str:
    if lo is None or pd.isna(lo):
        return "-"
    return f'<td class="n">{float(lo):.4g} &ndash; {float(hi):.4g}'


def write_report(store: Store, name: str, path: Path, *, campaign: Any = None,
                 base_dir: Path | None = None, cache_dir: Path | None = None,
                 n_candidates: int | None = None) -> Path:
    """Write the HTML report of campaign `name` to `path`.

    Args:
        campaign: the `Campaign`, when at hand; else its design space is
            rebuilt from the stored spec (relative paths from `base_dir`), and
            when its files cannot be read the page shows what the store holds
            and says what is left out.
        cache_dir: where gene features are cached.
        n_candidates: the pool size, for the random expectation without a design space.
    """
    view = campaign_view(store, name, campaign, base_dir=base_dir, cache_dir=cache_dir,
                         n_candidates=n_candidates)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_page(view), encoding="utf-8")
    return path
