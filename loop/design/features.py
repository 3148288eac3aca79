"""Gene features from pathway gene sets (GMT files) and user tables.

Genes that act in the same complex or pathway tend to move a readout together,
so a gene is described by the gene sets it belongs to. Two layouts:

- `membership_features` (the default): the gene x set membership matrix, each
  set weighted by 1/sqrt(size), plus flags for core essential genes and genes
  in no set, in named blocks for the block-linear ("shared pathways") GP.
- `gene_features`: the same membership reduced to `n_components` dimensions by
  a truncated SVD, plus log(1 + number of sets) and the two flags, for
  instruments with stationary kernels (RBF GP, deep ensemble).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd


def read_gmt(path: Path) -> dict[str, set[str]]:
    """Read a GMT file: `name<TAB>id<TAB>gene<TAB>gene...` per line."""
    sets: dict[str, set[str]] = {}
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            parts = line.rstrip("\n").split("\t")
            if len(parts) < 3:
                continue
            genes = {g.strip().upper() for g in parts[2:] if g.strip()}
            if genes:
                sets[f"{path.stem}:{parts[0]}"] = genes
    return sets


def read_gene_list(path: Path) -> set[str]:
    """Read a list of gene symbols: first column of a text/TSV file or a `.npy` array."""
    if path.suffix == ".npy":
        values = np.load(path, allow_pickle=False)
        return {str(v).upper() for v in np.asarray(values).ravel()}
    genes = set()
    with open(path, encoding="utf-8") as handle:
        for i, line in enumerate(handle):
            token = line.strip().split("\t")[0].split(",")[0].strip()
            if not token or (i == 0 and token.upper() in {"GENE", "GENES", "SYMBOL"}):
                continue
            genes.add(token.upper())
    return genes


def membership_matrix(genes: Sequence[str], gene_sets: dict[str, set[str]]) -> np.ndarray:
    """Return the `n_genes x n_sets` 0/1 membership matrix (float32)."""
    index = {g.upper(): i for i, g in enumerate(genes)}
    M = np.zeros((len(genes), len(gene_sets)), dtype=np.float32)
    for j, members in enumerate(gene_sets.values()):
        rows = [index[g] for g in members if g in index]
        M[rows, j] = 1.0
    return M


def _svd_embedding(M: np.ndarray, n_components: int, seed: int) -> np.ndarray:
    """Embed rows of an inverse-size-weighted membership matrix by truncated SVD."""
    sizes = M.sum(axis=0)
    keep = sizes >= 2
    if not keep.any():
        return np.zeros((M.shape[0], n_components), dtype=np.float32)
    W = M[:, keep] / np.sqrt(sizes[keep])
    k = int(min(n_components, min(W.shape) - 1))
    import torch

    torch.manual_seed(seed)
    U, S, _ = torch.svd_lowrank(torch.from_numpy(W), q=k + 10, niter=4)
    Z = (U[:, :k] * S[:k]).numpy()
    scale = Z.std(axis=0, keepdims=True)
    Z = Z / np.where(scale > 0, scale, 1.0)
    if k < n_components:
        Z = np.pad(Z, ((0, 0), (0, n_components - k)))
    return Z.astype(np.float32)


def gene_features(
    genes: Sequence[str],
    gmt_paths: Iterable[Path] = (),
    *,
    n_components: int = 64,
    essential_path: Path | None = None,
    table_path: Path | None = None,
    seed: int = 0,
    prior_paths: Sequence[Path] = (),
) -> tuple[np.ndarray, list[str]]:
    """Build an `n_genes x d` feature matrix and its column names.

    Args:
        genes: gene symbols, in candidate order.
        gmt_paths: gene-set files (Reactome, WikiPathways, ...).
        n_components: SVD dimensions of the gene-set membership.
        essential_path: optional list of core essential genes (e.g. CEGv2).
        table_path: optional CSV whose first column is the gene symbol and whose
            other numeric columns are per-gene features; genes missing from it
            get zeros and a `table_missing` flag.
        seed: seed of the randomised SVD.
        prior_paths: earlier screens (`prior_screen_features`), two columns each.
    """
    columns: list[np.ndarray] = []
    names: list[str] = []
    sets: dict[str, set[str]] = {}
    for path in gmt_paths:
        sets.update(read_gmt(Path(path)))
    if sets:
        M = membership_matrix(genes, sets)
        columns.append(_svd_embedding(M, n_components, seed))
        names += [f"pathway_svd_{i}" for i in range(n_components)]
        n_sets = M.sum(axis=1, keepdims=True)
        columns += [np.log1p(n_sets), (n_sets > 0).astype(np.float32)]
        names += ["log_n_sets", "is_annotated"]
    if essential_path is not None:
        essential = read_gene_list(Path(essential_path))
        columns.append(np.array([[g.upper() in essential] for g in genes], dtype=np.float32))
        names.append("is_essential")
    if table_path is not None:
        block, block_names = _table_features(genes, Path(table_path))
        columns.append(block)
        names += block_names
    for path in prior_paths:
        block, block_names = prior_screen_features(genes, Path(path))
        columns.append(block)
        names += block_names
    if not columns:
        raise ValueError("no gene features: give gene-set files, an essential list or a table")
    return np.concatenate(columns, axis=1).astype(np.float32), names


def _table_features(genes: Sequence[str], path: Path) -> tuple[np.ndarray, list[str]]:
    from loop.design.datasets import read_table

    header = pd.read_csv(path, nrows=0).columns
    if len(header) == 0:
        raise ValueError(f"{path}: no columns")
    key = header[0]
    frame = read_table(path, [key], ids=key)
    frame[key] = frame[key].str.upper()
    numeric = frame.set_index(key).select_dtypes("number")
    if numeric.empty:
        raise ValueError(f"{path}: no numeric feature columns after the gene column")
    numeric = numeric[~numeric.index.duplicated()]
    aligned = numeric.reindex([g.upper() for g in genes])
    missing = aligned.isna().all(axis=1).to_numpy(dtype=np.float32)[:, None]
    values = aligned.fillna(0.0).to_numpy(dtype=np.float32)
    sd = values.std(axis=0, keepdims=True)
    values = (values - values.mean(axis=0, keepdims=True)) / np.where(sd > 0, sd, 1.0)
    return np.concatenate([values, missing], axis=1), [*map(str, numeric.columns), "table_missing"]


def membership_features(
    genes: Sequence[str],
    gmt_paths: Iterable[Path] = (),
    *,
    essential_path: Path | None = None,
    table_path: Path | None = None,
    prior_paths: Sequence[Path] = (),
    min_set_size: int = 2,
) -> tuple[np.ndarray, list[str], list[tuple[str, int, int]]]:
    """Build gene features in blocks, for the block-linear ("shared pathways") kernel.

    Blocks: `pathways` (the gene x set membership, each set of at least
    `min_set_size` genes weighted 1/sqrt(size), so the inner product of two rows
    counts shared pathways, small ones more), `essential` (core essential flag),
    `unannotated` (gene in no set), `table` (a user's per-gene features) and one
    `prior:NAME` block per earlier screen (`prior_screen_features`).

    Returns:
        The `n x d` float32 matrix, column names, and `(block, start, stop)` ranges.
    """
    columns: list[np.ndarray] = []
    names: list[str] = []
    blocks: list[tuple[str, int, int]] = []

    def add(block: str, values: np.ndarray, cols: list[str]) -> None:
        start = sum(c.shape[1] for c in columns)
        columns.append(values.astype(np.float32))
        names.extend(cols)
        blocks.append((block, start, start + values.shape[1]))

    sets: dict[str, set[str]] = {}
    for path in gmt_paths:
        sets.update(read_gmt(Path(path)))
    if sets:
        M = membership_matrix(genes, sets)
        sizes = M.sum(axis=0)
        keep = sizes >= min_set_size
        kept = [name for name, k in zip(sets, keep) if k]
        add("pathways", M[:, keep] / np.sqrt(sizes[keep]), kept)
        add("unannotated", (M.sum(axis=1, keepdims=True) == 0), ["is_unannotated"])
    if essential_path is not None:
        essential = read_gene_list(Path(essential_path))
        add("essential", np.array([[g.upper() in essential] for g in genes]), ["is_essential"])
    if table_path is not None:
        block, block_names = _table_features(genes, Path(table_path))
        add("table", block, block_names)
    for path in prior_paths:
        add(f"prior:{Path(path).stem}", *prior_screen_features(genes, Path(path)))
    if not columns:
        raise ValueError("no gene features: give gene-set files, an essential list or a table")
    return np.concatenate(columns, axis=1), names, blocks


def prior_screen_features(genes: Sequence[str], path: Path) -> tuple[np.ndarray, list[str]]:
    """Two columns from an earlier screen: how far each gene moved, and whether it was screened.

    The effect is `log1p(|score - median| / MAD)` (robust, so screens on any
    scale are comparable, and bounded in how much one extreme gene weighs);
    genes the earlier screen did not test get 0 and a 0 in the second column
    (a focused library's choice of genes is itself information).

    Returns:
        The `n x 2` columns and their names, `STEM_effect` and `STEM_screened`.
    """
    from loop.design.datasets import TableError, read_table

    header = pd.read_csv(path, nrows=0).columns
    if len(header) < 2:
        raise TableError(f"{path}: an earlier screen needs a gene column and a score column")
    key = header[0]
    score = "Score" if "Score" in header else header[1]
    frame = read_table(path, [key, score], ids=key, numeric=[score])
    values = frame.groupby(frame[key].str.upper())[score].mean()
    centre = float(values.median())
    spread = float((values - centre).abs().median()) or float(values.std()) or 1.0
    effect = np.log1p((values - centre).abs() / spread)
    aligned = effect.reindex([g.upper() for g in genes])
    screened = aligned.notna().to_numpy(dtype=np.float32)
    columns = np.stack([aligned.fillna(0.0).to_numpy(dtype=np.float32), screened], axis=1)
    return columns, [f"{path.stem}_effect", f"{path.stem}_screened"]
