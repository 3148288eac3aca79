"""Plate-reader exports: the two shapes readers write, read into well -> value.

Two shapes are read, whichever the file is (it is told by its content, not
its name):

- **long**: a CSV (comma, semicolon or tab) with a header row naming a
  ``well`` column and a ``value`` column (any case; ``plate`` optional; the
  value column may be named otherwise, e.g. ``Abs 450``), one well per row::

      plate,well,value
      ifng-r0-j1-p1,A1,0.734

- **grid**: what readers write as their plate view: lines of metadata
  (``Plate ID: ifng-r0-j1-p1``, ``Wavelength,450``), then a header row of the
  column numbers 1-12 (or 1-24) after one leading cell, then one row per
  plate row, led by its letter A-H (or A-P). Only the first grid of a file is
  read (readers that export several reads write one grid per read).

The plate a file belongs to is named, in this order of precedence, by a
``plate`` column, by a metadata line keyed ``plate``, ``plate id``,
``plate name`` or ``barcode``, or else by the file's name containing the
plate id. A cell that is not a number (``OVRFLW``, ``-``, empty) is kept as
None with its text, so the adapter can say which well failed and why.

Pure functions from bytes; nothing here touches the file system.
"""

from __future__ import annotations

import csv
import io
import math
import re
from dataclasses import dataclass, field

from adapters.plates.layout import FORMATS, normalise_well

_PLATE_KEYS = {"plate", "plate id", "plate_id", "plateid", "plate name", "plate barcode",
               "barcode"}
_META = re.compile(r"^\s*([A-Za-z][A-Za-z _]{0,30}?)\s*[:=]\s*(.+?)\s*$")


class UnreadableFile(ValueError):
    """A file that is not a plate-reader export loopwell reads (the message says why)."""


@dataclass
class ReaderFile:
    """What one export holds.

    Attributes:
        shape: ``long`` or ``grid``.
        plate_id: The plate the file names inside (None: it does not).
        values: Well (canonical name) -> value, None where the cell is not a number.
        texts: Well -> the cell's text, for cells that are not numbers.
        n_wells: The plate format of a grid (None for a long file).
    """

    shape: str
    plate_id: str | None
    values: dict[str, float | None] = field(default_factory=dict)
    texts: dict[str, str] = field(default_factory=dict)
    n_wells: int | None = None


