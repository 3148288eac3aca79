import pytest

import instruments
from instruments import DeepEnsemble, GPInstrument, make_instrument
from instruments.registry import instrument_names, register_instrument
from instruments.testing import FakeInstrument


def test_instrument_names():
    assert instrument_names() == ["additive", "ensemble", "gp", "linear"]
    assert isinstance(make_instrument("gp"), GPInstrument)
    ensemble = make_instrument("ensemble", seed=3, n_members=4, epochs=10)
    assert isinstance(ensemble, DeepEnsemble)
    assert (ensemble.seed, ensemble.n_members, ensemble.epochs) == (3, 4, 10)


def test_unknown_name_lists_known_ones():
    with pytest.raises(ValueError, match="unknown instrument 'forest'; known: additive, ensemble, gp, linear"):
        make_instrument("forest")


def test_unknown_option_is_named_and_the_accepted_ones_listed():
    with pytest.raises(ValueError, match="instrument 'gp' takes no option 'n_members'; it accepts: "
                                         "seed, kernel, normalize_inputs, warm_start, max_batch_size, "
                                         "maxiter, calibrate, fit"):
        make_instrument("gp", n_members=3)


def test_duplicate_name_is_refused():
    with pytest.raises(ValueError, match="instrument 'gp' is already registered"):
        register_instrument("gp")(FakeInstrument)


def test_public_face_matches_all():
    exported = {name for name in dir(instruments) if not name.startswith("_")}
    modules = {"actor", "additive", "base", "calibration", "checkpoint", "ensemble", "gp", "linear", "registry",
               "testing"}
    assert set(instruments.__all__) == exported - modules
    for name in instruments.__all__:
        assert getattr(instruments, name) is not None


def test_importing_instruments_does_not_import_ray():
    import subprocess
    import sys

    code = "import sys, instruments; assert 'ray' not in sys.modules, 'ray imported'"
    subprocess.run([sys.executable, "-c", code], check=True)
