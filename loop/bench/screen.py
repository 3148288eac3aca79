"""`loopwell bench screen`: the published screen protocol, through the campaign code path.

Protocol of the BioDiscoveryAgent paper (Roohani et al., ICLR 2025, Table 1):
5 rounds of 128 genes (32 for a pool under 2,000 genes); hit ratio = hits found
over all rounds / all hits of the screen; mean and spread over seeds. Each run
is a real campaign (spec -> instruments -> agent -> simulated lab -> store),
with a temporary SQLite store and the instrument in-process, seeds spread over
worker processes.
"""

from __future__ import annotations

import os
import re
import tempfile
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from loop.bench.output import write_csv
from loop.design.datasets import PUBLIC_SCREENS

#: published hit ratios after 5 x 128 (Table 1 of Roohani et al. 2025; Gupta et al. 2025)
PUBLISHED: dict[str, list[tuple[str, str]]] = {
    "IFNG": [("random (published)", "0.037"), ("DiscoBAX (best classical)", "0.088"),
             ("BioDiscoveryAgent (LLM)", "0.095")],
    "IL2": [("random (published)", "0.031"), ("Coreset (best classical)", "0.102"),
            ("BioDiscoveryAgent (LLM)", "0.104-0.133"), ("GP (Gupta et al. 2025)", "0.226")],
}

#: single-gene screens of the shared data collection, by name (Horlbeck holds gene
#: PAIRS, a different design space, and is left out)
SCREENS = PUBLIC_SCREENS

#: the arm that stands for the shipped recipe: a spec that names no instrument,
#: strategy, round 0 or transform, so it gets the spec's defaults whatever they are
DEFAULT_ARM = "default"

#: arm options that go to the campaign spec rather than to the instrument or strategy
_SPEC_KEYS = {"initial": ("budget", "initial_strategy"), "share": ("budget", "essential_share"),
              "features": ("design_space", "features"), "transform": ("objective", "transform")}


@dataclass(frozen=True)
class Arm:
    """One contender: an instrument and a strategy, as named in a campaign spec."""

    label: str
    instrument: str | None
    strategy: str
    instrument_options: dict[str, Any] | None = None
    strategy_options: dict[str, Any] | None = None


def parse_arm(text: str) -> Arm:
    """Parse `default`, `random` or `INSTRUMENT:STRATEGY[:key=value,...]` (`linear:ucb:beta=1`).

    `default` is the shipped recipe: whatever a gene campaign that names nothing
    gets. Option keys the instrument takes (e.g. `calibrate`) go to the
    instrument, the others to the strategy, except the spec keys
    `initial=random|essential|mixed` and `share=` (round 0),
    `features=membership|svd` and `transform=none|log`.
    """
    if text == DEFAULT_ARM:
        return Arm(DEFAULT_ARM, None, DEFAULT_ARM)
    if text == "random":
        return Arm("random", None, "random")
    parts = text.split(":")
    if len(parts) < 2 or not all(parts[:2]):
        raise ValueError(f"arm '{text}': expected INSTRUMENT:STRATEGY[:k=v,...], default or "
                         "random")
    options: dict[str, Any] = {}
    for item in filter(None, (parts[2] if len(parts) > 2 else "").split(",")):
        key, _, value = item.partition("=")
        options[key] = _value(value)
    instrument_options = {k: options.pop(k) for k in list(options)
                          if k not in _SPEC_KEYS and k in _instrument_params(parts[0])}
    return Arm(text, parts[0], parts[1], instrument_options=instrument_options or None,
               strategy_options=options)


def _instrument_params(kind: str) -> set[str]:
    import inspect

    from instruments.registry import instrument_class

    try:
        return set(inspect.signature(instrument_class(kind)).parameters)
    except (KeyError, ValueError):
        return set()


