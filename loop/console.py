"""What a person watching a campaign sees: a progress bar per round, a table per round."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

STEPS = ("fit", "propose", "dispatch", "collect", "finish")


class ConsoleReporter:
    """A campaign hook that draws rich progress bars and round tables."""

    def __init__(self, console: Console | None = None, total_rounds: int | None = None) -> None:
        self.console = console or Console()
        self.total_rounds = total_rounds
        self._progress: Progress | None = None
        self._task = None
        self._round: int | None = None

    def __call__(self, step: str, r: int, info: dict[str, Any]) -> None:
        if self._round != r:
            self._start(r)
        assert self._progress is not None
        if step == "collect":
            self._progress.update(self._task, description=f"round {r}: collecting",
                                  total=max(info.get("n_total", 1), 1),
                                  completed=info.get("n_done", 0))
        elif step == "finish":
            self._stop()
            self.console.print(round_table(r, info, self.total_rounds))
        else:
            self._progress.update(self._task, description=f"round {r}: {step} done")

    def _start(self, r: int) -> None:
        self._stop()
        self._round = r
        self._progress = Progress(TextColumn("{task.description}"), BarColumn(),
                                  MofNCompleteColumn(), TimeElapsedColumn(),
                                  console=self.console, transient=True)
        self._progress.start()
        self._task = self._progress.add_task(f"round {r}: fitting and proposing", total=None)

    def _stop(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

    def close(self) -> None:
        self._stop()


def _fmt(value: Any, spec: str = ".3f") -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return format(value, spec)
    return str(value)


def round_table(r: int, info: dict[str, Any], total_rounds: int | None = None) -> Table:
    """Render one round's figures."""
    title = f"round {r + 1}/{total_rounds}" if total_rounds else f"round {r}"
    table = Table(title=title, show_header=True, header_style="bold")
    has_hits = info.get("n_hits") is not None
    middle = ("hits", "hit ratio") if has_hits else ("best value",)
    for col in ("strategy", "measured", *middle, "fit s", "propose s", "cov90", "NLL"):
        table.add_column(col, justify="right")
    found = ((f"{_fmt(info.get('hits_found'))}/{_fmt(info.get('n_hits'))}",
              _fmt(info.get("hit_ratio"))) if has_hits else (_fmt(info.get("best_value")),))
    table.add_row(
        _fmt(info.get("strategy")), _fmt(info.get("n_measured")), *found,
        _fmt(info.get("fit_s"), ".2f"),
        _fmt(info.get("propose_s"), ".2f"), _fmt(info.get("coverage90"), ".2f"),
        _fmt(info.get("nll"), ".2f"))
    return table


def rounds_table(name: str, rounds: list[dict[str, Any]]) -> Table:
    """Render every round of a campaign (for `loopwell status`)."""
    table = Table(title=f"campaign {name}", header_style="bold")
    for col in ("round", "status", "strategy", "measured", "hits", "hit ratio", "fit s",
                "propose s", "90% PI cov.", "NLL"):
        table.add_column(col, justify="right")
    for x in rounds:
        i = x["info"]
        table.add_row(str(x["idx"]), x["status"], _fmt(i.get("strategy")),
                      _fmt(i.get("n_measured")), _fmt(i.get("hits_found")),
                      _fmt(i.get("hit_ratio")), _fmt(i.get("fit_s"), ".2f"),
                      _fmt(i.get("propose_s"), ".2f"), _fmt(i.get("coverage90"), ".2f"),
                      _fmt(i.get("nll"), ".2f"))
    return table
