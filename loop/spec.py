"""The campaign spec: one question asked of one lab, written as YAML.

Every model here is frozen and forbids unknown fields, so a typo in a campaign
file fails with a message naming the field instead of being ignored.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator


class _Spec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class GeneDesign(_Spec):
    """Candidates are genes (knockouts) listed in a CSV column; features from gene sets."""

    kind: Literal["genes"] = "genes"
    table: str = Field(description="CSV with one row per candidate gene (e.g. a screen)")
    id_column: str = "Gene"
    prefix: str = Field("KO:", description="prefix of candidate ids, e.g. KO:ZAP70")
    gene_sets: list[str] = Field(
        default_factory=lambda: [
            "data:genesets/ReactomePathways.gmt",
            "data:genesets/wikipathway.v7.2.symbols.gmt",
        ]
    )
    n_components: int = Field(64, ge=1, le=1024)
    essential_genes: str | None = "data:screens/CEGv2.txt"
    feature_table: str | None = Field(None, description="CSV: gene, then numeric features")


class TableDesign(_Spec):
    """Candidates are the rows of a CSV: an id column and numeric feature columns."""

    kind: Literal["table"] = "table"
    table: str
    id_column: str
    feature_columns: list[str] | None = Field(None, description="default: all numeric columns")


DesignSpec = Annotated[GeneDesign | TableDesign, Field(discriminator="kind")]


class ObjectiveSpec(_Spec):
    """What the campaign wants of the readout.

    `kind`: `maximize`, `minimize`, `maximize_abs` (largest effect either way), or
    `hits`: find the candidates whose readout passes a `threshold` (on |value|
    when `two_sided`) or lies in the `top_fraction` of all candidates.
    """

    kind: Literal["maximize", "minimize", "maximize_abs", "hits"] = "maximize"
    threshold: float | None = None
    top_fraction: float | None = Field(None, gt=0, lt=1)
    two_sided: bool = True

    @model_validator(mode="after")
    def _hits_need_a_rule(self) -> "ObjectiveSpec":
        if self.kind == "hits" and (self.threshold is None) == (self.top_fraction is None):
            raise ValueError("objective 'hits' needs exactly one of threshold or top_fraction")
        return self


class BudgetSpec(_Spec):
    rounds: int = Field(5, ge=1, le=1000)
    batch_size: int = Field(128, ge=1, le=100_000)
    initial_strategy: str = Field("random", description="strategy of round 0, before any data")


class InstrumentSpec(_Spec):
    kind: str = "gp"
    options: dict[str, Any] = Field(default_factory=dict)


class StrategySpec(_Spec):
    name: str = "ucb"
    options: dict[str, Any] = Field(default_factory=dict)


class LabSpec(_Spec):
    """The lab adapter and its settings.

    For `simulated`, `table` names the published measurements the lab answers
    from (`id_column`, `value_column`); other settings (noise_sd, latency_s,
    failure_rate, ...) pass to the adapter. For `http`, settings are base_url etc.
    """

    kind: Literal["simulated", "http"] = "simulated"
    table: str | None = None
    id_column: str = "Gene"
    value_column: str = "Score"
    settings: dict[str, Any] = Field(default_factory=dict)
    poll_interval_s: float = Field(1.0, gt=0)
    timeout_s: float = Field(3600.0, gt=0)

    @model_validator(mode="after")
    def _simulated_needs_table(self) -> "LabSpec":
        if self.kind == "simulated" and not self.table:
            raise ValueError("a simulated lab needs 'table', the measurements it answers from")
        return self


class ReferenceSpec(_Spec):
    """Known answers of a simulated campaign: used in reports, never by the agent."""

    hits: str | None = Field(None, description="hit list: .npy array or text list of ids")


class CampaignSpec(_Spec):
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
    description: str = ""
    design_space: DesignSpec
    objective: ObjectiveSpec = ObjectiveSpec()
    budget: BudgetSpec = BudgetSpec()
    instrument: InstrumentSpec = InstrumentSpec()
    strategy: StrategySpec = StrategySpec()
    lab: LabSpec
    reference: ReferenceSpec = ReferenceSpec()
    approval: Literal["auto", "manual"] = "auto"
    seed: int = 0


class SpecError(ValueError):
    """A campaign file that cannot be used; the message names the field."""


def load_spec(path: str | Path) -> CampaignSpec:
    """Read and validate a campaign YAML file."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise SpecError(f"campaign file not found: {path}") from exc
    except yaml.YAMLError as exc:
        raise SpecError(f"{path}: not valid YAML: {exc}") from exc
    return parse_spec(raw, source=str(path))


def parse_spec(raw: Any, source: str = "campaign") -> CampaignSpec:
    """Validate a campaign spec given as a mapping."""
    if not isinstance(raw, dict):
        raise SpecError(f"{source}: expected a mapping of fields, got {type(raw).__name__}")
    try:
        return CampaignSpec.model_validate(raw)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err["loc"]) or "(top level)"
            lines.append(f"  {where}: {err['msg']}")
        raise SpecError(f"{source}: invalid campaign spec\n" + "\n".join(lines)) from None
