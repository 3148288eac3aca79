"""A plate's read mapped back through its plate map: QC first, then one result per replicate.

`evaluate_plate` decides whether a read is ingested (its controls pass the
Z' check) and, if so, turns each sample well into a `MeasurementResult`
replicate of its experiment, normalised against the plate's controls. A pure
function: the adapter does the files.

An experiment with some readable replicates gets those (the unreadable ones
are left out, never sent as failures, so that one bad well does not close an
experiment whose other wells are fine); an experiment with none gets one
failed result naming its wells and what the reader wrote in them.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

from adapters.base import MeasurementResult, ResultStatus
from adapters.plates.layout import PlateMap, Role
from adapters.plates.qc import ControlStats, control_stats, percent_of_control, z_prime
from adapters.plates.readers import ReaderFile


@dataclass
class PlateVerdict:
    """Whether a read is ingested, why not, and what it gives.

    Attributes:
        is_accepted: Whether the read passes QC (its results are to be ingested).
        reason: Why not, on one line (None when accepted).
        z_prime: The plate's Z' (None when it cannot be computed).
        results: One result per readable replicate (or one failure per experiment).
        n_read: Filled wells the file gave a number for.
    """

    is_accepted: bool
    reason: str | None = None
    z_prime: float | None = None
    results: list[MeasurementResult] = field(default_factory=list)
    n_read: int = 0


def evaluate_plate(plate: PlateMap, read: ReaderFile, *, file_name: str,
                   min_z_prime: float | None, normalisation: str) -> PlateVerdict:
    """Check a read of `plate` against its controls and map its wells to results."""
    if read.n_wells is not None and read.n_wells != plate.n_wells:
        return PlateVerdict(False, f"plate {plate.plate_id} has {plate.n_wells} wells but "
                                   f"{file_name} is a {read.n_wells}-well grid")
    wells = plate.by_well()
    missing = sorted(w for w in wells if w not in read.values)
    if len(missing) == len(wells):
        return PlateVerdict(False, f"{file_name} has no value for any filled well of plate "
                                   f"{plate.plate_id}; is it the right plate?")
    n_read = sum(read.values.get(w) is not None for w in wells)
    pos = [read.values[w.well] for w in plate.wells
           if w.role == Role.POSITIVE and read.values.get(w.well) is not None]
    neg = [read.values[w.well] for w in plate.wells
           if w.role == Role.NEGATIVE and read.values.get(w.well) is not None]
    stats, zp = None, None
    if len(pos) >= 2 and len(neg) >= 2:
        stats = control_stats(pos, neg)
        zp = z_prime(stats)
    if min_z_prime is not None:
        if stats is None:
            return PlateVerdict(False, f"plate {plate.plate_id}: too few readable controls "
                                       f"for Z' ({len(pos)} positive, {len(neg)} negative; "
                                       "two of each at least)", n_read=n_read)
        if zp < min_z_prime:
            return PlateVerdict(False, f"plate {plate.plate_id}: Z' {zp:.2f} is below "
                                       f"min_z_prime {min_z_prime:g} (positive {stats.mean_pos:.4g}"
                                       f" +/- {stats.sd_pos:.2g}, negative {stats.mean_neg:.4g} "
                                       f"+/- {stats.sd_neg:.2g}); not ingested: re-read or "
                                       "re-run the plate and drop the new export in the inbox",
                                z_prime=zp, n_read=n_read)
    if normalisation == "percent_of_control":
        if not pos or not neg or statistics.fmean(pos) == statistics.fmean(neg):
            return PlateVerdict(False, f"plate {plate.plate_id}: the controls give no window "
                                       f"to normalise by ({len(pos)} positive, {len(neg)} "
                                       "negative readable)", z_prime=zp, n_read=n_read)
        stats = ControlStats(statistics.fmean(pos), 0.0, len(pos),
                             statistics.fmean(neg), 0.0, len(neg))
    return PlateVerdict(True, None, zp, _results(plate, read, file_name,
                                                 stats if normalisation != "raw" else None),
                        n_read)


def _results(plate: PlateMap, read: ReaderFile, file_name: str,
             stats: ControlStats | None) -> list[MeasurementResult]:
    out: list[MeasurementResult] = []
    for experiment_id in plate.experiment_ids():
        wells = [w for w in plate.wells if w.experiment_id == experiment_id]
        good = [(w, read.values[w.well]) for w in wells if read.values.get(w.well) is not None]
        for well, value in good:
            if stats is not None:
                value = percent_of_control(value, stats)
            out.append(MeasurementResult(experiment_id=experiment_id,
                                         candidate_id=well.candidate_id, value=value,
                                         replicate=well.replicate))
        if not good:
            why = ", ".join(f"{w.well} ({read.texts.get(w.well, 'not in the file')!r})"
                            for w in wells)
            out.append(MeasurementResult(
                experiment_id=experiment_id, candidate_id=wells[0].candidate_id,
                status=ResultStatus.FAILED,
                error=f"plate {plate.plate_id}: no readable value in {file_name} for "
                      f"wells {why}"))
    return out
