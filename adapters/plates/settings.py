"""The settings of a plate-reader folder lab (kind ``plate_folder``)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from adapters.plates.layout import samples_per_plate


class PlateFolderSettings(BaseModel):
    """How batches become plates, and where the files go.

    Attributes:
        inbox: Folder the plate reader's exports are dropped into (watched).
        outbox: Folder the worklists and plate maps are written to.
        state_dir: Folder of the adapter's own state (its plates, the files it
            has read); ``<outbox>/.loopwell`` by default.
        plate_wells: 96 or 384.
        n_replicates: Wells per experiment on its plate.
        positive_controls: Candidate ids (or names) of the positive controls,
            cycled over `n_positive` wells.
        n_positive: Positive control wells on each plate.
        negative_controls: Same for the negative controls.
        n_negative: Negative control wells on each plate.
        skip_edge_wells: Leave the outer ring of wells empty.
        seed: Seed of the well positions (same seed, same layout).
        volume_ul: Volume of each transfer in the worklist.
        normalisation: ``percent_of_control`` (0 at the negative controls'
            mean, 100 at the positive ones') or ``raw`` (the reader's values).
        min_z_prime: A plate whose Z' is below it is rejected and not
            ingested (None: no check; Z' is still reported).
        settle_s: A file younger than this (by its modification time) is left
            for the next look: the reader may still be writing it.
        max_file_bytes: Larger files are quarantined unread.
        value_column: Header of the values' column in long (``well,value``)
            exports, any case (e.g. ``Abs 450``).
        job_timeout_s: A job whose plates are not all read this long after
            submission is reported failed (its unread experiments close as
            failed); None waits for ever (cancel it by hand).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    inbox: Path
    outbox: Path
    state_dir: Path | None = None
    plate_wells: Literal[96, 384] = 96
    n_replicates: int = Field(2, ge=1, le=16)
    positive_controls: list[str] = Field(default_factory=lambda: ["positive"], min_length=1)
    n_positive: int = Field(4, ge=0)
    negative_controls: list[str] = Field(default_factory=lambda: ["negative"], min_length=1)
    n_negative: int = Field(4, ge=0)
    skip_edge_wells: bool = False
    seed: int = 0
    volume_ul: float = Field(5.0, gt=0)
    normalisation: Literal["percent_of_control", "raw"] = "percent_of_control"
    min_z_prime: float | None = Field(0.5, le=1)
    settle_s: float = Field(2.0, ge=0)
    max_file_bytes: int = Field(20_000_000, gt=0)
    value_column: str = Field("value", min_length=1)
    job_timeout_s: float | None = Field(None, gt=0)

    @model_validator(mode="after")
    def _controls_fit(self) -> PlateFolderSettings:
        if self.min_z_prime is not None and (self.n_positive < 2 or self.n_negative < 2):
            raise ValueError("min_z_prime needs n_positive and n_negative of 2 or more "
                             "(a standard deviation of each); set min_z_prime: null to skip QC")
        if self.normalisation == "percent_of_control" and (self.n_positive < 1
                                                           or self.n_negative < 1):
            raise ValueError("normalisation percent_of_control needs n_positive and "
                             "n_negative of 1 or more; use normalisation: raw")
        samples_per_plate(n_wells=self.plate_wells, n_replicates=self.n_replicates,
                          n_positive=self.n_positive, n_negative=self.n_negative,
                          skip_edges=self.skip_edge_wells)
        if self.inbox.resolve() == self.outbox.resolve():
            raise ValueError("inbox and outbox must be different folders")
        return self

    @property
    def state_folder(self) -> Path:
        """Return the folder of the adapter's state."""
        return self.state_dir if self.state_dir is not None else self.outbox / ".loopwell"
