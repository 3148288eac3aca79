"""Keep one instrument warm across rounds: a plain host class and its Ray actor."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable

from torch import Tensor

from instruments.base import InstrumentBase, InstrumentError
from instruments.calibration import predict_mean_sd
from instruments.checkpoint import (
    CHECKPOINT_NAME,
    instrument_state,
    load_checkpoint,
    restore_instrument,
    save_atomic,
)
from instruments.registry import make_instrument


class InstrumentHost:
    """Hold one instrument, fit it round after round, checkpoint it, serve predictions.

    A plain class, so it is tested without Ray; `remote_host` wraps it in an
    actor. With a `checkpoint_dir`, every fit is saved and a new host (e.g. a
    restarted actor) reloads the last one, so it predicts exactly as before.
    """

    def __init__(self, kind: str, options: dict[str, Any] | None = None,
                 checkpoint_dir: str | None = None) -> None:
        """Build the instrument and reload the last checkpoint if there is one.

        Args:
            kind: A registered instrument name, e.g. "gp" or "ensemble".
            options: JSON-able constructor options, e.g. `{"seed": 0}`.
            checkpoint_dir: Directory for the checkpoint; None keeps nothing on disk.
        """
        self.kind = kind
        self.options = dict(options or {})
        self.checkpoint_dir = checkpoint_dir
        self.model: InstrumentBase = make_instrument(kind, **self.options)
        self.last_fit: dict[str, Any] = {}
        self.is_restored = False
        payload = load_checkpoint(self.checkpoint_path) if self.checkpoint_path else None
        if payload is not None:
            if payload["kind"] != kind or payload["options"] != self.options:
                raise InstrumentError(
                    f"checkpoint in {checkpoint_dir} is for {payload['kind']!r} with options "
                    f"{payload['options']}, not {kind!r} with {self.options}"
                )
            restore_instrument(self.model, payload["state"])
            self.last_fit = payload["last_fit"]
            self.is_restored = True

    @property
    def checkpoint_path(self) -> Path | None:
        if self.checkpoint_dir is None:
            return None
        return Path(self.checkpoint_dir) / CHECKPOINT_NAME

    @property
    def is_fitted(self) -> bool:
        return self.model.is_fitted

    def fit(self, train_X: Tensor, train_Y: Tensor) -> dict[str, Any]:
        """Fit the instrument to `n x d` features and `n x 1` targets, then checkpoint.

        Returns:
            Figures of the fit: seconds, n_train, calibration_scale, noise_variance,
            and block_scales for an instrument with one kernel scale per feature block.
        """
        start = time.perf_counter()
        self.model.fit(train_X, train_Y)
        self.last_fit = {
            "seconds": time.perf_counter() - start,
            "n_train": int(train_X.shape[0]),
            "calibration_scale": float(self.model.calibration_scale),
            "noise_variance": float(self.model.noise_variance),
        }
        if getattr(self.model, "block_scales", None):  # block-wise kernels: one scale each
            self.last_fit["block_scales"] = [float(v) for v in self.model.block_scales]
        if self.checkpoint_path is not None:
            payload = {"kind": self.kind, "options": self.options,
                       "state": instrument_state(self.model), "last_fit": self.last_fit}
            save_atomic(payload, self.checkpoint_path)
        return dict(self.last_fit)

    def predict(self, X: Tensor, observation_noise: bool = False) -> tuple[Tensor, Tensor]:
        """Return the `n` predictive means and `n` sds over an `n x d` pool."""
        if not self.is_fitted:
            raise InstrumentError("the instrument is not fitted yet; call fit first")
        return predict_mean_sd(self.model, X, max_batch_size=self.model.max_batch_size,
                               observation_noise=observation_noise)

    def sample_pool(self, X: Tensor, n_samples: int, seed: int = 0) -> Tensor:
        """Return `n_samples x n` joint samples of the latent function over `X`."""
        return self.model.sample_pool(X, n_samples, seed=seed)

    def call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Return `fn(model, *args, **kwargs)`, run beside the warm model."""
        return fn(self.model, *args, **kwargs)

    def info(self) -> dict[str, Any]:
        """Return what the host holds: kind, options, fit figures, checkpoint."""
        return {
            "kind": self.kind,
            "options": dict(self.options),
            "is_fitted": self.is_fitted,
            "is_restored": self.is_restored,
            "checkpoint": str(self.checkpoint_path) if self.checkpoint_path else None,
            **self.last_fit,
        }


def remote_host(kind: str, options: dict[str, Any] | None = None,
                checkpoint_dir: str | None = None, name: str | None = None):
    """Start an `InstrumentHost` as a Ray actor that restarts from its checkpoint.

    Ray is imported here, not when `instruments` is imported. Give a
    `checkpoint_dir` for a restart to keep the fitted state.

    Args:
        kind, options, checkpoint_dir: As for `InstrumentHost`.
        name: Optional actor name, to find it again with `ray.get_actor`.

    Returns:
        A Ray actor handle; call e.g. `ray.get(handle.predict.remote(X))`.
    """
    import ray

    actor_class = ray.remote(max_restarts=3, max_task_retries=3, num_cpus=1)(InstrumentHost)
    if name is not None:
        actor_class = actor_class.options(name=name)
    return actor_class.remote(kind, options or {}, checkpoint_dir)
