"""Reaction design spaces: categorical and numeric factors, descriptors per level.

A reaction is one level of every factor (`base`, `ligand`, `solvent`, a
concentration, a temperature). The candidates are either the rows of an index
CSV (the runs a lab allows, `candidates: table`) or the full product of the
levels (`candidates: product`), minus the combinations `constraints.exclude`
names. Each categorical level is featurised by one-hot columns or by its
descriptors (DFT, Mordred, ... files keyed by the level's SMILES): cleaned
(numeric, finite, varying, no duplicate columns), z-scored over the levels,
reduced to at most `pca` principal components, and scaled to [0, 1]. Numeric
factors are scaled to [0, 1] over their levels. Per-candidate lab parameters
are the factor levels; per-candidate attributes (numeric factors, and the
columns of each factor's `attributes` table, e.g. a ligand's cost) serve as
secondary objectives and constraints.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from loop.design.datasets import resolve
from loop.campaign.spec import FactorSpec, ReactionDesign


@dataclass(frozen=True)
class FactorTable:
    """One factor's levels and their `n_levels x d` feature block."""

    name: str
    levels: list[Any]
    features: np.ndarray
    feature_names: list[str]
    attributes: dict[str, np.ndarray]


# -- descriptors -------------------------------------------------------------
def read_descriptors(path: Path, levels: list[str], key: str | None = None) -> pd.DataFrame:
    """Return the cleaned descriptors of `levels` (rows, in order) from a CSV keyed by level.

    The key is `key`, or the first of the first two columns whose values cover
    every level. Columns that are not numeric, hold NaN, do not vary over the
    levels, or repeat another column are dropped.
    """
    raw = pd.read_csv(path)
    candidates = [key] if key else list(raw.columns[:2])
    column = next((c for c in candidates if c in raw.columns
                   and set(levels) <= set(raw[c].astype(str))), None)
    if column is None:
        missing = sorted(set(levels) - set(raw[candidates[0]].astype(str))) \
            if candidates[0] in raw.columns else levels
        raise ValueError(f"{path}: no key column ({', '.join(map(str, candidates))}) covers "
                         f"the levels; missing e.g. {missing[:2]}")
    frame = raw.drop_duplicates(column)
    frame.index = frame[column].astype(str)
    frame = frame.loc[levels].drop(columns=[column])
    frame = frame.apply(pd.to_numeric, errors="coerce")
    frame = frame.loc[:, frame.notna().all(axis=0)]
    frame = frame.loc[:, frame.nunique(axis=0) > 1]
    frame = frame.T.drop_duplicates().T
    frame.index.name = None
    return frame.astype(float)


def _pca_unit(X: np.ndarray, n_components: int | None) -> np.ndarray:
    """Z-score columns, keep at most `n_components` principal components, scale to [0, 1]."""
    X = (X - X.mean(0)) / np.where(X.std(0) > 0, X.std(0), 1.0)
    if n_components is not None:
        U, S, _ = np.linalg.svd(X - X.mean(0), full_matrices=False)
        rank = int((S > 1e-8 * S[0]).sum()) if len(S) and S[0] > 0 else 0
        keep = max(1, min(n_components, rank))
        X = U[:, :keep] * S[:keep]
    return _unit(X)


def _unit(X: np.ndarray) -> np.ndarray:
    lo, hi = X.min(0), X.max(0)
    return (X - lo) / np.where(hi > lo, hi - lo, 1.0)


def factor_table(factor: FactorSpec, levels: list[Any], base_dir: Path | None) -> FactorTable:
    """Featurise one factor's levels as its spec says."""
    attributes: dict[str, np.ndarray] = {}
    if factor.kind == "numeric":
        values = np.asarray(levels, dtype=np.float64)[:, None]
        attributes[factor.name] = values[:, 0]
        return FactorTable(factor.name, levels, _unit(values), [factor.name], attributes)
    keys = [str(v) for v in levels]
    if factor.encoding_or_default == "ohe":
        X = np.eye(len(levels))
        names = [f"{factor.name}={k}" for k in keys]
    else:
        blocks = [read_descriptors(resolve(p, base_dir), keys, factor.key)
                  for p in factor.descriptors]
        frame = pd.concat(blocks, axis=1)
        X = _pca_unit(frame.to_numpy(np.float64), factor.pca)
        names = ([f"{factor.name}.pc{k + 1}" for k in range(X.shape[1])] if factor.pca
                 else [f"{factor.name}.{c}" for c in frame.columns])
    if factor.attributes:
        table = pd.read_csv(resolve(factor.attributes, base_dir))
        key = next((c for c in table.columns if set(keys) <= set(table[c].astype(str))), None)
        if key is None:
            raise ValueError(f"{factor.attributes}: no column covers the levels of '{factor.name}'")
        table = table.drop_duplicates(key)
        table.index = table[key].astype(str)
        for col in table.columns:
            if col != key and pd.api.types.is_numeric_dtype(table[col]):
                attributes[col] = table.loc[keys, col].to_numpy(np.float64)
    return FactorTable(factor.name, levels, X.astype(np.float64), names, attributes)


