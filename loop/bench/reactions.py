# One concept past 300 lines: the reactions benchmark, run to summary and plot.
"""`loopwell bench reactions`: reaction optimisation head to head with BayBE, Ax and random.

Protocol: a random start of 5 reactions (the same rows for every tool of a
seed), then batches of 5, until a reaction in the top 1% of yields of the table
is measured (or the budget of experiments is spent). Figures: experiments
until a top-1% reaction (median, 75th percentile over seeds; a miss counts as
budget + batch), the best yield after each round, and wall seconds per
proposal (loopwell: fit + propose; peers: their recommend call, which fits).
loopwell runs as a real campaign (spec -> instrument -> agent -> simulated
lab -> SQLite store, instrument in-process); the peers run in the same
process pool on the same table, seeds, start and batch size.
"""

from __future__ import annotations

import json
import math
import os
import re
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd

from loop.bench.output import write_csv
from loop.campaign.spec import REACTION_STRATEGY

_D = "data:reactions"


@dataclass(frozen=True)
class ReactionTable:
    """A table of the benchmark: the index CSV, its yield column, and a file per factor.

    `factors` maps an index column to its descriptor file, or to None for a
    numeric factor.
    """

    name: str
    index: str
    factors: dict[str, str | None]
    yield_column: str = "yield"

    @property
    def factor_names(self) -> dict[str, str]:
        """Map index column -> factor name (`Base_SMILES` -> `base`)."""
        return {c: _factor_name(c) for c in self.factors}


def _factor_name(column: str) -> str:
    name = re.sub(r"_?SMILES$", "", column, flags=re.I).lower()
    name = re.sub(r"[^a-z0-9_]", "_", name).strip("_") or "factor"
    return name if name[0].isalpha() else f"f_{name}"


#: the two published tables (Shields et al., Nature 2021; Ahneman et al., Science 2018)
PRESETS = {
    "aryl_amination": ReactionTable("aryl_amination", f"{_D}/aryl_amination/experiment_index.csv", {
        "Aryl_halide_SMILES": f"{_D}/aryl_amination/aryl_halide_dft.csv",
        "Additive_SMILES": f"{_D}/aryl_amination/additive_dft.csv",
        "Base_SMILES": f"{_D}/aryl_amination/base_dft.csv",
        "Ligand_SMILES": f"{_D}/aryl_amination/ligand-Pd(0)_dft.csv"}),
    "direct_arylation": ReactionTable("direct_arylation",
                                      f"{_D}/direct_arylation/experiment_index.csv", {
        "Base_SMILES": f"{_D}/direct_arylation/base_dft.csv",
        "Ligand_SMILES": f"{_D}/direct_arylation/ligand-boltzmann_dft.csv",
        "Solvent_SMILES": f"{_D}/direct_arylation/solvent_dft.csv",
        "Concentration": None, "Temp_C": None}),
}

#: loopwell's recipe, the defaults of a reaction campaign: an additive GP (one ARD RBF kernel
#: per factor's DFT PCA block) and a greedy batch UCB, beta 4, with exact fantasies
LOOPWELL_INSTRUMENT = {"kind": "additive", "options": {}}
LOOPWELL_STRATEGY = REACTION_STRATEGY
TOOLS = ["loopwell", "baybe", "ax", "random"]


def design_spec(table: ReactionTable, pca: int | None = 5) -> dict[str, Any]:
    """Return the `design_space` of a campaign over the table's rows."""
    factors = []
    for column, path in table.factors.items():
        f: dict[str, Any] = {"name": table.factor_names[column], "column": column}
        if path is None:
            f["kind"] = "numeric"
        else:
            f.update(descriptors=path, pca=pca)
        factors.append(f)
    return {"kind": "reactions", "table": table.index, "candidates": "table", "factors": factors}


def campaign_spec(table: ReactionTable, seed: int, q: int, rounds: int) -> dict[str, Any]:
    """Return the loopwell campaign of one benchmark run."""
    return {
        "name": f"bench-{table.name}-{seed}",
        "design_space": design_spec(table),
        "objective": {"kind": "maximize"},
        "budget": {"rounds": rounds, "batch_size": q, "initial_strategy": "random"},
        "instrument": LOOPWELL_INSTRUMENT, "strategy": LOOPWELL_STRATEGY,
        "lab": {"kind": "simulated", "table": table.index, "value_column": table.yield_column,
                "poll_interval_s": 0.001},
        "seed": seed,
    }


