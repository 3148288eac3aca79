import pytest
import torch

from instruments import InstrumentError, InstrumentHost, remote_host
from instruments.checkpoint import CHECKPOINT_NAME
from tests.instruments._synthetic import synthetic_data

SMALL = {"ensemble": {"seed": 1, "n_members": 4, "epochs": 40}, "gp": {"seed": 1, "maxiter": 30}}


@pytest.mark.parametrize("kind", ["ensemble", "gp"])
def test_checkpoint_reload_gives_identical_predictions(kind, tmp_path):
    X, Y = synthetic_data(60)
    pool = synthetic_data(40, seed=9)[0]
    host = InstrumentHost(kind, SMALL[kind], str(tmp_path))
    assert not host.is_fitted
    figures = host.fit(X, Y)
    assert set(figures) == {"seconds", "n_train", "calibration_scale", "noise_variance"}
    assert figures["n_train"] == 60
    assert (tmp_path / CHECKPOINT_NAME).is_file()
    assert [p.name for p in tmp_path.iterdir()] == [CHECKPOINT_NAME]  # no temp file left

    reloaded = InstrumentHost(kind, SMALL[kind], str(tmp_path))
    assert reloaded.is_fitted and reloaded.info()["is_restored"]
    for before, after in zip(host.predict(pool), reloaded.predict(pool)):
        assert torch.equal(before, after)
    assert torch.equal(host.sample_pool(pool, 8, seed=2), reloaded.sample_pool(pool, 8, seed=2))
    assert reloaded.info()["calibration_scale"] == figures["calibration_scale"]


def test_checkpoint_for_other_options_is_refused(tmp_path):
    X, Y = synthetic_data(30)
    InstrumentHost("ensemble", SMALL["ensemble"], str(tmp_path)).fit(X, Y)
    with pytest.raises(InstrumentError, match="checkpoint"):
        InstrumentHost("gp", SMALL["gp"], str(tmp_path))


def test_host_without_checkpoint_dir_and_call():
    X, Y = synthetic_data(30)
    host = InstrumentHost("ensemble", SMALL["ensemble"])
    with pytest.raises(InstrumentError):
        host.predict(X)
    host.fit(X, Y)
    assert host.info()["checkpoint"] is None and host.info()["n_train"] == 30
    n_rows = host.call(lambda model, X, offset=0: model.posterior(X).mean.shape[0] + offset, X, offset=1)
    assert n_rows == 31


def test_bad_data_leaves_the_host_as_it_was(tmp_path):
    X, Y = synthetic_data(30)
    host = InstrumentHost("ensemble", SMALL["ensemble"], str(tmp_path))
    host.fit(X, Y)
    mean, _ = host.predict(X)
    with pytest.raises(InstrumentError):
        host.fit(X, torch.full_like(Y, float("nan")))
    assert torch.equal(host.predict(X)[0], mean)


def test_remote_host_survives_a_restart(ray_session, tmp_path):
    ray = ray_session
    X, Y = synthetic_data(60)
    pool = synthetic_data(40, seed=9)[0]
    actor = remote_host("ensemble", SMALL["ensemble"], str(tmp_path))
    figures = ray.get(actor.fit.remote(X, Y), timeout=120)
    assert figures["n_train"] == 60
    before = ray.get(actor.predict.remote(pool), timeout=60)
    ray.kill(actor, no_restart=False)
    after = ray.get(actor.predict.remote(pool), timeout=120)
    assert ray.get(actor.info.remote(), timeout=60)["is_restored"]
    for a, b in zip(before, after):
        assert torch.equal(a, b)
    ray.kill(actor, no_restart=True)
