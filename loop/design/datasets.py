"""Find the real published data a campaign reads, locally or from its public source.

A data reference is either a plain path (relative to the campaign file) or
`data:RELATIVE/PATH`, a file of the data collection described in
`../shared/data/README.md`. Those are looked up, in order, in `$LOOPWELL_DATA`,
in `shared/data` beside the project checkout or the current directory, and
finally fetched with pooch from the public repository they were published in,
checked against a SHA-256 checksum and cached in the state folder.
"""

from __future__ import annotations

import os
from pathlib import Path

DATA_PREFIX = "data:"

_BDA = "https://raw.githubusercontent.com/snap-stanford/BioDiscoveryAgent/19673c7/datasets/"
_PWS = "https://raw.githubusercontent.com/pavanish/PathwayScore/4cda2d9/"

#: relative path -> (public URL, sha256)
REMOTE: dict[str, tuple[str, str]] = {
    "screens/ground_truth_IFNG.csv": (
        _BDA + "ground_truth_IFNG.csv",
        "89c363b196976bd5d4574c0edb3447e1f93c3075ccff94f031066d2aa4cdb333"),
    "screens/ground_truth_IL2.csv": (
        _BDA + "ground_truth_IL2.csv",
        "40b27104ea01f9e38d42822a1021cee00529dca34fcf2c9cca7bd4bd79622503"),
    "screens/ground_truth_Scharenberg22.csv": (
        _BDA + "ground_truth_Scharenberg22.csv",
        "8af56bc1b87f446a1c5fb87f9a48d96a28d32baff228f2cbe2fea24559d08255"),
    "screens/ground_truth_Horlbeck.csv": (
        _BDA + "ground_truth_Horlbeck.csv",
        "c54185ba5b417353480dc322b51ac786727983298f5fe115d1341d3c6e90f50e"),
    "screens/topmovers_IFNG.npy": (
        _BDA + "topmovers_IFNG.npy",
        "dce64c81e702c8f8888f925432041921dd205ed880a72898916a7e39eeddaa35"),
    "screens/topmovers_IL2.npy": (
        _BDA + "topmovers_IL2.npy",
        "f9f55cdc3f8efed82abaaeaaf770824f0b87d8298391a7b40e39286d3ab83ed1"),
    "screens/topmovers_Scharenberg22.npy": (
        _BDA + "topmovers_Scharenberg22.npy",
        "2d303eceb30f102c1c1b11fb616311648c072328df496febfb684b00cd3f0692"),
    "screens/topmovers_Horlbeck.npy": (
        _BDA + "topmovers_Horlbeck.npy",
        "042b7d95ba28c9b5db96069658f09698fdcf63ba09456a4326ea2ccbe1c4129a"),
    "genesets/ReactomePathways.gmt": (
        _PWS + "ReactomePathways.gmt",
        "33485348e80a24d8d875bb1c858b653bdd7447a4ed098d982b090f318f89bac7"),
    "genesets/wikipathway.v7.2.symbols.gmt": (
        _PWS + "wikipathway.v7.2.symbols.gmt",
        "b654dfcffe026296be832278652650ca9e2058f8c73f49bcdffeced6b82386c7"),
}


#: single-gene screens of the data collection, by name: (table, hits). Horlbeck
#: holds gene PAIRS (a different design space) and is not among them.
PUBLIC_SCREENS: dict[str, tuple[str, str]] = {
    name: (f"data:screens/ground_truth_{name}.csv", f"data:screens/topmovers_{name}.npy")
    for name in ("IFNG", "IL2", "Scharenberg22", "Zhu21", "Zhuang19", "Wang14")
}


class DataNotFoundError(FileNotFoundError):
    """Raised when a data file is neither local nor fetchable."""


def data_roots() -> list[Path]:
    """Return the local folders searched for `data:` references, in order."""
    roots: list[Path] = []
    if env := os.environ.get("LOOPWELL_DATA"):
        roots.append(Path(env))
    project = Path(__file__).resolve().parents[2]
    for base in (project, Path.cwd()):
        roots.append(base.parent / "shared" / "data")
        roots.append(base / "shared" / "data")
    return roots


