"""The round table: one function that turns round summaries into rows of text.

The console (rich), the HTML report and the benchmarks all render this one
table, so a figure reads the same wherever it is shown.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any, Sequence

from loop.campaign.summary import RoundSummary


@dataclass(frozen=True)
class Table:
    """Column headers and rows of formatted cells."""

    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]

    def to_rich(self):
        """Return a `rich.table.Table`."""
        from rich.table import Table as RichTable

        table = RichTable(title=self.title, header_style="bold")
        for col in self.columns:
            table.add_column(col, justify="right")
        for row in self.rows:
            table.add_row(*row)
        return table

    def to_html(self) -> str:
        """Return an HTML `<table>` (cells escaped)."""
        head = "".join(f"<th>{html.escape(c)}</th>" for c in self.columns)
        body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>"
                       for row in self.rows)
        return f"<table><tr>{head}</tr>{body}</table>"


def fmt(value: Any, spec: str = ".3f") -> str:
    """Format one cell: `-` for unknown, floats with `spec`."""
    if value is None:
        return "-"
    if isinstance(value, float):
        return format(value, spec)
    return str(value)


def round_table(summaries: Sequence[RoundSummary], title: str = "",
                total_rounds: int | None = None) -> Table:
    """Render round summaries: hits for campaigns that know their hits, else the best value.

    Args:
        summaries: the rounds to show, in order.
        title: the table's title.
        total_rounds: the campaign's budget, shown as `k/total` in the round column.
    """
    has_hits = any(s.n_hits is not None for s in summaries)
    middle = ("hits", "hit ratio") if has_hits else ("best value",)
    columns = ("round", "status", "strategy", "measured", *middle, "fit s", "propose s",
               "90% PI cov.", "NLL")
    rows = []
    for s in summaries:
        label = f"{s.round + 1}/{total_rounds}" if total_rounds else str(s.round)
        found = ((f"{fmt(s.hits_found)}/{fmt(s.n_hits)}", fmt(s.hit_ratio)) if has_hits
                 else (fmt(s.best_value, ".4g"),))
        rows.append((label, str(s.status), fmt(s.strategy), fmt(s.n_measured), *found,
                     fmt(s.fit_s, ".2f"), fmt(s.propose_s, ".2f"), fmt(s.coverage90, ".2f"),
                     fmt(s.nll, ".2f")))
    return Table(title, columns, tuple(rows))
