"""Tests of the plate-lab's pure parts: layouts, worklists, reader files, Z'."""

from __future__ import annotations

import csv
import io
import math

import pytest

from adapters.plates import Role, Sample, UnreadableFile, plan_plates, read_export, worklist_csv
from adapters.plates.layout import is_edge, normalise_well, plates_needed, well_names
from adapters.plates.qc import control_stats, percent_of_control, z_prime


def _samples(n: int) -> list[Sample]:
    return [Sample(experiment_id=f"e{i:03d}", candidate_id=f"KO:G{i}") for i in range(n)]


def _plan(n: int, plate_ids=("P1",), **overrides):
    options = dict(n_wells=96, n_replicates=2, positive=["POS"], n_positive=4,
                   negative=["NEG"], n_negative=4, skip_edges=False, seed=0)
    options.update(overrides)
    return plan_plates(_samples(n), plate_ids=list(plate_ids), **options)


def test_a_layout_holds_every_replicate_and_control_once():
    (plate,) = _plan(10)
    roles = [w.role for w in plate.wells]
    assert roles.count(Role.POSITIVE) == 4 and roles.count(Role.NEGATIVE) == 4
    assert roles.count(Role.SAMPLE) == 20
    assert len({w.well for w in plate.wells}) == len(plate.wells) == 28
    assert sorted((w.experiment_id, w.replicate) for w in plate.wells if w.experiment_id) == \
        sorted((f"e{i:03d}", r) for i in range(10) for r in range(2))


def test_a_layout_is_fixed_by_the_seed_and_differs_between_seeds():
    assert _plan(10) == _plan(10)
    assert [w.well for w in _plan(10)[0].wells] != [w.well for w in _plan(10, seed=1)[0].wells]


def test_edges_can_be_left_empty_on_384_wells():
    n_inner = 14 * 22
    (plate,) = _plan(150, n_wells=384, skip_edges=True)
    assert not any(is_edge(w.well, 384) for w in plate.wells)
    assert len(plate.wells) == 308 == n_inner
    assert {w.well for w in plate.wells} <= set(well_names(384))


def test_a_large_batch_spans_plates_each_with_its_controls():
    n = plates_needed(100, n_wells=96, n_replicates=2, n_positive=4, n_negative=4,
                      skip_edges=False)
    plates = _plan(100, plate_ids=[f"P{k}" for k in range(n)])
    assert n == 3 and [len(p.experiment_ids()) for p in plates] == [44, 44, 12]
    assert all(sum(w.role == Role.POSITIVE for w in p.wells) == 4 for p in plates)


def test_controls_cycle_through_their_names():
    (plate,) = _plan(2, positive=["PMA", "CD3/CD28"], n_positive=4)
    names = sorted(w.candidate_id for w in plate.wells if w.role == Role.POSITIVE)
    assert names == ["CD3/CD28", "CD3/CD28", "PMA", "PMA"]


def test_nothing_fits_is_refused():
    with pytest.raises(ValueError, match="no sample fits"):
        _plan(1, n_replicates=16, n_positive=41, n_negative=40)


def test_the_worklist_has_one_transfer_per_filled_well_from_one_source_each():
    (plate,) = _plan(10)
    rows = list(csv.DictReader(io.StringIO(worklist_csv(plate, volume_ul=5))))
    assert len(rows) == 28 and {r["destination_well"] for r in rows} == {w.well for w in plate.wells}
    sources = {}
    for row in rows:
        assert sources.setdefault(row["candidate_id"], row["source_well"]) == row["source_well"]
    assert len(set(sources.values())) == 12  # 10 samples, 2 controls
    assert sources["POS"] == "A1" and sources["NEG"] == "A2"
    assert rows[0]["volume_ul"] == "5" and rows[0]["plate_id"] == "P1"


def test_well_names_are_made_canonical():
    assert normalise_well("b07", 96) == "B7"
    with pytest.raises(ValueError, match="not on a 96-well plate"):
        normalise_well("I1", 96)


def test_a_long_export_is_read():
    read = read_export(b"plate,well,value\nP1,A01,1.5\nP1,B2,OVRFLW\n")
    assert (read.shape, read.plate_id) == ("long", "P1")
    assert read.values == {"A1": 1.5, "B2": None} and read.texts == {"B2": "OVRFLW"}


def test_a_long_export_may_name_its_value_column():
    read = read_export(b"Well,Content,Abs 450\nA1,Sample X1,0.25\n", value_column="abs 450")
    assert read.values == {"A1": 0.25} and read.plate_id is None
    with pytest.raises(UnreadableFile, match="'well' and 'value' columns"):
        read_export(b"Well,Content,Abs 450\nA1,Sample X1,0.25\n")


def test_a_grid_export_with_metadata_is_read():
    lines = ["Software Version,3.1", "Plate ID: P7", "Wavelength,450 nm", "",
             "," + ",".join(str(c) for c in range(1, 13))]
    lines += [chr(65 + r) + "," + ",".join(f"{r + c / 10:.1f}" for c in range(12))
              for r in range(8)]
    read = read_export("\n".join(lines).encode("utf-16"))
    assert (read.shape, read.plate_id, read.n_wells) == ("grid", "P7", 96)
    assert read.values["A1"] == 0.0 and read.values["H12"] == pytest.approx(8.1)


def test_a_semicolon_grid_with_decimal_commas_is_read():
    lines = ["Barcode;P9", ";" + ";".join(str(c) for c in range(1, 13))]
    lines += [chr(65 + r) + ";" + ";".join("0,5" for _ in range(12)) for r in range(8)]
    assert read_export("\n".join(lines).encode()).values["C3"] == 0.5


@pytest.mark.parametrize(("data", "reason"), [
    (b"name,score\nKO:A,1\n", "not a plate-reader export"),
    (b"\x89PNG\r\n\x1a\n\x00\x00", "binary"),
    (b"well,value\nA1,1\nA01,2\n", "well A1 appears twice"),
    (b"well,value\nZ9,1\n", "not a well name"),
    (b"," + ",".join(str(c) for c in range(1, 13)).encode() + b"\nA,1\n", "has 1 values"),
])
def test_broken_or_foreign_exports_say_why(data, reason):
    with pytest.raises(UnreadableFile, match=reason):
        read_export(data)


def test_z_prime_and_percent_of_control():
    stats = control_stats([100.0, 102.0, 98.0], [10.0, 11.0, 9.0])
    assert z_prime(stats) == pytest.approx(1 - 3 * (2.0 + 1.0) / 90.0)
    assert percent_of_control(55.0, stats) == pytest.approx(50.0)
    assert percent_of_control(10.0, stats) == pytest.approx(0.0)
    assert z_prime(control_stats([1.0, 1.0], [1.0, 1.0])) == -math.inf