def resolve(ref: str | Path, base_dir: Path | None = None, *, allow_fetch: bool = True) -> Path:
    """Return a local path for a data reference, fetching it if it must.

    Args:
        ref: `data:screens/ground_truth_IFNG.csv` or a file path.
        base_dir: folder that relative plain paths are relative to.
        allow_fetch: whether a missing `data:` file may be downloaded.
    """
    text = str(ref)
    if not text.startswith(DATA_PREFIX):
        path = Path(text).expanduser()
        if not path.is_absolute() and base_dir is not None:
            path = base_dir / path
        if not path.exists():
            raise DataNotFoundError(f"data file not found: {path}")
        return path
    rel = _inside(text[len(DATA_PREFIX):])
    for root in data_roots():
        if (root / rel).exists():
            return root / rel
    if rel not in REMOTE:
        raise DataNotFoundError(
            f"{text}: not found in {[str(r) for r in data_roots()]} and no public "
            "source is known for it; pass a path to the file instead"
        )
    if not allow_fetch or os.environ.get("LOOPWELL_OFFLINE"):
        raise DataNotFoundError(f"{text}: not found locally and fetching is disabled")
    return _fetch(rel)


def _inside(rel: str) -> str:
    """Return a `data:` reference's path, refusing one that leaves the data folder."""
    parts = Path(rel.replace("\\", "/")).parts
    if not parts or Path(rel).is_absolute() or rel.startswith(("/", "~")) or ".." in parts:
        raise DataNotFoundError(
            f"data:{rel}: a data: reference names a file inside the data folder "
            "(e.g. data:screens/ground_truth_IFNG.csv); give any other file as a path")
    return "/".join(parts)


def _fetch(rel: str) -> Path:
    import pooch

    from loop.run.settings import state_dir

    url, sha256 = REMOTE[rel]
    cache = state_dir() / "data-cache"
    fname = rel.replace("/", "__")
    return Path(pooch.retrieve(url, known_hash=f"sha256:{sha256}", fname=fname, path=cache))


class TableError(ValueError):
    """A table a campaign reads that cannot be used; the message says which and why."""


#: what pandas reads as missing in a numeric column (ids are never missing: `NA` is a gene)
_MISSING = ["", "NA", "N/A", "NaN", "nan", "null", "NULL", "None", "-"]


def read_table(path: Path, columns: list[str], *, ids: str | None = None,
               numeric: list[str] | tuple[str, ...] = ()):
    """Read a CSV table a campaign names, checking what it needs of it.

    Ids are read as strings, always (a gene named `NA` stays `NA`); `numeric`
    columns must hold numbers (empty or `NA` cells are missing values).

    Args:
        path: the CSV file.
        columns: columns it must have.
        ids: the id column, read as strings.
        numeric: columns that must hold numbers.

    Raises:
        TableError: one line naming the file and what is wrong.
    """
    import pandas as pd

    try:
        frame = pd.read_csv(path, dtype={ids: str} if ids else None, keep_default_na=False,
                            na_values={c: _MISSING for c in numeric})
    except pd.errors.EmptyDataError:
        raise TableError(f"{path}: the file is empty; expected a CSV table with columns "
                         f"{', '.join(columns)}") from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        raise TableError(f"{path}: not a readable CSV table "
                         f"({str(exc).strip().splitlines()[0][:120]})") from None
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise TableError(f"{path}: no column {', '.join(repr(c) for c in missing)}; it has "
                         f"{', '.join(map(str, list(frame.columns)[:12]))}")
    if frame.empty:
        raise TableError(f"{path}: the table has a header but no rows")
    for col in numeric:
        values = pd.to_numeric(frame[col], errors="coerce")
        bad = values.isna() & frame[col].notna()
        if bad.any():
            row = int(bad.to_numpy().nonzero()[0][0])
            raise TableError(f"{path}: column '{col}' must hold numbers, but row {row + 2} has "
                             f"{str(frame[col].iloc[row])[:40]!r}")
        frame[col] = values
    return frame
