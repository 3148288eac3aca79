"""The generated Opentrons protocols, run through the real `opentrons.simulate`.

The ``opentrons`` package cannot share loopwell's environment (it pins
``numpy<2`` and ``jsonschema<4.18``), so the simulator runs in its own
interpreter: ``$LOOPWELL_OPENTRONS_PYTHON``, else ``.venv-opentrons/bin/python``
at the repository root (``.ci/run`` makes it), else this interpreter if it
has the package.
"""

from __future__ import annotations

import ast
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

from adapters.opentrons_lab import DeckSettings, protocol_source, simulate_protocol
from adapters.opentrons_lab.protocol import simulate_protocols
from adapters.plates import Sample, plan_plates

ROOT = Path(__file__).resolve().parents[2]


def _simulator() -> str | None:
    """Return an interpreter that has the opentrons package, or None."""
    candidates = [os.environ.get("LOOPWELL_OPENTRONS_PYTHON"),
                  str(ROOT / ".venv-opentrons" / "bin" / "python")]
    for python in filter(None, candidates):
        if Path(python).exists() and subprocess.run(
                [python, "-c", "import importlib.util as u, sys; "
                 "sys.exit(u.find_spec('opentrons') is None)"], capture_output=True,
                check=False).returncode == 0:
            return python
    return sys.executable if importlib.util.find_spec("opentrons") else None


SIMULATOR = _simulator()
needs_simulator = pytest.mark.skipif(
    SIMULATOR is None, reason="no interpreter with the opentrons package: set "
    "LOOPWELL_OPENTRONS_PYTHON, or make .venv-opentrons (see .ci/run); it cannot be "
    "installed beside loopwell's own pins")


def _plate(n: int, n_wells: int = 96, skip_edges: bool = False):
    (plate,) = plan_plates([Sample(experiment_id=f"e{i}", candidate_id=f"KO:G{i}")
                            for i in range(n)], plate_ids=["ifng-r0-j1-p1"], n_wells=n_wells,
                           n_replicates=2, positive=["PMA"], n_positive=4, negative=["DMSO"],
                           n_negative=4, skip_edges=skip_edges, seed=3)
    return plate


def test_the_protocol_is_python_with_metadata_requirements_and_one_transfer_per_well():
    plate = _plate(5)
    text = protocol_source(plate, job_id="ifng-r0-j1", volume_ul=5.0, deck=DeckSettings())
    tree = ast.parse(text)
    names = {t.id: node.value for node in tree.body if isinstance(node, ast.Assign)
             for t in node.targets}
    assert ast.literal_eval(names["requirements"]) == {"robotType": "Flex", "apiLevel": "2.20"}
    assert ast.literal_eval(names["metadata"])["protocolName"] == "loopwell ifng-r0-j1-p1"
    moves = ast.literal_eval(names["TRANSFERS"])
    assert sorted(d for _, d, _ in moves) == sorted(w.well for w in plate.wells)
    assert "import opentrons" not in text.replace("from opentrons import protocol_api", "")
    assert text == protocol_source(plate, job_id="ifng-r0-j1", volume_ul=5.0,
                                   deck=DeckSettings())  # the same plate, the same file


def test_the_ot2_deck_uses_numbered_slots_and_its_fixed_trash():
    text = protocol_source(_plate(2), job_id="j", volume_ul=5.0,
                           deck=DeckSettings(robot_type="OT-2"))
    assert '"robotType": "OT-2"' in text and "load_trash_bin" not in text
    assert "'p20_single_gen2'" in text and "('3',)" in text


def test_a_full_384_well_plate_takes_four_tip_racks():
    text = protocol_source(_plate(188, n_wells=384), job_id="j", volume_ul=5.0,
                           deck=DeckSettings())
    assert "('C1', 'C2', 'C3', 'B1')" in text


@pytest.fixture(scope="module")
def simulated(tmp_path_factory):
    """Simulate, in one process (its import takes seconds), a 96- and a 384-well plate and a bad one."""
    folder = tmp_path_factory.mktemp("protocols")
    plates = {"96": _plate(3), "384": _plate(10, n_wells=384, skip_edges=True)}
    cases = {(robot, name): plate for robot in ("Flex", "OT-2") for name, plate in plates.items()}
    cases[("Flex", "bad")] = _plate(2)
    paths = []
    for (robot, name), plate in cases.items():
        path = folder / f"{robot}-{name}.protocol.py"
        volume = 500.0 if name == "bad" else 5.0  # 500 uL in a 50 uL pipette
        path.write_text(protocol_source(plate, job_id="ifng-r0-j1", volume_ul=volume,
                                        deck=DeckSettings(robot_type=robot)))
        paths.append(path)
    return cases, dict(zip(cases, simulate_protocols(paths, python=SIMULATOR)))


#: the first pick-up and the assay plate's slot of each robot type's deck
DECKS = {"Flex": ("Opentrons Flex 96 Tip Rack 50 µL on slot C1", "D2", "A3"),
         "OT-2": ("Opentrons OT-2 96 Tip Rack 20 µL on slot 3", "2", "12")}


@needs_simulator
@pytest.mark.parametrize("robot", ["Flex", "OT-2"])
@pytest.mark.parametrize("name", ["96", "384"])
def test_opentrons_simulate_runs_the_generated_protocols(simulated, robot, name):
    cases, logs = simulated
    plate, log = cases[(robot, name)], logs[(robot, name)]
    tips, assay_slot, trash_slot = DECKS[robot]
    assert not isinstance(log, Exception), log
    assert len(log) == 4 * len(plate.wells)
    assert log[0] == f"Picking up tip from A1 of {tips}"
    first = min(plate.wells, key=lambda w: ("ABCDEFGHIJKLMNOP".index(w.well[0]),
                                            int(w.well[1:])))
    assert f"into {first.well} of assay plate ifng-r0-j1-p1 on slot {assay_slot}" in log[2]
    assert sum(line.startswith("Dispensing 5.0 uL") for line in log) == len(plate.wells)
    assert log[-1] == f"Dropping tip into Trash Bin on slot {trash_slot}"


@needs_simulator
def test_opentrons_simulate_refuses_a_protocol_it_cannot_run(simulated):
    _, logs = simulated
    assert isinstance(logs[("Flex", "bad")], RuntimeError)
    assert "Cannot aspirate 500.0 µL when only 50 is available" in str(logs[("Flex", "bad")])


@pytest.mark.skipif(importlib.util.find_spec("opentrons") is not None,
                    reason="this interpreter has the opentrons package")
def test_an_interpreter_without_opentrons_is_said(tmp_path):
    path = tmp_path / "p.py"
    path.write_text(protocol_source(_plate(1), job_id="j", volume_ul=5.0, deck=DeckSettings()))
    with pytest.raises(RuntimeError, match="did not start in .*ModuleNotFoundError"):
        simulate_protocol(path, python=sys.executable)
