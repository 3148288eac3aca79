"""Two small real campaigns to draw: a CRISPR screen (hits) and a reaction (maximise yield)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest


@dataclass
class Drawn:
    """A campaign that has run, with its store."""

    name: str
    store: Any
    campaign: Any
    url: str


def _run(tmp: Path, raw: dict) -> Drawn:
    from loop.campaign import Campaign
    from loop.campaign.spec import parse_spec
    from loop.campaign.store import SqlStore

    url = f"sqlite:///{tmp}/store.db"
    store = SqlStore(url)
    campaign = Campaign(parse_spec(raw), store, state_dir=tmp, compute="local")
    assert campaign.run() == "done"
    campaign.close()
    return Drawn(raw["name"], store, campaign, url)


def screen_spec(data: Path) -> dict:
    """The 1,061-gene Scharenberg screen, 2 rounds x 8, answered by the simulated lab."""
    screens = data / "screens"
    return {
        "name": "screen", "description": "Scharenberg 2022 screen, 2 x 8",
        "design_space": {"kind": "genes", "table": str(screens / "ground_truth_Scharenberg22.csv"),
                         "gene_sets": [str(data / "genesets" / "ReactomePathways.gmt")],
                         "essential_genes": str(screens / "CEGv2.txt")},
        "objective": {"kind": "hits", "top_fraction": 0.05, "transform": "log"},
        "budget": {"rounds": 2, "batch_size": 8},
        "strategy": {"name": "ucb", "options": {"beta": 0.25}},
        "lab": {"kind": "simulated", "table": str(screens / "ground_truth_Scharenberg22.csv"),
                "poll_interval_s": 0.01},
        "reference": {"hits": str(screens / "topmovers_Scharenberg22.npy")},
        "seed": 3,
    }


def reaction_spec(data: Path, **objective: Any) -> dict:
    """Direct arylation (Shields 2021), 3 rounds x 5, yields on a log target."""
    d = data / "reactions" / "direct_arylation"
    return {
        "name": "arylation", "description": "direct arylation, maximise yield",
        "design_space": {"kind": "reactions", "table": str(d / "experiment_index.csv"), "factors": [
            {"name": "base", "column": "Base_SMILES", "descriptors": str(d / "base_dft.csv")},
            {"name": "ligand", "column": "Ligand_SMILES",
             "descriptors": str(d / "ligand-boltzmann_dft.csv")},
            {"name": "solvent", "column": "Solvent_SMILES",
             "descriptors": str(d / "solvent_dft.csv")},
            {"name": "concentration", "column": "Concentration", "kind": "numeric"},
            {"name": "temperature", "column": "Temp_C", "kind": "numeric"}]},
        "objective": {"kind": "maximize", "transform": "log", **objective},
        "budget": {"rounds": 3, "batch_size": 5, "initial_strategy": "random"},
        "instrument": {"kind": "gp", "options": {"fit": "scipy", "maxiter": 50,
                                                 "normalize_inputs": False}},
        "strategy": {"name": "ei"},
        "lab": {"kind": "simulated", "table": str(d / "experiment_index.csv"),
                "value_column": "yield", "poll_interval_s": 0.001},
        "seed": 0,
    }


@pytest.fixture(scope="session")
def screen(shared_data, tmp_path_factory) -> Drawn:
    return _run(tmp_path_factory.mktemp("screen"), screen_spec(shared_data))


@pytest.fixture(scope="session")
def reaction(shared_data, tmp_path_factory) -> Drawn:
    return _run(tmp_path_factory.mktemp("reaction"), reaction_spec(shared_data))


@pytest.fixture(scope="session")
def tradeoff(shared_data, tmp_path_factory) -> Drawn:
    """Direct arylation, 2 x 5, yield traded against a made-up ligand cost (10 per ligand)."""
    import numpy as np
    import pandas as pd

    tmp = tmp_path_factory.mktemp("tradeoff")
    d = shared_data / "reactions" / "direct_arylation"
    ligands = sorted(pd.read_csv(d / "experiment_index.csv")["Ligand_SMILES"].unique())
    costs = tmp / "ligand_cost.csv"
    pd.DataFrame({"smiles": ligands, "cost": np.arange(len(ligands)) * 10.0}).to_csv(
        costs, index=False)
    raw = reaction_spec(shared_data, secondary=[{"attribute": "cost", "direction": "minimize"}])
    raw["name"] = "tradeoff"
    raw["objective"].pop("transform")
    raw["design_space"]["factors"][1]["attributes"] = str(costs)
    raw["budget"]["rounds"] = 2
    return _run(tmp, raw)
