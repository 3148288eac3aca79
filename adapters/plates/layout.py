"""Plate layouts: where each sample, replicate and control of a batch goes.

A layout is a pure function of its inputs: the same experiments, controls,
plate format and seed give the same plates, well for well. That is what lets
an adapter restarted after a crash (kill -9 between writing the worklist and
saving its state) re-plan a resubmitted batch into exactly the plate it had
already handed out, instead of a second one.

Wells are named as readers and robots name them: a row letter and a column
number without padding (``A1`` .. ``H12`` on 96 wells, ``A1`` .. ``P24`` on 384).
"""

from __future__ import annotations

import hashlib
import random
import re
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

#: rows x columns of each plate format
FORMATS: dict[int, tuple[int, int]] = {96: (8, 12), 384: (16, 24)}
_WELL = re.compile(r"^\s*([A-Pa-p])\s*0*([1-9][0-9]?)\s*$")


class Role(StrEnum):
    """What a well holds."""

    SAMPLE = "sample"
    POSITIVE = "positive"
    NEGATIVE = "negative"


class Well(BaseModel):
    """One filled well of a plate."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    well: str
    role: Role
    candidate_id: str
    experiment_id: str | None = None  # None for controls
    replicate: int = Field(0, ge=0)


class PlateMap(BaseModel):
    """One plate: its id, its format and its filled wells (the rest are empty)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    plate_id: str
    n_wells: Literal[96, 384]
    wells: list[Well]

    def by_well(self) -> dict[str, Well]:
        """Return the filled wells by name."""
        return {w.well: w for w in self.wells}

    def experiment_ids(self) -> list[str]:
        """Return the experiments on the plate, in first-well order, each once."""
        return list(dict.fromkeys(w.experiment_id for w in self.wells if w.experiment_id))


