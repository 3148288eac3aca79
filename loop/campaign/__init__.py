"""The campaign and its store: the spec, the objective, one round, the store seam.

Names are loaded on first use, so that `loop.design` may import the spec
without importing the campaign (which imports `loop.design`).
"""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    "Campaign": "campaign", "Hook": "campaign", "StepRunner": "campaign",
    "CampaignRecord": "records", "Experiment": "records", "Measurement": "records",
    "Rejected": "records",
    "CampaignSpec": "spec", "SpecError": "spec", "load_spec": "spec", "parse_spec": "spec",
    "CampaignStatus": "states", "ExperimentState": "states", "RoundStatus": "states",
    "SqlStore": "store", "Store": "store", "StoreError": "store",
    "RoundSummary": "summary",
}
__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'loop.campaign' has no attribute {name!r}")
    return getattr(importlib.import_module(f"loop.campaign.{_WHERE[name]}"), name)