def _value(text: str) -> Any:
    if text in ("true", "false"):
        return text == "true"
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def screen_spec(name: str, table: str, hits: str, arm: Arm, seed: int, rounds: int,
                batch_size: int) -> dict[str, Any]:
    """Build the campaign spec of one benchmark run."""
    spec: dict[str, Any] = {
        "name": re.sub(r"[^A-Za-z0-9_.-]", "-", f"bench-{name}-{arm.label}-{seed}")[:64],
        "design_space": {"kind": "genes", "table": table},
        "objective": {"kind": "hits", "top_fraction": 0.05},
        "budget": {"rounds": rounds, "batch_size": batch_size},
        "lab": {"kind": "simulated", "table": table, "poll_interval_s": 0.01},
        "reference": {"hits": hits},
        "seed": seed,
    }
    if arm.strategy == DEFAULT_ARM:
        return spec
    options = dict(arm.strategy_options or {})
    priors = str(options.pop("priors", "none"))
    spec["design_space"]["prior_screens"] = [] if priors == "none" else \
        prior_screens(name, table, priors)
    arm = Arm(arm.label, arm.instrument, arm.strategy, arm.instrument_options, options)
    if arm.instrument is None:
        spec["budget"]["initial_strategy"] = "random"
        spec["strategy"] = {"name": "random"}
    else:
        options = dict(arm.strategy_options or {})
        for key, (part, field) in _SPEC_KEYS.items():
            if key in options:
                spec[part][field] = options.pop(key)
        spec["instrument"] = {"kind": arm.instrument, "options": arm.instrument_options or {}}
        spec["strategy"] = {"name": arm.strategy, "options": options}
    return spec


def prior_screens(name: str, table: str, which: str) -> list[str]:
    """The earlier screens a benchmark run may learn from: never the screen it is scored on.

    `which` is `others` (every shared single-gene screen but this one) or
    screen names joined by `+` (`IL2+Wang14`); an arm without `priors=` has none.
    """
    names = [s for s in SCREENS if s != name] if which == "others" else which.split("+")
    unknown = [s for s in names if s not in SCREENS]
    if unknown:
        raise ValueError(f"priors: unknown screens {unknown}; known: {sorted(SCREENS)}")
    return [SCREENS[s][0] for s in names if s != name and SCREENS[s][0] != table]


def run_one(job: dict[str, Any]) -> list[dict[str, Any]]:
    """Run one campaign of the benchmark; return one row per round."""
    import torch

    torch.set_num_threads(1)
    from loop.campaign import Campaign
    from loop.run.lab import lookup_table
    from loop.campaign.spec import parse_spec
    from loop.campaign.store import SqlStore

    spec = parse_spec(job["spec"])
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        store = SqlStore(f"sqlite:///{tmp}/bench.db")
        calibration: dict[int, dict[str, float]] = {}

        def hook(step: str, r: int, info: dict[str, Any]) -> None:
            if step == "fit" and job["calibration"]:
                calibration[r] = _pool_calibration(campaign, truth)

        campaign = Campaign(spec, store, state_dir=Path(job["state_dir"]), compute="local",
                            hook=hook)
        truth = lookup_table(spec, None)
        campaign.run()
        for x in store.rounds(spec.name):
            rows.append({"screen": job["screen"], "arm": job["arm"], "seed": spec.seed,
                         **_round_row(x), **calibration.get(x.round, {})})
        store.close()
    return rows


def _round_row(x) -> dict[str, Any]:
    """The per-round columns of the benchmark's CSV, from a round summary."""
    return {"round": x.round, "n_measured": x.n_measured, "hits_found": x.hits_found,
            "n_hits": x.n_hits, "hit_ratio": x.hit_ratio, "fit_s": x.fit_s or 0.0,
            "propose_s": x.propose_s or 0.0}


def _pool_calibration(campaign, truth: dict[str, float]) -> dict[str, float]:
    """Coverage of 90% intervals and NLL over the genes not yet measured (truth known)."""
    import torch

    from loop.campaign.summary import calibration_figures

    asked = {e.candidate_id for e in campaign.store.experiments(campaign.spec.name)}
    rows = [i for i, cid in enumerate(campaign.design.ids) if cid not in asked and cid in truth]
    mean, sd = campaign.host.predict(torch.from_numpy(campaign.design.X[rows]).double())
    y = campaign.target(np.array([truth[campaign.design.ids[i]] for i in rows]))
    figures = calibration_figures(mean.numpy(), sd.numpy(), y)
    return {"pool_coverage90": figures["coverage90"], "pool_nll": figures["nll"]}