# -- candidates --------------------------------------------------------------
def _level(factor: FactorSpec, value: Any) -> Any:
    return float(value) if factor.kind == "numeric" else str(value)


def _fmt(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def candidate_id(spec: ReactionDesign, levels: dict[str, Any]) -> str:
    """Return the readable id of a combination of levels: `base=..|ligand=..|T=..`."""
    return "|".join(f"{f.name}={_fmt(levels[f.name])}" for f in spec.factors)


def read_index(spec: ReactionDesign, base_dir: Path | None) -> pd.DataFrame:
    """Read the index CSV with one column per factor (named by factor) and its levels typed."""
    path = resolve(spec.table, base_dir)
    frame = pd.read_csv(path)
    missing = [f.column_or_name for f in spec.factors if f.column_or_name not in frame.columns]
    if spec.id_column and spec.id_column not in frame.columns:
        missing.append(spec.id_column)
    if missing:
        raise ValueError(f"{path}: no column(s) {missing} (has {list(frame.columns)})")
    out = pd.DataFrame({f.name: [_level(f, v) for v in frame[f.column_or_name]]
                        for f in spec.factors})
    for col in frame.columns:
        if col not in out.columns:
            out[col] = frame[col].to_numpy()
    return out


def _excluded(spec: ReactionDesign, frame: pd.DataFrame) -> np.ndarray:
    """Return a boolean mask of rows that match any `constraints.exclude` rule."""
    kinds = {f.name: f for f in spec.factors}
    mask = np.zeros(len(frame), dtype=bool)
    for rule in spec.constraints.exclude:
        hit = np.ones(len(frame), dtype=bool)
        for name, wanted in rule.items():
            values = wanted if isinstance(wanted, list) else [wanted]
            hit &= frame[name].isin([_level(kinds[name], v) for v in values]).to_numpy()
        mask |= hit
    return mask


def candidate_frame(spec: ReactionDesign, base_dir: Path | None) -> pd.DataFrame:
    """Return the candidates, one row per reaction with a column per factor and an `id`."""
    index = read_index(spec, base_dir) if spec.table else None
    if spec.candidates == "table":
        frame = index.drop_duplicates([f.name for f in spec.factors]) if not spec.id_column \
            else index
    else:
        level_lists = []
        for f in spec.factors:
            if f.levels is not None:
                level_lists.append([_level(f, v) for v in f.levels])
            else:
                level_lists.append(sorted(index[f.name].unique()))
        frame = pd.DataFrame(list(itertools.product(*level_lists)),
                             columns=[f.name for f in spec.factors])
    frame = frame.loc[~_excluded(spec, frame)].reset_index(drop=True)
    if spec.candidates == "table" and spec.id_column:
        frame["id"] = frame[spec.id_column].astype(str)
    else:
        frame["id"] = [candidate_id(spec, row) for row in
                       frame[[f.name for f in spec.factors]].to_dict(orient="records")]
    return frame


def reaction_space(spec: ReactionDesign, base_dir: Path | None = None):
    """Build the `DesignSpace` of a reaction campaign: one feature block per factor."""
    from loop.design.space import DesignSpace

    frame = candidate_frame(spec, base_dir)
    if frame.empty:
        raise ValueError("design_space: no candidates left after constraints.exclude")
    blocks, names, attributes, spans = [], [], {}, []
    for f in spec.factors:
        levels = sorted(frame[f.name].unique())
        table = factor_table(f, levels, base_dir)
        rows = pd.Index(levels).get_indexer(frame[f.name])
        blocks.append(table.features[rows])
        spans.append((f.name, len(names), len(names) + len(table.feature_names)))
        names += table.feature_names
        for key, values in table.attributes.items():
            attributes[key] = values[rows]
    parameters = frame[[f.name for f in spec.factors]].to_dict(orient="records")
    return DesignSpace(ids=frame["id"].tolist(), X=np.concatenate(blocks, 1).astype(np.float32),
                       feature_names=names, parameters=parameters, attributes=attributes,
                       blocks=spans)


def reaction_lookup(spec: ReactionDesign, value_column: str,
                    base_dir: Path | None = None) -> dict[str, float]:
    """Map candidate id -> measured value from the index CSV (what a simulated lab answers)."""
    frame = read_index(spec, base_dir)
    if value_column not in frame.columns:
        raise ValueError(f"{spec.table}: no column '{value_column}' (lab.value_column)")
    frame = frame.dropna(subset=[value_column])
    if spec.candidates == "table" and spec.id_column:
        ids = frame[spec.id_column].astype(str)
    else:
        ids = pd.Series([candidate_id(spec, row) for row in
                         frame[[f.name for f in spec.factors]].to_dict(orient="records")])
    values = frame[value_column].astype(float).to_numpy()
    lookup: dict[str, float] = {}
    for cid, value in zip(ids, values):
        lookup.setdefault(cid, float(value))
    return lookup
