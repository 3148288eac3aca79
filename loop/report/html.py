"""The campaign report: one self-contained HTML page with the discovery curve."""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path


from loop.campaign.store import Store
from loop.campaign.summary import RoundSummary
from loop.report.table import fmt, round_table


def discovery_curve_png(rounds: list[RoundSummary], n_hits: int | None,
                        random_rate: float | None) -> bytes:
    """Plot hits found against experiments measured, beside the random expectation."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    xs = [0] + [x.n_measured or 0 for x in rounds]
    ys = [0] + [x.hits_found or 0 for x in rounds]
    fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
    ax.plot(xs, ys, marker="o", label="loopwell")
    if random_rate is not None:
        ax.plot(xs, [x * random_rate for x in xs], linestyle="--", color="grey",
                label="random (expected)")
    ax.set_xlabel("experiments measured")
    ax.set_ylabel("hits found" + (f" (of {n_hits})" if n_hits else ""))
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


def write_report(store: Store, name: str, path: Path, *, n_candidates: int | None = None,
                 n_top: int = 20) -> Path:
    """Write the HTML report of campaign `name` to `path`."""
    record = store.campaign(name)
    if record is None:
        raise KeyError(f"no campaign '{name}'")
    rounds = store.rounds(name)
    n_hits = next((x.n_hits for x in rounds if x.n_hits), None)
    rate = n_hits / n_candidates if n_hits and n_candidates else None
    png = base64.b64encode(discovery_curve_png(rounds, n_hits, rate)).decode()
    table = round_table(rounds).to_html()
    values = {m.experiment_id: m.value for m in store.measurements(name)}
    explained = sorted((e for e in store.experiments(name) if e.predicted_mean is not None),
                       key=lambda e: -(e.predicted_mean or 0))[:n_top]
    prop_rows = "".join(
        f"<tr><td>{e.round}</td><td>{html.escape(e.candidate_id)}</td>"
        f"<td>{fmt(e.predicted_mean)}</td><td>{fmt(e.predicted_sd)}</td>"
        f"<td>{fmt(values.get(e.id))}</td></tr>" for e in explained)
    rejected = store.rejected(name)
    rej_rows = "".join(f"<tr><td>{html.escape(r.reason)}</td></tr>" for r in rejected[:50])
    page = f"""<!doctype html><html><head><meta charset="utf-8">
<title>loopwell: {html.escape(name)}</title>
<style>body{{font-family:sans-serif;max-width:960px;margin:2em auto}}
table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:3px 8px;text-align:right}}</style>
</head><body>
<h1>Campaign {html.escape(name)}</h1>
<p>{html.escape(record.spec.get('description', ''))} &mdash; status: {record.status}</p>
<h2>Discovery curve</h2><img alt="discovery curve" src="data:image/png;base64,{png}">
<h2>Rounds</h2>{table}
<h2>Proposals with the highest predicted objective</h2>
<table><tr><th>round</th><th>candidate</th><th>predicted mean</th><th>predicted sd</th>
<th>measured</th></tr>{prop_rows}</table>
<h2>Rejected inputs ({len(rejected)})</h2><table>{rej_rows}</table>
</body></html>"""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    return path