@dataclass
class BenchTable:
    """The table as every tool sees it: one row per reaction, factor columns by name."""

    name: str
    df: pd.DataFrame
    factors: list[str]
    numeric: list[str]
    descriptors: dict[str, pd.DataFrame]
    y: np.ndarray = field(init=False)
    top: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.y = self.df["__yield"].to_numpy(np.float64)
        k = math.ceil(0.01 * len(self.y))
        self.top = self.y >= np.sort(self.y)[::-1][k - 1]


def load_table(table: ReactionTable) -> BenchTable:
    """Read the index and the cleaned descriptors of every categorical factor's levels."""
    from loop.design.datasets import resolve
    from loop.design.reactions import read_descriptors, read_index
    from loop.campaign.spec import ReactionDesign

    spec = ReactionDesign.model_validate(design_spec(table))
    frame = read_index(spec, None)
    if table.yield_column not in frame.columns:
        raise ValueError(f"{table.index}: no yield column '{table.yield_column}'")
    names = [f.name for f in spec.factors]
    df = frame[names].copy()
    df["__yield"] = frame[table.yield_column].astype(float)
    numeric = [f.name for f in spec.factors if f.kind == "numeric"]
    descriptors = {f.name: read_descriptors(resolve(f.descriptors[0]),
                                            sorted(df[f.name].unique()), f.key)
                   for f in spec.factors if f.kind == "categorical"}
    return BenchTable(table.name, df.reset_index(drop=True), names, numeric, descriptors)


def start_rows(n: int, q: int, seed: int) -> np.ndarray:
    """Return the random start, the rows a campaign's round 0 picks for `seed`."""
    return np.random.default_rng(seed * 100_003).choice(n, size=q, replace=False)


# -- one run --------------------------------------------------------------------
def run_one(job: dict[str, Any]) -> dict[str, Any]:
    """Run one (tool, table, seed); return its record."""
    import torch

    torch.set_num_threads(1)
    table = ReactionTable(**job["table"])
    bench = load_table(table)
    t0 = time.perf_counter()
    if job["tool"] == "loopwell":
        record = _run_loopwell(table, bench, job)
    else:
        record = _run_peer(bench, job)
    record.update(tool=job["tool"], table=table.name, seed=job["seed"], budget=job["budget"],
                  q=job["q"], wall_s=time.perf_counter() - t0)
    return record


def _run_peer(bench: BenchTable, job: dict[str, Any]) -> dict[str, Any]:
    from loop.bench.peers import PROPOSERS

    q, budget = job["q"], job["budget"]
    proposer = PROPOSERS[job["tool"]](bench, job["seed"])
    measured = [int(i) for i in start_rows(len(bench.y), q, job["seed"])]
    proposer.start(measured, bench.y[measured])
    best, seconds = [float(bench.y[measured].max())], []
    hit_at = len(measured) if bench.top[measured].any() else None
    while hit_at is None and len(measured) < budget:
        t0 = time.perf_counter()
        new = [int(i) for i in proposer.propose(min(q, budget - len(measured)))]
        seconds.append(time.perf_counter() - t0)
        if len(set(new)) != len(new) or set(new) & set(measured):
            raise RuntimeError(f"{job['tool']} proposed a measured or repeated row")
        measured += new
        proposer.observe(new, bench.y[new])
        best.append(float(bench.y[measured].max()))
        if bench.top[new].any():
            hit_at = len(measured)
    return {"hit_at": hit_at, "best_per_round": best, "sec_per_proposal": seconds,
            "not_runnable": getattr(proposer, "not_runnable", 0)}


