"""`loopwell bench ...`: benchmarks on real published data."""

from __future__ import annotations

import sys

from pathlib import Path
from typing import List, Optional

import typer
from rich.console import Console

from loop.report.table import Table

bench_app = typer.Typer(no_args_is_help=True, help="Benchmarks on real published data.")
console = Console(width=None if sys.stdout.isatty() else 150)

DEFAULT_ARMS = ["default", "random"]


@bench_app.command("screen")
def screen(
    screen: List[str] = typer.Option(["IFNG", "IL2"], help="screens of the shared data: "
                                     "IFNG, IL2, Scharenberg22, Zhu21, Zhuang19, Wang14"),
    table: Optional[Path] = typer.Option(None, help="another screen: a Gene,Score CSV"),
    hits: Optional[Path] = typer.Option(None, help="its hit list (.npy or text list of genes)"),
    name: str = typer.Option("custom", help="name of that screen in the outputs"),
    arm: List[str] = typer.Option(DEFAULT_ARMS, help="default (the shipped recipe), random, "
                                  "or INSTRUMENT:STRATEGY[:key=value,...]"),
    seeds: int = typer.Option(10, help="seeds per arm (first_seed..first_seed+seeds-1)"),
    first_seed: int = typer.Option(0, help="first seed (select on seeds the report does not use)"),
    rounds: int = typer.Option(5),
    batch_size: Optional[int] = typer.Option(None, help="default: 128, or 32 under 2,000 genes"),
    workers: int = typer.Option(2, help="parallel worker processes"),
    calibration: bool = typer.Option(True, help="score intervals on the unmeasured genes"),
    out: Path = typer.Option(Path("benchmarks/results"), help="folder for CSV and PNG"),
) -> None:
    """Run the 5 x 128 screen protocol and print hit ratios beside the published ones."""
    from loop.bench.screen import PUBLISHED, SCREENS, parse_arm, run_benchmark, summarise, write_outputs
    from loop.run.settings import configure_environment, state_dir

    configure_environment()
    screens = {}
    if table is not None:
        if hits is None:
            raise typer.BadParameter("--table needs --hits")
        screens[name] = (str(table.resolve()), str(hits.resolve()))
    else:
        for s in screen:
            if s not in SCREENS:
                raise typer.BadParameter(f"unknown screen '{s}'; known: {', '.join(SCREENS)}")
            screens[s] = SCREENS[s]
    arms = [parse_arm(a) for a in arm]
    n_runs = len(screens) * len(arms) * seeds
    console.print(f"{n_runs} campaigns: screens {list(screens)}, arms {[a.label for a in arms]}, "
                  f"{seeds} seeds, {rounds} rounds, {workers} workers")
    done = [0]

    def progress(result):
        done[0] += 1
        last = result[-1]
        console.print(f"[{done[0]}/{n_runs}] {last['screen']} {last['arm']} seed {last['seed']}: "
                      f"hit ratio {last['hit_ratio']:.3f}")

    seed_list = list(range(first_seed, first_seed + seeds))
    rows = run_benchmark(screens, arms, seed_list, rounds=rounds,
                         batch_size=batch_size, workers=workers, state_dir=state_dir(),
                         calibration=calibration, on_result=progress)
    paths = write_outputs(rows, out)
    console.print(summary_table(summarise(rows), PUBLISHED).to_rich())
    for key, path in paths.items():
        console.print(f"{key}: {path}")


def summary_table(summary, published) -> Table:
    """Tabulate measured rows beside the published ones."""
    columns = ("screen", "method", "hit ratio", "seeds", "fit+propose s/round (mean, max)",
               "90% PI coverage (unmeasured)", "NLL")
    rows = []
    for screen in sorted({s["screen"] for s in summary}):
        for label, value in published.get(screen, []):
            rows.append((screen, label, value, "published", "", "", ""))
        for s in (x for x in summary if x["screen"] == screen):
            cov = "-" if s["pool_coverage90"] is None else f"{s['pool_coverage90']:.2f}"
            nll = "-" if s["pool_nll"] is None else f"{s['pool_nll']:.2f}"
            rows.append((screen, f"loopwell {s['arm']}",
                         f"{s['hit_ratio_mean']:.3f} ± {s['hit_ratio_sd']:.3f}",
                         str(s["n_seeds"]), f"{s['round_s_mean']:.1f}, {s['round_s_max']:.1f}",
                         cov, nll))
    return Table("hit ratio after all rounds (mean ± sd over seeds)", columns, tuple(rows))


