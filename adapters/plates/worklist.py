"""Worklists: the transfers that fill a plate, as a liquid handler or a person follows them.

Each distinct perturbation of a plate (controls first, then samples in plate
order) gets one well of a source plate (96 wells, or 384 when more than 96
are needed); each filled well of the assay plate gets one transfer from its
source. The CSV has one row per transfer, in destination order::

    step,plate_id,source_labware,source_well,destination_well,candidate_id,role,experiment_id,replicate,volume_ul
    1,ifng-r0-j1-p1,source,A1,A3,KO:ZAP70,sample,ifng-r0-0007,0,5.0

Pure functions over a `PlateMap`; the adapter writes the text.
"""

from __future__ import annotations

import csv
import io

from pydantic import BaseModel, ConfigDict

from adapters.plates.layout import PlateMap, Role, split_well, well_names

COLUMNS = ("step", "plate_id", "source_labware", "source_well", "destination_well",
           "candidate_id", "role", "experiment_id", "replicate", "volume_ul")


class Transfer(BaseModel):
    """One transfer from the source plate into the assay plate."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    step: int
    source_well: str
    destination_well: str
    candidate_id: str
    role: Role
    experiment_id: str | None
    replicate: int
    volume_ul: float


def source_wells(plate: PlateMap) -> dict[str, str]:
    """Return the source well of each distinct perturbation of a plate.

    Controls come first (positive, then negative), then samples in the order
    of their first well, so the source plate reads like the layout.
    """
    order = {Role.POSITIVE: 0, Role.NEGATIVE: 1, Role.SAMPLE: 2}
    wells = sorted(plate.wells, key=lambda w: (order[w.role], split_well(w.well)))
    candidates = list(dict.fromkeys(w.candidate_id for w in wells))
    n_source = 96 if len(candidates) <= 96 else 384
    if len(candidates) > n_source:  # a 384-well assay plate holds at most 384
        raise ValueError(f"{len(candidates)} perturbations do not fit one source plate")
    return dict(zip(candidates, well_names(n_source)))


def source_format(plate: PlateMap) -> int:
    """Return the wells of the source plate a plate needs (96 or 384)."""
    return 96 if len(source_wells(plate)) <= 96 else 384


def transfers(plate: PlateMap, *, volume_ul: float) -> list[Transfer]:
    """Return the transfers that fill a plate, in destination order."""
    sources = source_wells(plate)
    return [Transfer(step=k + 1, source_well=sources[w.candidate_id], destination_well=w.well,
                     candidate_id=w.candidate_id, role=w.role, experiment_id=w.experiment_id,
                     replicate=w.replicate, volume_ul=volume_ul)
            for k, w in enumerate(sorted(plate.wells, key=lambda w: split_well(w.well)))]


def worklist_csv(plate: PlateMap, *, volume_ul: float) -> str:
    """Return the worklist of a plate as CSV text (header and one row per transfer)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for t in transfers(plate, volume_ul=volume_ul):
        writer.writerow([t.step, plate.plate_id, "source", t.source_well, t.destination_well,
                         t.candidate_id, t.role.value, t.experiment_id or "", t.replicate,
                         f"{t.volume_ul:g}"])
    return out.getvalue()
