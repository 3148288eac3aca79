"""A small real campaign: the 1,061-gene Scharenberg screen."""

from __future__ import annotations

import pytest

from loop.campaign.spec import parse_spec


def small_spec(shared_data, **overrides) -> "object":
    screens = shared_data / "screens"
    raw = {
        "name": "scharenberg-test",
        "design_space": {
            "kind": "genes",
            "table": str(screens / "ground_truth_Scharenberg22.csv"),
            "gene_sets": [str(shared_data / "genesets" / "ReactomePathways.gmt")],
            "essential_genes": str(screens / "CEGv2.txt"),
        },
        "objective": {"kind": "hits", "top_fraction": 0.05, "transform": "log"},
        "budget": {"rounds": 3, "batch_size": 32},
        "strategy": {"name": "ucb", "options": {"beta": 0.25}},
        "lab": {"kind": "simulated", "table": str(screens / "ground_truth_Scharenberg22.csv"),
                "poll_interval_s": 0.01},
        "reference": {"hits": str(screens / "topmovers_Scharenberg22.npy")},
        "seed": 3,
    }
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(raw.get(key), dict):
            raw[key] = {**raw[key], **value}
        else:
            raw[key] = value
    return parse_spec(raw)


@pytest.fixture
def make_spec(shared_data):
    return lambda **overrides: small_spec(shared_data, **overrides)
