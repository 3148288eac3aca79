"""Where the instrument lives: in a Ray actor kept warm across rounds, or in-process.

Both hosts have one face (fit, propose, predict, close), so the campaign does not
care which it has. The strategy runs beside the warm model (inside the actor),
and only the chosen indices and their explanation travel back.
"""

from __future__ import annotations

import inspect
from typing import Any


def make_host(kind: str, options: dict[str, Any], checkpoint_dir: str, compute: str):
    """Return a host for instrument `kind`: `compute` is `ray` or `local`."""
    from instruments import InstrumentHost, remote_host

    if compute == "ray":
        return _RayHost(remote_host(kind, options, checkpoint_dir))
    if compute == "local":
        return _LocalHost(InstrumentHost(kind, options, checkpoint_dir))
    raise ValueError(f"compute must be 'ray' or 'local', got '{compute}'")


def init_params(kind: str) -> set[str]:
    """Return the option names instrument `kind` takes."""
    from instruments.registry import instrument_class

    return set(inspect.signature(instrument_class(kind)).parameters)


class _LocalHost:
    """An in-process instrument host with the same face as the Ray one."""

    def __init__(self, host) -> None:
        self._host = host

    def fit(self, X, Y) -> dict[str, Any]:
        return self._host.fit(X, Y)

    def propose(self, name, options, candidates, pending, q, seed) -> dict[str, Any]:
        from loop.proposal import propose_batch

        return self._host.call(propose_batch, name, options, candidates, pending, q, seed)

    def predict(self, X) -> tuple[Any, Any]:
        """Return the predictive mean and sd (with observation noise) over `X` (`n x d`)."""
        return self._host.predict(X, observation_noise=True)

    def close(self) -> None:
        pass


class _RayHost(_LocalHost):
    """An instrument kept warm in a Ray actor across rounds."""

    def fit(self, X, Y) -> dict[str, Any]:
        import ray

        return ray.get(self._host.fit.remote(X, Y))

    def propose(self, name, options, candidates, pending, q, seed) -> dict[str, Any]:
        import ray
        from loop.proposal import propose_batch

        return ray.get(self._host.call.remote(
            propose_batch, name, options, candidates, pending, q, seed))

    def predict(self, X) -> tuple[Any, Any]:
        import ray

        return ray.get(self._host.predict.remote(X, observation_noise=True))

    def close(self) -> None:
        import ray

        ray.kill(self._host)
