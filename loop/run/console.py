"""What a person watching a campaign sees: a progress bar per round, a table per round."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from loop.report.table import round_table


class ConsoleReporter:
    """A campaign hook that draws rich progress bars and round tables."""

    def __init__(self, console: Console | None = None, total_rounds: int | None = None) -> None:
        self.console = console or Console()
        self.total_rounds = total_rounds
        self._progress: Progress | None = None
        self._task = None
        self._round: int | None = None

    def __call__(self, step: str, r: int, info: Any) -> None:
        if self._round != r:
            self._start(r)
        assert self._progress is not None
        if step == "collect":
            self._progress.update(self._task, description=f"round {r}: collecting",
                                  total=max(info.get("n_total", 1), 1),
                                  completed=info.get("n_done", 0))
        elif step == "finish":
            self._stop()
            self.console.print(round_table([info], total_rounds=self.total_rounds).to_rich())
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