def _run_loopwell(table: ReactionTable, bench: BenchTable, job: dict[str, Any]) -> dict[str, Any]:
    from loop.campaign import Campaign
    from loop.campaign.spec import parse_spec
    from loop.campaign.store import SqlStore

    q, budget = job["q"], job["budget"]
    spec = parse_spec(campaign_spec(table, job["seed"], q, rounds=math.ceil(budget / q)))
    rows: dict[str, int] = {}
    best, seconds, hit_at = [], [], None
    with tempfile.TemporaryDirectory() as tmp:
        store = SqlStore(f"sqlite:///{tmp}/bench.db")
        campaign = Campaign(spec, store, state_dir=Path(tmp), compute="local")
        rows = campaign.design.index()
        if campaign.design.n != len(bench.y):
            raise RuntimeError("the campaign's design space is not the table's rows")
        measured: list[int] = []
        while hit_at is None and (r := campaign.next_round()) is not None:
            info = campaign.run_round(r)
            new = [rows[e.candidate_id] for e in store.experiments(spec.name, round=r)]
            if r == 0 and sorted(new) != sorted(start_rows(len(bench.y), q, job["seed"])):
                raise RuntimeError("loopwell's random start differs from the peers'")
            measured += new
            best.append(float(bench.y[measured].max()))
            if r > 0:
                seconds.append(info.seconds)
            if bench.top[new].any():
                hit_at = len(measured)
        campaign.close()
        store.close()
    return {"hit_at": hit_at, "best_per_round": best, "sec_per_proposal": seconds}


# -- the benchmark ----------------------------------------------------------------
def run_benchmark(tables: list[ReactionTable], tools: list[str], seeds: list[int], *,
                  q: int = 5, budget: int = 100, workers: int = 2, runs_path: Path | None = None,
                  on_result: Callable[[dict[str, Any]], None] | None = None,
                  ) -> list[dict[str, Any]]:
    """Run every (table, tool, seed) not yet in `runs_path` (JSON lines); return all records."""
    done: list[dict[str, Any]] = []
    if runs_path is not None and runs_path.exists():
        done = [json.loads(line) for line in runs_path.read_text().splitlines() if line.strip()]
    have = {(r["table"], r["tool"], r["seed"]) for r in done}
    order = {"ax": 0, "baybe": 1, "loopwell": 2, "random": 3}
    jobs = [{"table": t.__dict__, "tool": tool, "seed": s, "q": q, "budget": budget}
            for tool in sorted(tools, key=lambda x: order.get(x, 9)) for s in seeds
            for t in tables if (t.name, tool, s) not in have]
    records = [r for r in done if r["tool"] in tools and r["table"] in {t.name for t in tables}
               and r["seed"] in seeds]

    def keep(record: dict[str, Any]) -> None:
        records.append(record)
        if runs_path is not None:
            runs_path.parent.mkdir(parents=True, exist_ok=True)
            with open(runs_path, "a") as handle:
                handle.write(json.dumps(record) + "\n")
        if on_result:
            on_result(record)

    os.environ.setdefault("OMP_NUM_THREADS", "1")
    if workers <= 1:
        for job in jobs:
            keep(run_one(job))
        return records
    with ProcessPoolExecutor(max_workers=workers) as pool:
        # kept as each run ends, so an interrupted benchmark loses only the runs in flight
        for future in as_completed([pool.submit(run_one, job) for job in jobs]):
            keep(future.result())
    return records


def _hits(records: list[dict[str, Any]]) -> np.ndarray:
    return np.array([r["hit_at"] if r["hit_at"] is not None else r["budget"] + r["q"]
                     for r in records], dtype=np.float64)


def median_interval(values: np.ndarray, level: float = 0.95, n_boot: int = 2000,
                    seed: int = 0) -> tuple[float, float]:
    """Return a percentile bootstrap interval of the median of `values`.

    With 10-20 seeds and hits counted in batches of 5, a median moves by a
    batch or two with the seeds; the interval says how far.
    """
    values = np.asarray(values, dtype=np.float64)
    if len(values) < 2:
        return float(np.median(values)), float(np.median(values))
    rng = np.random.default_rng(seed)
    boot = np.median(values[rng.integers(0, len(values), (n_boot, len(values)))], axis=1)
    tail = 100 * (1 - level) / 2
    return float(np.percentile(boot, tail)), float(np.percentile(boot, 100 - tail))


