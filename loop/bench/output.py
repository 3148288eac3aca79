"""What every benchmark writes: CSV tables of dict rows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd


def write_csv(path: Path, rows: list[dict[str, Any]]) -> Path:
    """Write `rows` as CSV; columns are every key, in order of first appearance."""
    pd.DataFrame.from_records(rows).to_csv(path, index=False)
    return path