def decode(data: bytes) -> str:
    """Return the text of an export: UTF-8 (with or without BOM), UTF-16 with a BOM, or Latin-1."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def read_export(data: bytes, *, value_column: str = "value") -> ReaderFile:
    """Read one export, long or grid.

    Args:
        data: The file's bytes.
        value_column: Header of the values' column of a long export (any case).

    Raises:
        UnreadableFile: If the bytes are neither shape, or a shape is broken
            (a well twice, a well not on the plate), with a one-line reason.
    """
    if b"\x00" in data and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise UnreadableFile("a binary file, not a text export of a plate reader")
    try:
        text = decode(data)
    except UnicodeDecodeError:
        raise UnreadableFile("not text in UTF-8, UTF-16 or Latin-1") from None
    rows = _rows(text)
    for k, row in enumerate(rows):
        cells = [c.strip().lower() for c in row]
        if "well" in cells and value_column.strip().lower() in cells:
            return _read_long(rows[k:], metadata=rows[:k], value_column=value_column)
    for k, row in enumerate(rows):
        n_cols = _grid_header(row)
        if n_cols:
            return _read_grid(rows, k, n_cols)
    raise UnreadableFile("not a plate-reader export loopwell reads: no header row with "
                         f"'well' and '{value_column}' columns, and no plate grid (a row of "
                         "column numbers 1-12 or 1-24, then rows lettered A-H or A-P)")


def _rows(text: str) -> list[list[str]]:
    lines = text.splitlines()
    sample = "\n".join(lines[:50])
    delimiter = max((",", ";", "\t"), key=sample.count)
    return [row for row in csv.reader(io.StringIO(text), delimiter=delimiter)]


def _read_long(rows: list[list[str]], metadata: list[list[str]],
               value_column: str) -> ReaderFile:
    header = [c.strip().lower() for c in rows[0]]
    i_well, i_value = header.index("well"), header.index(value_column.strip().lower())
    i_plate = header.index("plate") if "plate" in header else None
    plates: set[str] = set()
    out = ReaderFile(shape="long", plate_id=None)
    for n, row in enumerate(rows[1:], start=2):
        if not any(c.strip() for c in row):
            continue
        if len(row) <= max(i_well, i_value):
            raise UnreadableFile(f"row {n} of the well,value table has {len(row)} cells, "
                                 f"fewer than the header's {len(header)}")
        well = _well(row[i_well], 384, f"row {n}")
        if well in out.values or well in out.texts:
            raise UnreadableFile(f"well {well} appears twice (row {n}); one value per well")
        _put(out, well, row[i_value])
        if i_plate is not None and row[i_plate].strip():
            plates.add(row[i_plate].strip())
    if len(plates) > 1:
        raise UnreadableFile(f"the file mixes plates {sorted(plates)[:4]}; export one plate "
                             "per file")
    out.plate_id = next(iter(plates), None) or _plate_from_metadata(metadata)
    if not out.values and not out.texts:
        raise UnreadableFile("the well,value table has no rows")
    return out


def _grid_header(row: list[str]) -> int | None:
    """Return 12 or 24 if the row is a grid's column header (blank-ish first cell, then 1..n)."""
    cells = [c.strip() for c in row]
    while cells and not cells[-1]:
        cells.pop()
    numbers = cells[1:]
    if len(numbers) in (12, 24) and numbers == [str(k) for k in range(1, len(numbers) + 1)]:
        return len(numbers)
    return None


def _read_grid(rows: list[list[str]], at: int, n_cols: int) -> ReaderFile:
    n_wells = 96 if n_cols == 12 else 384
    n_rows = FORMATS[n_wells][0]
    out = ReaderFile(shape="grid", plate_id=_plate_from_metadata(rows[:at]), n_wells=n_wells)
    body = rows[at + 1:at + 1 + n_rows]
    for r, row in enumerate(body):
        letter = chr(65 + r)
        if not row or row[0].strip().upper() != letter:
            got = row[0].strip() if row else "an empty line"
            raise UnreadableFile(f"grid row {r + 1} should start with '{letter}', found "
                                 f"'{got[:20]}'; a {n_wells}-well grid has rows A-"
                                 f"{chr(64 + n_rows)}")
        cells = row[1:1 + n_cols]
        if len(cells) < n_cols:
            raise UnreadableFile(f"grid row {letter} has {len(cells)} values, not {n_cols}")
        for c, cell in enumerate(cells, start=1):
            _put(out, f"{letter}{c}", cell)
    if len(body) < n_rows:
        raise UnreadableFile(f"the grid stops after {len(body)} rows; a {n_wells}-well grid "
                             f"has {n_rows}")
    return out


def _put(out: ReaderFile, well: str, cell: str) -> None:
    text = cell.strip()
    try:
        value = float(text.replace(",", ".")) if text.count(",") == 1 and "." not in text \
            else float(text)
    except ValueError:
        value = None
    if value is not None and not math.isfinite(value):
        value = None
    out.values[well] = value
    if value is None:
        out.texts[well] = text[:40] or "empty"


def _well(name: str, n_wells: int, where: str) -> str:
    try:
        return normalise_well(name, n_wells)
    except ValueError as error:
        raise UnreadableFile(f"{where}: {error}") from None


def _plate_from_metadata(rows: list[list[str]]) -> str | None:
    for row in rows:
        cells = [c.strip() for c in row if c.strip()]
        if not cells:
            continue
        if len(cells) >= 2 and cells[0].rstrip(":").strip().lower() in _PLATE_KEYS:
            return cells[1]
        match = _META.match(cells[0])
        if match and match[1].strip().lower() in _PLATE_KEYS:
            return match[2]
    return None