class Sample(BaseModel):
    """An experiment to place: its id and the perturbation it asks for."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    experiment_id: str
    candidate_id: str


def well_names(n_wells: int) -> list[str]:
    """Return every well of a plate format, row by row (``A1, A2, ..``)."""
    n_rows, n_cols = FORMATS[n_wells]
    return [f"{chr(65 + r)}{c + 1}" for r in range(n_rows) for c in range(n_cols)]


def is_edge(well: str, n_wells: int) -> bool:
    """Return whether a well is on the outer ring of its plate (prone to evaporation)."""
    n_rows, n_cols = FORMATS[n_wells]
    row, col = split_well(well)
    return row in (0, n_rows - 1) or col in (1, n_cols)


def split_well(name: str) -> tuple[int, int]:
    """Return (row index from 0, column number from 1) of a well name like ``B07``.

    Raises:
        ValueError: If the name is not a row letter and a column number.
    """
    match = _WELL.match(name)
    if match is None:
        raise ValueError(f"'{name}' is not a well name (a row letter A-P and a column 1-24)")
    return ord(match[1].upper()) - 65, int(match[2])


def normalise_well(name: str, n_wells: int) -> str:
    """Return the canonical name of a well (``b07`` -> ``B7``), checked against the format.

    Raises:
        ValueError: If the name is not a well of an `n_wells` plate.
    """
    row, col = split_well(name)
    n_rows, n_cols = FORMATS[n_wells]
    if row >= n_rows or col > n_cols:
        raise ValueError(f"well '{name.strip()}' is not on a {n_wells}-well plate")
    return f"{chr(65 + row)}{col}"


def usable_wells(n_wells: int, *, skip_edges: bool) -> list[str]:
    """Return the wells a layout may fill."""
    return [w for w in well_names(n_wells) if not (skip_edges and is_edge(w, n_wells))]


def plates_needed(n_samples: int, *, n_wells: int, n_replicates: int, n_positive: int,
                  n_negative: int, skip_edges: bool) -> int:
    """Return how many plates a batch of `n_samples` takes (each plate has its controls).

    Raises:
        ValueError: If not even one sample fits on a plate beside its controls.
    """
    per_plate = samples_per_plate(n_wells=n_wells, n_replicates=n_replicates,
                                  n_positive=n_positive, n_negative=n_negative,
                                  skip_edges=skip_edges)
    return -(-n_samples // per_plate)


def samples_per_plate(*, n_wells: int, n_replicates: int, n_positive: int, n_negative: int,
                      skip_edges: bool) -> int:
    """Return how many samples (with all their replicates) fit on one plate.

    Raises:
        ValueError: If none does.
    """
    free = len(usable_wells(n_wells, skip_edges=skip_edges)) - n_positive - n_negative
    per_plate = free // n_replicates
    if per_plate < 1:
        raise ValueError(f"no sample fits on a {n_wells}-well plate with {n_positive} positive "
                         f"and {n_negative} negative controls, {n_replicates} replicates"
                         f"{' and empty edges' if skip_edges else ''}")
    return per_plate


def plan_plates(samples: list[Sample], *, plate_ids: list[str], n_wells: Literal[96, 384],
                n_replicates: int, positive: list[str], n_positive: int, negative: list[str],
                n_negative: int, skip_edges: bool, seed: int) -> list[PlateMap]:
    """Lay samples out on plates, in order, each plate with its own controls.

    Samples fill plates in the order given; on each plate every content
    (each sample's replicates, the controls) is placed at random over the
    usable wells, drawn from `seed` and the plate id, so the same call gives
    the same plates. Controls cycle through the names given (4 positive
    controls of ``["CTRL+"]`` are 4 wells of ``CTRL+``).

    Args:
        samples: The experiments, in the order to plate them.
        plate_ids: One id per plate (`plates_needed` of them).
        positive: Candidate ids (or names) of the positive controls.
        negative: Candidate ids (or names) of the negative controls.

    Raises:
        ValueError: If the ids do not match the plates needed, or no sample fits.
    """
    per_plate = samples_per_plate(n_wells=n_wells, n_replicates=n_replicates,
                                  n_positive=n_positive, n_negative=n_negative,
                                  skip_edges=skip_edges)
    chunks = [samples[i:i + per_plate] for i in range(0, len(samples), per_plate)]
    if len(chunks) != len(plate_ids):
        raise ValueError(f"{len(samples)} samples need {len(chunks)} plates, "
                         f"got {len(plate_ids)} plate ids")
    return [_plan_one(chunk, plate_id, n_wells=n_wells, n_replicates=n_replicates,
                      positive=positive, n_positive=n_positive, negative=negative,
                      n_negative=n_negative, skip_edges=skip_edges, seed=seed)
            for chunk, plate_id in zip(chunks, plate_ids)]


def _plan_one(samples: list[Sample], plate_id: str, *, n_wells: Literal[96, 384],
              n_replicates: int, positive: list[str], n_positive: int, negative: list[str],
              n_negative: int, skip_edges: bool, seed: int) -> PlateMap:
    contents: list[tuple[Role, str, str | None, int]] = [
        (Role.POSITIVE, positive[k % len(positive)], None, 0) for k in range(n_positive)]
    contents += [(Role.NEGATIVE, negative[k % len(negative)], None, 0)
                 for k in range(n_negative)]
    contents += [(Role.SAMPLE, s.candidate_id, s.experiment_id, r)
                 for s in samples for r in range(n_replicates)]
    wells = usable_wells(n_wells, skip_edges=skip_edges)
    _shuffler(seed, plate_id).shuffle(wells)
    placed = sorted(zip(wells, contents), key=lambda pair: split_well(pair[0]))
    return PlateMap(plate_id=plate_id, n_wells=n_wells, wells=[
        Well(well=well, role=role, candidate_id=cid, experiment_id=eid, replicate=rep)
        for well, (role, cid, eid, rep) in placed])


def _shuffler(seed: int, plate_id: str) -> random.Random:
    """Return a generator fixed by the seed and the plate (independent of Python's hash seed)."""
    digest = hashlib.sha256(f"{seed}\x1f{plate_id}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))