def summarise(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per table and tool: experiments to a top-1% reaction, s per proposal, best per round."""
    out = []
    for table, tool in sorted({(r["table"], r["tool"]) for r in records}):
        mine = sorted((r for r in records if r["table"] == table and r["tool"] == tool),
                      key=lambda r: r["seed"])
        hits = _hits(mine)
        seconds = [s for r in mine for s in r["sec_per_proposal"]]
        n_rounds = max(len(r["best_per_round"]) for r in mine)
        best = np.array([[r["best_per_round"][min(k, len(r["best_per_round"]) - 1)]
                          for k in range(n_rounds)] for r in mine])
        out.append({
            "table": table, "tool": tool, "n_seeds": len(mine),
            "seeds": " ".join(str(r["seed"]) for r in mine),
            "median_to_top1": float(np.median(hits)), "p75_to_top1": float(np.percentile(hits, 75)),
            "median_ci95": " ".join(f"{v:g}" for v in median_interval(hits)),
            "mean_to_top1": float(np.mean(hits)),
            "misses": int(sum(r["hit_at"] is None for r in mine)),
            "median_s_per_proposal": float(np.median(seconds)) if seconds else 0.0,
            "median_best_per_round": " ".join(f"{v:.1f}" for v in np.median(best, axis=0)),
            "hits": " ".join(str(int(h)) for h in hits),
        })
    return out


def goals(summary: list[dict[str, Any]]) -> list[str]:
    """Check loopwell against the better peer on each table; return one line per check."""
    lines = []
    for table in sorted({s["table"] for s in summary}):
        rows = {s["tool"]: s for s in summary if s["table"] == table}
        peers = [rows[t] for t in ("baybe", "ax") if t in rows]
        if "loopwell" not in rows or not peers:
            continue
        me = rows["loopwell"]
        med = min(p["median_to_top1"] for p in peers)
        p75 = min(p["p75_to_top1"] for p in peers)
        fast = min(p["median_s_per_proposal"] for p in peers)
        for what, ok, text in (
            ("median", me["median_to_top1"] <= 0.75 * med,
             f"{me['median_to_top1']:.1f} vs 0.75 x {med:.1f} = {0.75 * med:.1f}"),
            ("p75", me["p75_to_top1"] <= p75, f"{me['p75_to_top1']:.1f} vs {p75:.1f}"),
            ("s/proposal", me["median_s_per_proposal"] <= 0.2 * fast,
             f"{me['median_s_per_proposal']:.2f} vs 0.2 x {fast:.2f} = {0.2 * fast:.2f}"),
        ):
            lines.append(f"{table}: {what} {'met' if ok else 'MISSED'} ({text})")
    return lines


def write_outputs(records: list[dict[str, Any]], out_dir: Path) -> dict[str, Path]:
    """Write per-round rows and the summary as CSV, and best yield per round as PNG."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"rounds": out_dir / "reactions_rounds.csv",
             "summary": out_dir / "reactions_summary.csv", "plot": out_dir / "reactions_best.png"}
    records = sorted(records, key=lambda r: (r["table"], r["tool"], r["seed"]))
    rows = [{"table": r["table"], "tool": r["tool"], "seed": r["seed"], "round": k,
             "n_experiments": r["q"] * (k + 1), "best_yield": b, "hit_at": r["hit_at"],
             "s_per_proposal": r["sec_per_proposal"][k - 1] if k > 0 else 0.0}
            for r in records for k, b in enumerate(r["best_per_round"])]
    write_csv(paths["rounds"], rows)
    write_csv(paths["summary"], summarise(records))
    _plot(records, paths["plot"])
    return paths


def _plot(records: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tables = sorted({r["table"] for r in records})
    fig, axes = plt.subplots(1, len(tables), figsize=(5.5 * len(tables), 4), squeeze=False)
    for ax, table in zip(axes[0], tables):
        for tool in sorted({r["tool"] for r in records if r["table"] == table}):
            mine = [r for r in records if r["table"] == table and r["tool"] == tool]
            n = max(len(r["best_per_round"]) for r in mine)
            best = np.array([[r["best_per_round"][min(k, len(r["best_per_round"]) - 1)]
                              for k in range(n)] for r in mine])
            x = mine[0]["q"] * (np.arange(n) + 1)
            ax.plot(x, np.median(best, axis=0), marker="o", ms=3, label=f"{tool} (n={len(mine)})")
            ax.fill_between(x, np.percentile(best, 25, axis=0), np.percentile(best, 75, axis=0),
                            alpha=0.15)
        ax.set_title(f"{table} (a run stops at a top-1% yield; best carried on)", fontsize=9)
        ax.set_xlabel("experiments")
        ax.set_ylabel("best yield so far (median, IQR over seeds)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
