"""What people read: the round table (console, report, benchmarks), the charts and the HTML report.

The charts import plotly, so they load on first use: `loopwell status` (which
reads the round table) starts without it.
"""

from importlib import import_module
from typing import Any

from loop.report.table import Table, round_table

_LAZY = {"CampaignView": "view", "campaign_view": "view", "campaign_figures": "figures",
         "figures_json": "figures", "render_page": "html", "write_report": "html"}

__all__ = ["CampaignView", "Table", "campaign_figures", "campaign_view", "figures_json",
           "render_page", "round_table", "write_report"]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(f"loop.report.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'loop.report' has no attribute {name!r}")