def run_benchmark(screens: dict[str, tuple[str, str]], arms: list[Arm], seeds: list[int], *,
                  rounds: int = 5, batch_size: int | None = None, workers: int = 2,
                  state_dir: Path, calibration: bool = True,
                  on_result: Callable[[list[dict[str, Any]]], None] | None = None,
                  ) -> list[dict[str, Any]]:
    """Run every (screen, arm, seed); return all per-round rows."""
    from loop.design.datasets import resolve

    jobs = []
    for screen, (table, hits) in screens.items():
        n_genes = sum(1 for _ in open(resolve(table))) - 1
        q = batch_size or (32 if n_genes < 2000 else 128)
        for arm in arms:
            for seed in seeds:
                jobs.append({"screen": screen, "arm": arm.label, "calibration": calibration,
                             "state_dir": str(state_dir),
                             "spec": screen_spec(screen, table, hits, arm, seed, rounds, q)})
    rows: list[dict[str, Any]] = []
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    if workers <= 1:
        for job in jobs:
            result = run_one(job)
            rows += result
            if on_result:
                on_result(result)
        return rows
    with ProcessPoolExecutor(max_workers=workers) as pool:
        for result in pool.map(run_one, jobs):
            rows += result
            if on_result:
                on_result(result)
    return rows


def summarise(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Final hit ratio (mean, sd), seconds per round, calibration, per screen and arm."""
    out = []
    keys = sorted({(r["screen"], r["arm"]) for r in rows})
    for screen, arm in keys:
        mine = [r for r in rows if r["screen"] == screen and r["arm"] == arm]
        last = max(r["round"] for r in mine)
        finals = [r["hit_ratio"] for r in mine if r["round"] == last]
        guided = [r for r in mine if r["round"] > 0]
        cover = [r["pool_coverage90"] for r in guided if "pool_coverage90" in r]
        out.append({
            "screen": screen, "arm": arm, "n_seeds": len(finals),
            "hit_ratio_mean": float(np.mean(finals)), "hit_ratio_sd": float(np.std(finals)),
            "round_s_mean": float(np.mean([r["fit_s"] + r["propose_s"] for r in guided]))
            if guided else 0.0,
            "round_s_max": float(max((r["fit_s"] + r["propose_s"] for r in guided),
                                     default=0.0)),
            "pool_coverage90": float(np.mean(cover)) if cover else None,
            "pool_nll": float(np.mean([r["pool_nll"] for r in guided if "pool_nll" in r]))
            if cover else None,
        })
    return out


def write_outputs(rows: list[dict[str, Any]], out_dir: Path) -> dict[str, Path]:
    """Write per-round rows and the summary as CSV, and the discovery plot as PNG."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"rounds": out_dir / "screen_rounds.csv", "summary": out_dir / "screen_summary.csv",
             "plot": out_dir / "screen_hits.png"}
    write_csv(paths["rounds"], rows)
    write_csv(paths["summary"], summarise(rows))
    _plot(rows, paths["plot"])
    return paths


def _plot(rows: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    screens = sorted({r["screen"] for r in rows})
    fig, axes = plt.subplots(1, len(screens), figsize=(5 * len(screens), 4), squeeze=False)
    for ax, screen in zip(axes[0], screens):
        for arm in sorted({r["arm"] for r in rows if r["screen"] == screen}):
            mine = [r for r in rows if r["screen"] == screen and r["arm"] == arm]
            rounds = sorted({r["round"] for r in mine})
            hits = np.array([[r["hits_found"] for r in mine if r["round"] == k] for k in rounds])
            ax.errorbar([k + 1 for k in rounds], hits.mean(axis=1), yerr=hits.std(axis=1),
                        marker="o", capsize=3, label=arm)
        ax.set_title(screen)
        ax.set_xlabel("round")
        ax.set_ylabel("hits found (mean ± sd over seeds)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
