"""Where the instrument lives: an `InstrumentHost` in a Ray actor, kept warm across rounds,
or in this process.

One class, one face (fit, propose, predict, close), so the campaign does not
care where the model is. The strategy runs beside the warm model (inside the
actor) through `agents.propose_batch`; only the chosen indices and their
explanation travel back.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

COMPUTE = ("ray", "local")


class Host:
    """The instrument of one campaign, hosted by Ray (`compute="ray"`) or in-process.

    Args:
        kind: a registered instrument name.
        options: its JSON-able options (the seed included).
        checkpoint_dir: where every fit is saved; a restarted actor reloads it.
        compute: `ray` or `local`.
        blocks: `[start, stop)` column ranges of the features, passed to
            instruments that take `blocks` unless the options name their own.
    """

    def __init__(self, kind: str, options: dict[str, Any], checkpoint_dir: Path | str,
                 compute: str = "ray", blocks: list[list[int]] | None = None) -> None:
        from instruments import InstrumentHost, remote_host
        from instruments.registry import instrument_class

        if compute not in COMPUTE:
            raise ValueError(f"compute must be one of {COMPUTE}, got '{compute}'")
        options = dict(options)
        if blocks and "blocks" in inspect.signature(instrument_class(kind)).parameters:
            options.setdefault("blocks", blocks)
        self.kind = kind
        self.is_remote = compute == "ray"
        make = remote_host if self.is_remote else InstrumentHost
        self._target = make(kind, options, str(checkpoint_dir))

    def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        fn = getattr(self._target, method)
        if not self.is_remote:
            return fn(*args, **kwargs)
        import ray

        return ray.get(fn.remote(*args, **kwargs))

    def fit(self, X, Y) -> dict[str, Any]:
        """Fit to `n x d` features and `n x 1` targets; return the fit's figures."""
        return self._call("fit", X, Y)

    def propose(self, name: str, options: dict[str, Any], candidates, pending, q: int,
                seed: int):
        """Return the `agents.Proposal` of strategy `name` over `candidates` (`n x d`)."""
        from agents import propose_batch

        return self._call("call", propose_batch, name, options, candidates, pending, q, seed)

    def predict(self, X) -> tuple[Any, Any]:
        """Return the predictive mean and sd (with observation noise) over `X` (`n x d`)."""
        return self._call("predict", X, observation_noise=True)

    def close(self) -> None:
        if self.is_remote:
            import ray

            ray.kill(self._target)
