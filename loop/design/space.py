"""Design spaces: the candidates a campaign may ask for, each with an id and features.

This is the one place where domain objects become arrays: the rest of the loop
hands `DesignSpace.X` rows to instruments and agents and maps indices back to ids.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from loop.design.datasets import PUBLIC_SCREENS, DataNotFoundError, read_table, resolve
from loop.design.features import gene_features, membership_features
from loop.campaign.spec import GeneDesign, ReactionDesign, TableDesign

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DesignSpace:
    """Candidate ids, their `n x d` float32 features, and per-candidate lab parameters."""

    ids: list[str]
    X: np.ndarray
    feature_names: list[str]
    parameters: list[dict[str, Any]] = field(default_factory=list)
    #: per-candidate numeric attributes known in advance (e.g. cost), each an `n` array
    attributes: dict[str, np.ndarray] = field(default_factory=dict)
    #: named `[start, stop)` column ranges of `X` (one learned kernel scale each)
    blocks: list[tuple[str, int, int]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if len(self.ids) != self.X.shape[0]:
            raise ValueError(f"{len(self.ids)} ids but {self.X.shape[0]} feature rows")
        if len(set(self.ids)) != len(self.ids):
            raise ValueError("candidate ids are not unique")

    @property
    def n(self) -> int:
        return len(self.ids)

    def index(self) -> dict[str, int]:
        """Map candidate id -> row."""
        return {cid: i for i, cid in enumerate(self.ids)}

    def params(self, i: int) -> dict[str, Any]:
        return self.parameters[i] if self.parameters else {}

    @cached_property
    def _block_norms(self) -> list[float]:
        """Mean squared norm of each block's rows over the candidates."""
        X = self.X
        return [float(np.einsum("ij,ij->", X[:, a:b], X[:, a:b], dtype=np.float64))
                / max(len(X), 1) for _, a, b in self.blocks]

    def block_weights(self, scales: list[float] | None) -> dict[str, float] | None:
        """Each block's share of a fitted prior variance over the candidates.

        `scale_k * mean ||x_k||^2` for kernel scales `scales`, one per block (as
        the `linear` instrument fits them): how much of the model's a-priori
        spread each block (gene sets, a prior screen, ...) was given. None when
        the scales are not one per block of this design.
        """
        if not scales or len(scales) != len(self.blocks):
            return None
        spread = [s * norm for s, norm in zip(scales, self._block_norms)]
        total = sum(spread)
        if not total > 0:
            return None
        return {name: round(v / total, 4) for (name, _, _), v in zip(self.blocks, spread)}


def build_design_space(spec: GeneDesign | TableDesign | ReactionDesign,
                       base_dir: Path | None = None, *, cache_dir: Path | None = None,
                       seed: int = 0, answers: Path | None = None) -> DesignSpace:
    """Build the design space a spec describes (cached on disk when `cache_dir` is set).

    `answers` is the table a simulated lab answers from, if any: like the
    design's own table, it is never used as an earlier screen (prior knowledge).
    """
    if isinstance(spec, GeneDesign):
        own = [resolve(spec.table, base_dir), *([answers] if answers else [])]
        return _gene_space(spec, base_dir, cache_dir, seed,
                           priors=prior_screen_paths(spec, base_dir, own))
    if isinstance(spec, ReactionDesign):
        from loop.design.reactions import reaction_space

        return reaction_space(spec, base_dir)
    return _table_space(spec, base_dir)


