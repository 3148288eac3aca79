"""Read CSV tables whose id columns are names, never numbers or missing values.

pandas reads the gene `NA` (or `NULL`, `nan`, ...) as a missing value and
`1`-like ids as numbers. Id columns are read as plain strings here, while the
other columns keep pandas' usual missing-value tokens, and a table that cannot
be used fails with a one-line `ValueError` that names the file.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

#: pandas' default missing-value tokens, kept for every column but the ids
NA_TOKENS = ["", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND",
             "1.#QNAN", "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null"]


def read_table(path: str | Path, id_columns: Sequence[str]) -> pd.DataFrame:
    """Read a CSV, with `id_columns` as strings (a gene named `NA` stays `"NA"`).

    Raises:
        ValueError: one line naming the file, if it cannot be parsed, or lacks
            an id column, or has an empty id.
    """
    path = Path(path)
    try:
        header = list(pd.read_csv(path, nrows=0).columns)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: not a readable CSV table ({_first_line(exc)})") from None
    missing = [c for c in id_columns if c not in header]
    if missing:
        raise ValueError(f"{path}: no column {', '.join(map(repr, missing))} (has {header})")
    try:
        frame = pd.read_csv(path, dtype={c: str for c in id_columns}, keep_default_na=False,
                            na_values={c: NA_TOKENS for c in header if c not in id_columns})
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        raise ValueError(f"{path}: not a readable CSV table ({_first_line(exc)})") from None
    for col in id_columns:
        frame[col] = frame[col].str.strip()
        empty = int((frame[col] == "").sum())
        if empty:
            raise ValueError(f"{path}: {empty} row(s) with an empty '{col}'")
    return frame


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