@bench_app.command("reactions")
def reactions(
    table: List[str] = typer.Option(["aryl_amination", "direct_arylation"],
                                    help="published tables (presets)"),
    index: Optional[Path] = typer.Option(None, help="another table: index CSV, a row per reaction"),
    yield_column: str = typer.Option("yield", help="its yield column"),
    factor: List[str] = typer.Option([], help="its factors: COLUMN=DESCRIPTORS.csv, or COLUMN "
                                     "alone for a numeric factor"),
    name: str = typer.Option("custom", help="name of that table in the outputs"),
    tool: List[str] = typer.Option(["loopwell", "baybe", "ax", "random"],
                                   help="loopwell, baybe, ax, random"),
    seeds: int = typer.Option(10, help="seeds per tool (first_seed..first_seed+seeds-1)"),
    first_seed: int = typer.Option(0, help="first seed (tune on seeds the report does not use)"),
    batch_size: int = typer.Option(5, help="random start and every batch"),
    budget: int = typer.Option(100, help="most experiments per run"),
    workers: int = typer.Option(2, help="parallel worker processes"),
    resume: bool = typer.Option(False, help="keep runs already in OUT/reactions_runs.jsonl"),
    summarise_only: bool = typer.Option(False, help="run nothing; summarise OUT/reactions_runs.jsonl"),
    out: Path = typer.Option(Path("benchmarks/results"), help="folder for CSV, PNG, JSONL"),
) -> None:
    """Run reaction optimisation to a top-1% yield: loopwell vs BayBE, Ax and random."""
    from loop.bench.peers import available
    from loop.bench.reactions import (PRESETS, TOOLS, ReactionTable, goals, run_benchmark,
                                      summarise, write_outputs)
    from loop.run.settings import configure_environment

    configure_environment()
    if index is not None:
        if not factor:
            raise typer.BadParameter("--index needs --factor COLUMN=FILE (one per factor)")
        factors = {}
        for item in factor:
            column, _, path = item.partition("=")
            factors[column] = str(Path(path).resolve()) if path else None
        tables = [ReactionTable(name, str(index.resolve()), factors, yield_column)]
    else:
        unknown = [t for t in table if t not in PRESETS]
        if unknown:
            raise typer.BadParameter(f"unknown table(s) {unknown}; known: {', '.join(PRESETS)}")
        tables = [PRESETS[t] for t in table]
    bad = [t for t in tool if t not in TOOLS]
    if bad:
        raise typer.BadParameter(f"unknown tool(s) {bad}; known: {', '.join(TOOLS)}")
    missing = [t for t in tool if not available(t)]
    if missing:
        console.print(f"[yellow]skipping {missing}: not installed; pip install -c "
                      f".ci/constraints.txt -e '.[bench]'[/]")
    tools = [t for t in tool if t not in missing]
    runs = out / "reactions_runs.jsonl"
    if not (resume or summarise_only) and runs.exists():
        runs.unlink()
    console.print(f"{len(tables) * len(tools) * seeds} runs: tables {[t.name for t in tables]}, "
                  f"tools {tools}, seeds {first_seed}..{first_seed + seeds - 1}, "
                  f"start {batch_size} + {batch_size} per round, "
                  f"budget {budget}, {workers} workers")

    def progress(r):
        console.print(f"{r['table']} {r['tool']} seed {r['seed']}: top-1% after "
                      f"{r['hit_at'] or '>' + str(r['budget'])} experiments, "
                      f"{np.median(r['sec_per_proposal'] or [0]):.2f} s/proposal, "
                      f"{r['wall_s']:.0f} s")

    import json

    import numpy as np

    seed_list = list(range(first_seed, first_seed + seeds))
    records = run_benchmark(tables, [] if summarise_only else tools, seed_list,
                            q=batch_size, budget=budget, workers=workers, runs_path=runs,
                            on_result=progress)
    if summarise_only:
        records = [json.loads(line) for line in runs.read_text().splitlines() if line.strip()]
    paths = write_outputs(records, out)
    console.print(reactions_table(summarise(records)).to_rich())
    for line in goals(summarise(records)):
        console.print(line)
    for key, path in paths.items():
        console.print(f"{key}: {path}")


def reactions_table(summary) -> Table:
    """Tabulate the reactions summary."""
    columns = ("table", "tool", "seeds", "median", "95% CI of median", "p75", "mean", "misses",
               "median s/proposal", "median best yield per round")
    rows = []
    for s in summary:
        low, high = s["median_ci95"].split()
        rows.append((s["table"], s["tool"], str(s["n_seeds"]), f"{s['median_to_top1']:.1f}",
                     f"{float(low):.1f}-{float(high):.1f}", f"{s['p75_to_top1']:.1f}",
                     f"{s['mean_to_top1']:.1f}", str(s["misses"]),
                     f"{s['median_s_per_proposal']:.2f}", s["median_best_per_round"]))
    return Table("experiments until a top-1% yield (start 5, batches of 5)", columns, tuple(rows))
