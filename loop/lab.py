"""Build a campaign's lab adapter and its reference answers from the spec."""

from __future__ import annotations

from pathlib import Path

from adapters import LabAdapter, make_adapter
from loop.datasets import resolve
from loop.features import read_gene_list
from loop.spec import CampaignSpec, GeneDesign, ReactionDesign
from loop.tables import read_table


def lookup_table(spec: CampaignSpec, base_dir: Path | None) -> dict[str, float]:
    """Map candidate id -> published value, for a simulated lab."""
    if isinstance(spec.design_space, ReactionDesign):
        from loop.reactions import reaction_lookup

        return reaction_lookup(spec.design_space.model_copy(update={"table": spec.lab.table}),
                               spec.lab.value_column, base_dir)
    path = resolve(spec.lab.table, base_dir)
    frame = read_table(path, [spec.lab.id_column])
    if spec.lab.value_column not in frame.columns:
        raise ValueError(f"{path}: no column '{spec.lab.value_column}' (has {list(frame.columns)})")
    prefix = spec.design_space.prefix if isinstance(spec.design_space, GeneDesign) else ""
    frame = frame.dropna(subset=[spec.lab.value_column]).drop_duplicates(spec.lab.id_column)
    return {f"{prefix}{k}": float(v) for k, v in
            zip(frame[spec.lab.id_column], frame[spec.lab.value_column])}


def build_lab(spec: CampaignSpec, base_dir: Path | None, state_dir: Path) -> LabAdapter:
    """Create the lab adapter a spec names (the simulated one persists its jobs)."""
    if spec.lab.kind == "simulated":
        settings = {"seed": spec.seed, **spec.lab.settings}
        return make_adapter("simulated", lookup=lookup_table(spec, base_dir),
                            state_path=str(Path(state_dir) / "lab.json"), **settings)
    return make_adapter(spec.lab.kind, **spec.lab.settings)


def reference_hits(spec: CampaignSpec, base_dir: Path | None, ids: list[str]) -> set[str] | None:
    """Return the known hits (as candidate ids) of a simulated campaign, if given."""
    if not spec.reference.hits:
        return None
    genes = read_gene_list(resolve(spec.reference.hits, base_dir))
    prefix = spec.design_space.prefix if isinstance(spec.design_space, GeneDesign) else ""
    wanted = {f"{prefix}{g}" for g in genes} | genes
    upper = {cid.upper(): cid for cid in ids}
    return {upper[w.upper()] for w in wanted if w.upper() in upper}
