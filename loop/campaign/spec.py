"""The campaign spec: one question asked of one lab, written as YAML.

Every model here is frozen and forbids unknown fields, so a typo in a campaign
file fails with a message naming the field instead of being ignored.

(About 480 lines, kept whole on purpose: the campaign file's whole schema in one
place, so a reader sees every field a YAML file may hold.)
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (BaseModel, ConfigDict, Field, ValidationError, field_validator,
                      model_validator)


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
    features: Literal["membership", "svd"] = Field(
        "membership", description="membership: gene-set blocks for the 'linear' instrument; "
        "svd: n_components dense dimensions for 'gp' or 'ensemble'")
    n_components: int = Field(64, ge=1, le=1024)
    essential_genes: str | None = "data:screens/CEGv2.txt"
    feature_table: str | None = Field(None, description="CSV: gene, then numeric features")
    prior_screens: list[str] | None = Field(
        None, description="earlier screens as prior knowledge (Gene,Score CSVs, e.g. "
        "data:screens/ground_truth_IL2.csv): each becomes a feature block whose weight the "
        "campaign learns from its own data. Default: the public single-gene screens of the "
        "data collection that are on this machine (none is downloaded for it), never the "
        "campaign's own screen; [] for none")


class TableDesign(_Spec):
    """Candidates are the rows of a CSV: an id column and numeric feature columns."""

    kind: Literal["table"] = "table"
    table: str
    id_column: str
    feature_columns: list[str] | None = Field(None, description="default: all numeric columns")


class FactorSpec(_Spec):
    """One factor of a reaction: a column of the index CSV and how its levels become features.

    A categorical factor is encoded one-hot (`encoding: ohe`) or by the
    `descriptors` of its levels (`encoding: descriptors`, the default when files
    are given): CSVs keyed by the level (column `key`, else detected), cleaned,
    z-scored, reduced to `pca` components (null: keep all) and scaled to [0, 1].
    A numeric factor is scaled to [0, 1]. `levels` lists the levels of a
    `product` design (default: those in the index CSV); `attributes` is a CSV
    keyed by level whose numeric columns (e.g. cost) become candidate attributes.
    """

    name: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
    column: str | None = Field(None, description="column of the index CSV (default: name)")
    kind: Literal["categorical", "numeric"] = "categorical"
    descriptors: list[str] = Field(default_factory=list)
    key: str | None = None
    encoding: Literal["ohe", "descriptors"] | None = None
    pca: int | None = Field(5, ge=1, le=256)
    levels: list[str | float] | None = None
    attributes: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _one_file_is_a_list(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("descriptors"), str):
            data = {**data, "descriptors": [data["descriptors"]]}
        return data

    @model_validator(mode="after")
    def _encoding_fits_kind(self) -> "FactorSpec":
        if self.kind == "numeric" and (self.descriptors or self.encoding):
            raise ValueError(f"factor '{self.name}': a numeric factor takes no descriptors "
                             "or encoding")
        if self.encoding == "descriptors" and not self.descriptors:
            raise ValueError(f"factor '{self.name}': encoding 'descriptors' needs "
                             "'descriptors' files")
        return self

    @property
    def column_or_name(self) -> str:
        return self.column or self.name

    @property
    def encoding_or_default(self) -> str:
        return self.encoding or ("descriptors" if self.descriptors else "ohe")


class ReactionConstraints(_Spec):
    """Combinations left out: each rule maps factor names to a level or a list of levels."""

    exclude: list[dict[str, str | float | list[str | float]]] = Field(default_factory=list)


class ReactionDesign(_Spec):
    """Candidates are reactions: one level of every factor.

    `candidates: table` takes the rows of the index CSV `table` as the allowed
    runs (ids from `id_column`, else `factor=level|...`); `product` takes every
    combination of the levels. Either way `constraints.exclude` removes rules' matches.
    """

    kind: Literal["reactions"] = "reactions"
    table: str | None = Field(None, description="index CSV: one row per reaction")
    id_column: str | None = None
    candidates: Literal["table", "product"] = "table"
    factors: list[FactorSpec] = Field(min_length=1)
    constraints: ReactionConstraints = ReactionConstraints()

    @model_validator(mode="after")
    def _consistent(self) -> "ReactionDesign":
        names = [f.name for f in self.factors]
        if len(set(names)) != len(names):
            raise ValueError(f"factors: names must be unique, got {names}")
        if self.candidates == "table" and not self.table:
            raise ValueError("candidates 'table' needs 'table', the index CSV of allowed runs")
        if not self.table and any(f.levels is None for f in self.factors):
            raise ValueError("without 'table', every factor needs 'levels'")
        for k, rule in enumerate(self.constraints.exclude):
            unknown = sorted(set(rule) - set(names))
            if unknown or not rule:
                raise ValueError(f"constraints.exclude[{k}]: unknown factor(s) {unknown}; "
                                 f"factors are {names}")
        return self


DesignSpec = Annotated[GeneDesign | TableDesign | ReactionDesign, Field(discriminator="kind")]


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
    transform: Literal["none", "log"] = Field(
        "none", description="log: train on log1p(target / s), s a robust scale of round 0's "
        "targets; tames heavy-tailed screens")
    secondary: list["SecondaryObjective"] = Field(default_factory=list)
    constraints: list["OutcomeConstraint"] = Field(default_factory=list)

    @model_validator(mode="after")
    def _hits_need_a_rule(self) -> "ObjectiveSpec":
        if self.kind == "hits" and (self.threshold is None) == (self.top_fraction is None):
            raise ValueError("objective 'hits' needs exactly one of threshold or top_fraction")
        if self.secondary and self.kind not in ("maximize", "minimize"):
            raise ValueError("objective.secondary needs kind 'maximize' or 'minimize'")
        return self


class SecondaryObjective(_Spec):
    """A second objective known before measuring: a candidate attribute (e.g. ligand cost).

    It is traded against the readout by a random Chebyshev scalarisation drawn
    afresh each round (ParEGO), so a single-output instrument serves both.
    """

    attribute: str
    direction: Literal["maximize", "minimize"] = "minimize"


class OutcomeConstraint(_Spec):
    """Bounds on the readout (`name: value`) or on a candidate attribute.

    Measurements outside are penalised below every feasible one in training
    and left off the Pareto front.
    """

    name: str = "value"
    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _has_a_bound(self) -> "OutcomeConstraint":
        if self.min is None and self.max is None:
            raise ValueError(f"constraint on '{self.name}' needs 'min' or 'max'")
        return self


ObjectiveSpec.model_rebuild()


class BudgetSpec(_Spec):
    """How much to ask: rounds x batch size, how to start, how many rounds may be open.

    A round is open until each of its experiments is done, failed or
    cancelled. With `max_open_rounds: 1` (the default) the next round is
    proposed once the one before is over; a larger value lets a campaign
    propose ahead while the lab still works (what is pending counts as pending).
    """

    rounds: int = Field(5, ge=1, le=1000)
    batch_size: int = Field(128, ge=1, le=100_000)
    max_open_rounds: int = Field(1, ge=1, le=100)
    initial_strategy: Literal["random", "essential", "mixed"] | None = Field(
        None, description="round 0, before any data: random; essential (core essential "
        "genes first, at random); or mixed (a share `essential_share` of core essential "
        "genes, the rest random, so the model learns whether they are hits). Default: "
        "GENE_INITIAL_STRATEGY for gene designs with essential_genes, else random")
    essential_share: float = Field(0.25, ge=0, le=1, description="share of round 0 given to "
                                   "core essential genes by initial_strategy mixed")


class InstrumentSpec(_Spec):
    kind: str | None = Field(None, description="default: 'linear' for gene designs with "
                             "membership features, 'additive' for reactions, 'gp' otherwise")
    options: dict[str, Any] = Field(default_factory=dict)


class StrategySpec(_Spec):
    """The agent. Default: `ucb` (beta 0.25, measured best on screens); a reaction
    campaign that names no strategy gets `ucb` with beta 4 (measured best on the
    reaction tables, seeds held out from the benchmark: docs/reactions.md)."""

    name: str = "ucb"
    options: dict[str, Any] = Field(default_factory=dict)


#: Round 0 of a gene campaign with an essential-gene list that names none: a quarter
#: core essential genes (`essential_share`), the rest at random
#: (chosen leave-one-screen-out: docs/screens.md).
GENE_INITIAL_STRATEGY = "mixed"

#: The strategy of a reaction campaign that names none.
REACTION_STRATEGY = {"name": "ucb", "options": {"beta": 4.0}}


class LabSpec(_Spec):
    """The lab adapter and its settings.

    `kind` is a registered adapter kind (`simulated`, `http`, `manual`, or one a
    lab's package adds through the `loopwell.adapters` entry points), and
    `settings` are validated by that kind's own settings model. For
    `simulated`, `table` names the published measurements the lab answers from
    (`id_column`, `value_column`). `manual` is for results that come back
    through `Campaign.tell` or the service (a run never waits for them).
    `timeout_s` is how long one run waits for the lab before it returns
    (the round stays open and a later run collects).
    """

    kind: str = "simulated"
    table: str | None = None
    id_column: str = "Gene"
    value_column: str = "Score"
    settings: dict[str, Any] = Field(default_factory=dict)
    poll_interval_s: float = Field(1.0, gt=0)
    timeout_s: float = Field(3600.0, ge=0)
    expire_after_s: float | None = Field(
        None, gt=0, description="experiments still pending this long after dispatch are "
        "cancelled, and the lab is told to cancel them (default: never; a round waits)")

    @model_validator(mode="before")
    @classmethod
    def _manual_never_waits(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("kind") == "manual" and "timeout_s" not in data:
            data = {**data, "timeout_s": 0.0}
        return data

    @model_validator(mode="after")
    def _settings_fit_the_kind(self) -> "LabSpec":
        from adapters import adapter_kinds, validate_settings

        if self.kind == "simulated" and not self.table:
            raise ValueError("a simulated lab needs 'table', the measurements it answers from")
        try:
            validate_settings(self.kind, self.settings)
        except ValueError as exc:
            text = str(exc)
            if text.startswith("unknown lab adapter"):
                raise ValueError(f"unknown lab kind '{self.kind}'; known: "
                                 f"{', '.join(adapter_kinds())}") from None
            raise ValueError(" ".join(text.split())) from None
        return self


class ReferenceSpec(_Spec):
    """Known answers of a simulated campaign: used in reports, never by the agent."""

    hits: str | None = Field(None, description="hit list: .npy array or text list of ids")


class ScheduleSpec(_Spec):
    """When a campaign runs by itself: a cron line in a time zone, or every `interval_s`.

    Each scheduled run does what `loopwell run` does: it collects what the lab
    has sent, finishes the rounds that are complete and proposes the next one
    when `budget.max_open_rounds` allows, so "every weekday at 06:00" proposes
    the next plate at 06:00 if the last one has its results. Give the lab a
    short `lab.timeout_s` (e.g. 0): a scheduled run need not wait for the lab,
    the next one collects. Schedules run as Prefect deployments
    (docs/schedules.md).
    """

    cron: str | None = Field(None, description="five-field cron line, e.g. '0 6 * * 1-5'")
    interval_s: float | None = Field(None, ge=1, le=366 * 86400)
    timezone: str = Field("UTC", description="IANA time zone of the cron line, "
                          "e.g. Europe/Berlin")

    @model_validator(mode="after")
    def _one_rule(self) -> "ScheduleSpec":
        if (self.cron is None) == (self.interval_s is None):
            raise ValueError("a schedule needs exactly one of cron or interval_s")
        return self

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone '{value}' (an IANA name, e.g. "
                             "Europe/Berlin)") from None
        return value

    @field_validator("cron")
    @classmethod
    def _valid_cron(cls, value: str | None) -> str | None:
        if value is None:
            return value
        # Prefect's own check (its vendored croniter), so what passes here deploys
        from prefect._vendor.croniter import croniter

        if len(value.split()) != 5 or not croniter.is_valid(value):
            raise ValueError(f"'{value}' is not a five-field cron line (minute hour "
                             "day-of-month month day-of-week), e.g. '0 6 * * 1-5'")
        return value


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
    schedule: ScheduleSpec | None = Field(
        None, description="run by itself on a cron line or an interval (docs/schedules.md)")

    @model_validator(mode="before")
    @classmethod
    def _design_default_strategy(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("strategy") is None and \
                isinstance(data.get("design_space"), dict) and \
                data["design_space"].get("kind") == "reactions":
            data = {**data, "strategy": REACTION_STRATEGY}
        return data

    @model_validator(mode="before")
    @classmethod
    def _hits_on_genes_are_logged(cls, data: Any) -> Any:
        """A gene campaign hunting hits trains on log1p(|score| / s) unless it says otherwise."""
        if not isinstance(data, dict) or not isinstance(data.get("design_space"), dict) or \
                data["design_space"].get("kind", "genes") != "genes":
            return data
        objective = data.get("objective")
        if isinstance(objective, dict) and objective.get("kind") == "hits" and \
                "transform" not in objective:
            data = {**data, "objective": {**objective, "transform": "log"}}
        return data


def instrument_kind(spec: CampaignSpec) -> str:
    """Return the instrument a campaign uses (its own choice, or the design's default)."""
    if spec.instrument.kind:
        return spec.instrument.kind
    design = spec.design_space
    if isinstance(design, GeneDesign) and design.features == "membership":
        return "linear"
    if isinstance(design, ReactionDesign):
        return "additive"
    return "gp"


def initial_strategy(spec: CampaignSpec) -> str:
    """Return the strategy of round 0 (its own choice, or the design's default)."""
    if spec.budget.initial_strategy:
        return spec.budget.initial_strategy
    design = spec.design_space
    if isinstance(design, GeneDesign) and design.essential_genes:
        return GENE_INITIAL_STRATEGY
    return "random"


class SpecError(ValueError):
    """A campaign file that cannot be used; the message names the field."""


#: fields a running campaign may change: they alter neither what was asked nor how
#: what was measured is read (more rounds, its description, how to reach the lab)
COMPATIBLE_CHANGES = ("description", "budget.rounds", "approval", "lab.settings",
                      "lab.timeout_s", "lab.poll_interval_s", "schedule")


def spec_changes(old: Any, new: Any, prefix: str = "") -> list[str]:
    """Return the dotted paths of the fields that differ between two spec mappings."""
    if isinstance(old, dict) and isinstance(new, dict):
        out: list[str] = []
        for key in sorted(set(old) | set(new), key=str):
            path = f"{prefix}.{key}" if prefix else str(key)
            out += spec_changes(old.get(key), new.get(key), path)
        return out
    return [] if old == new else [prefix or "(top level)"]


def incompatible_changes(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Return the changed fields that a campaign with experiments under way may not change."""
    return [p for p in spec_changes(old, new)
            if not any(p == c or p.startswith(c + ".") for c in COMPATIBLE_CHANGES)]


def load_spec(path: str | Path) -> CampaignSpec:
    """Read and validate a campaign YAML file."""
    path = Path(path)
    try:
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=_UniqueKeyLoader)
    except (FileNotFoundError, IsADirectoryError) as exc:
        raise SpecError(f"campaign file not found: {path}") from exc
    except UnicodeDecodeError as exc:
        raise SpecError(f"{path}: not a text file ({exc.reason})") from exc
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        line = f" (line {where.line + 1})" if where is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise SpecError(f"{path}: not valid YAML{line}: {problem}") from None
    return parse_spec(raw, source=str(path))


class _UniqueKeyLoader(yaml.SafeLoader):
    """A safe YAML loader that refuses a key given twice (the second would win unseen)."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key '{key}' is given twice", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


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