def prior_screen_paths(spec: GeneDesign, base_dir: Path | None, own: list[Path]
                       ) -> list[Path]:
    """The earlier screens a gene campaign learns from, never one of its `own` tables.

    Named screens must exist and must not be the campaign's own; the default
    (`prior_screens` unset) is every public screen already on this machine
    (nothing is downloaded for it: a campaign never waits on, or fails for, the
    network to get prior knowledge it did not ask for), less the campaign's own
    (a screen is the campaign's own when it is the same file or has the same
    bytes).
    """
    own_digests = {_digest(p) for p in own}

    def is_own(path: Path) -> bool:
        return any(path.resolve() == p.resolve() for p in own) or _digest(path) in own_digests

    if spec.prior_screens is not None:
        paths = [resolve(ref, base_dir) for ref in spec.prior_screens]
        clash = [str(ref) for ref, p in zip(spec.prior_screens, paths) if is_own(p)]
        if clash:
            raise ValueError(f"prior_screens {clash}: that is the campaign's own screen (the "
                             "answers it is looking for), not prior knowledge")
        return paths
    paths = []
    for table, _ in PUBLIC_SCREENS.values():
        try:
            path = resolve(table, base_dir, allow_fetch=False)
        except DataNotFoundError as exc:
            log.info("prior screen %s skipped: %s", table, exc)
            continue
        if not is_own(path):
            paths.append(path)
    return paths


def _digest(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _gene_space(spec: GeneDesign, base_dir: Path | None, cache_dir: Path | None,
                seed: int, priors: list[Path]) -> DesignSpace:
    table = resolve(spec.table, base_dir)
    frame = read_table(table, [spec.id_column], ids=spec.id_column)
    genes = list(dict.fromkeys(g.strip() for g in frame[spec.id_column] if g.strip()))
    gmts = [resolve(p, base_dir) for p in spec.gene_sets]
    essential = resolve(spec.essential_genes, base_dir) if spec.essential_genes else None
    extra = resolve(spec.feature_table, base_dir) if spec.feature_table else None
    key = _cache_key(spec.model_dump(), [table, *gmts, essential, extra, *priors], seed)
    cached = cache_dir / f"genes-{key}.npz" if cache_dir else None
    if cached is not None and cached.exists():
        data = np.load(cached, allow_pickle=False)
        X, names = data["X"], [str(s) for s in data["names"]]
        blocks = [(str(b), int(a), int(c)) for b, a, c in data["blocks"]]
    else:
        if spec.features == "membership":
            X, names, blocks = membership_features(genes, gmts, essential_path=essential,
                                                   table_path=extra, prior_paths=priors)
        else:
            X, names = gene_features(genes, gmts, n_components=spec.n_components,
                                     essential_path=essential, table_path=extra, seed=seed,
                                     prior_paths=priors)
            blocks = []
        if cached is not None:
            cached.parent.mkdir(parents=True, exist_ok=True)
            # a temporary file of our own, so that two runs building the same cache
            # at once never read or move each other's half-written file
            fd, tmp = tempfile.mkstemp(dir=cached.parent, prefix=cached.stem, suffix=".tmp.npz")
            with os.fdopen(fd, "wb") as handle:
                np.savez(handle, X=X, names=np.array(names),
                         blocks=np.array(blocks, dtype=object).astype(str).reshape(-1, 3))
            Path(tmp).replace(cached)
    ids = [f"{spec.prefix}{g}" for g in genes]
    return DesignSpace(ids=ids, X=X, feature_names=names,
                       parameters=[{"gene": g} for g in genes], blocks=blocks)


def _table_space(spec: TableDesign, base_dir: Path | None) -> DesignSpace:
    table = resolve(spec.table, base_dir)
    frame = read_table(table, [spec.id_column], ids=spec.id_column)
    cols = spec.feature_columns or [
        c for c in frame.select_dtypes("number").columns if c != spec.id_column
    ]
    missing = [c for c in cols if c not in frame.columns]
    if missing:
        raise ValueError(f"{table}: feature columns not found: {missing}")
    X = frame[cols].to_numpy(dtype=np.float32)
    if not np.isfinite(X).all():
        raise ValueError(f"{table}: feature columns contain NaN or infinite values")
    ids = frame[spec.id_column].astype(str).tolist()
    return DesignSpace(ids=ids, X=X, feature_names=list(cols),
                       parameters=frame[cols].to_dict(orient="records"))


def _cache_key(spec: dict, paths: list[Path | None], seed: int) -> str:
    digest = hashlib.sha256(json.dumps(spec, sort_keys=True).encode())
    digest.update(str(seed).encode())
    for path in paths:
        if path is not None:
            stat = Path(path).stat()
            digest.update(f"{path}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:16]
