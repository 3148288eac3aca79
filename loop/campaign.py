"""The campaign: the single stateful class of loopwell.

A round is fit -> propose -> approve -> dispatch -> collect -> finish. Every
step reads what it needs from the store and writes what it did before the next
one starts, so any step may be interrupted (Ctrl-C, kill -9) and the next run
picks up where the store says the campaign is: a proposal already stored is not
made again, a batch already dispatched is not sent again, and a measurement
already stored is not counted again.
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from adapters import (
    BatchRequest, ExperimentRequest, JobStatus, LabAdapter, MeasurementResult, ResultStatus,
)
from loop.base import PENDING_STATES
from loop.design import DesignSpace, build_design_space
from loop.hosts import init_params, make_host
from loop.initial import propose_initial
from loop.lab import build_lab, reference_hits
from loop.objective import (
    allowed_candidates, hit_threshold, pareto_front, robust_scale, scalarised_target, to_target,
)
from loop.spec import CampaignSpec, initial_strategy, instrument_kind
from loop.store import Experiment, SqlStore

#: called as hook(step, round_index, info) after each step; used for progress and tests
Hook = Callable[[str, int, dict[str, Any]], None]


@dataclass
class IngestReport:
    """What one delivery of results did to the store."""

    n_new: int = 0
    n_duplicate: int = 0
    n_failed: int = 0
    rejected: list[str] = field(default_factory=list)


class Campaign:
    """One question asked of one lab, persisted in a store."""

    def __init__(self, spec: CampaignSpec, store: SqlStore, *, state_dir: Path,
                 base_dir: Path | None = None, compute: str = "ray",
                 lab: LabAdapter | None = None, hook: Hook | None = None) -> None:
        self.spec = spec
        self.store = store
        # one folder per (store, campaign): the lab's jobs and the instrument's
        # checkpoint belong to the store that records the campaign
        store_key = hashlib.sha256(str(store.url).encode()).hexdigest()[:8]
        self.state_dir = Path(state_dir) / "campaigns" / f"{spec.name}-{store_key}"
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.base_dir = base_dir
        self.compute = compute
        self.hook = hook or (lambda step, r, info: None)
        self.store.create_campaign(spec.name, spec.model_dump(mode="json"))
        self.design: DesignSpace = build_design_space(
            spec.design_space, base_dir, cache_dir=Path(state_dir) / "features", seed=spec.seed)
        self._index = self.design.index()
        self._allowed = allowed_candidates(spec.objective, self.design.attributes, self.design.n)
        self.lab = lab if lab is not None else build_lab(spec, base_dir, self.state_dir)
        self.hits = reference_hits(spec, base_dir, self.design.ids)
        self._host = None
        self._X_ref = None

    # -- instruments ------------------------------------------------------
    @property
    def host(self):
        """The instrument host: a Ray actor (`compute="ray"`) or an in-process one."""
        if self._host is None:
            kind = instrument_kind(self.spec)
            opts = {"seed": self.spec.seed, **self.spec.instrument.options}
            if self.design.blocks and "blocks" in init_params(kind) and "blocks" not in opts:
                opts["blocks"] = [[a, b] for _, a, b in self.design.blocks]
            self._host = make_host(kind, opts, str(self.state_dir / "instrument"), self.compute)
        return self._host

    def close(self) -> None:
        if self._host is not None:
            self._host.close()
            self._host = None

    def _measured(self) -> tuple[list[str], list[int], np.ndarray]:
        """Return ids, design rows and mean readout (over replicates) of measured candidates."""
        by_candidate: dict[str, list[float]] = {}
        for m in self.store.measurements(self.spec.name):
            by_candidate.setdefault(m.candidate_id, []).append(m.value)
        ids = [cid for cid in by_candidate if cid in self._index]
        rows = [self._index[cid] for cid in ids]
        values = np.array([np.mean(by_candidate[cid]) for cid in ids], dtype=np.float64)
        return ids, rows, values

    def training_data(self) -> tuple[np.ndarray, np.ndarray, list[str]]:
        """Return features `n x d`, targets `n` and ids of every measured candidate."""
        ids, rows, values = self._measured()
        target = scalarised_target(self.spec.objective, values, rows, self.design.attributes,
                                   seed=self.spec.seed * 1_000_003 + len(ids),
                                   scale=self.target_scale())
        return self.design.X[rows], target, ids

    def pareto(self) -> list[dict[str, Any]]:
        """Return the measured candidates on the Pareto front (readout vs secondary objectives)."""
        ids, rows, values = self._measured()
        if not ids:
            return []
        keep = pareto_front(self.spec.objective, values, rows, self.design.attributes)
        names = [s.attribute for s in self.spec.objective.secondary]
        return [{"id": ids[k], "value": float(values[k]),
                 **{a: float(self.design.attributes[a][rows[k]]) for a in names}} for k in keep]

    def target_scale(self) -> float | None:
        """Return the scale of a `log` target transform: fixed by round 0's measurements."""
        if self.spec.objective.transform != "log":
            return None
        first = [m.value for m in self.store.measurements(self.spec.name)
                 if m.experiment_id.startswith(f"{self.spec.name}-r0-")]
        if not first:
            return None
        return robust_scale(to_target(self.spec.objective, np.array(first)))

    def target(self, values: np.ndarray) -> np.ndarray:
        """Map raw readouts to the scale the instrument is trained on."""
        return to_target(self.spec.objective, values, self.target_scale())

    # -- the steps of a round ---------------------------------------------
    def fit(self, r: int) -> dict[str, Any]:
        """Fit the instrument to everything measured so far (nothing before round 1)."""
        X, Y, _ = self.training_data()
        if r == 0 or len(Y) < 2 or self.spec.strategy.name == "random":
            return {"fit_s": 0.0, "n_train": int(len(Y))}
        import torch

        t0 = time.perf_counter()
        info = self.host.fit(torch.from_numpy(X).double(), torch.from_numpy(Y).double()[:, None])
        info = {**info, "fit_s": time.perf_counter() - t0, "n_train": int(len(Y))}
        self.hook("fit", r, info)
        return info

    def propose(self, r: int) -> list[Experiment]:
        """Propose round `r`'s batch and store it (a stored proposal is returned as is)."""
        have = self.store.experiments(self.spec.name, round=r)
        if have:
            return have
        asked = {e.candidate_id for e in self.store.experiments(self.spec.name)}
        free = [i for i, cid in enumerate(self.design.ids)
                if cid not in asked and self._allowed[i]]
        if not free:
            return []
        q = min(self.spec.budget.batch_size, len(free))
        pending_rows = [self._index[e.candidate_id] for e in
                        self.store.experiments(self.spec.name, states=PENDING_STATES)]
        _, Y, _ = self.training_data()
        use_model = r > 0 and len(Y) >= 2 and self.spec.strategy.name != "random"
        name = self.spec.strategy.name if use_model else (
            initial_strategy(self.spec) if r == 0 else "random")
        options = self.spec.strategy.options if use_model else {}
        seed = self.spec.seed * 100_003 + r
        t0 = time.perf_counter()
        if use_model:
            out = self.host.propose(name, options, self.design.X[free],
                                    self.design.X[pending_rows], q, seed)
        else:
            out = propose_initial(name, self._prior_flags(free), q, seed,
                                  self.spec.budget.essential_share)
        seconds = time.perf_counter() - t0
        chosen = [free[int(i)] for i in out["indices"]]
        mean, sd = out.get("mean"), out.get("sd")
        items = [
            Experiment(id=f"{self.spec.name}-r{r}-{self.design.ids[row]}", campaign=self.spec.name,
                       round=r, candidate_id=self.design.ids[row], state="proposed",
                       predicted_mean=None if mean is None else float(mean[k]),
                       predicted_sd=None if sd is None else float(sd[k]))
            for k, row in enumerate(chosen)
        ]
        self.store.add_experiments(items)
        self.store.update_round(self.spec.name, r, {
            "strategy": name, "instrument": instrument_kind(self.spec) if use_model else None,
            "propose_s": seconds, "agent_s": out.get("seconds"), "n_proposed": len(items),
            "n_pending": len(pending_rows)})
        self.hook("propose", r, {"propose_s": seconds, "n": len(items)})
        return self.store.experiments(self.spec.name, round=r)

    def _prior_flags(self, rows: list[int]) -> np.ndarray:
        """Return the `is_essential` feature of `rows` (all False without one)."""
        if "is_essential" not in self.design.feature_names:
            return np.zeros(len(rows), dtype=bool)
        col = self.design.feature_names.index("is_essential")
        return self.design.X[rows, col] > 0

    def approve(self, r: int) -> int:
        """Approve round `r`'s proposed experiments; return how many."""
        ids = [e.id for e in self.store.experiments(self.spec.name, round=r, states=["proposed"])]
        self.store.set_state(ids, "approved")
        return len(ids)

    def dispatch(self, r: int) -> str | None:
        """Send round `r`'s approved experiments to the lab; return the job id."""
        todo = self.store.experiments(self.spec.name, round=r, states=["approved"])
        if not todo:
            jobs = {e.job_id for e in self.store.experiments(self.spec.name, round=r) if e.job_id}
            return next(iter(jobs), None)
        batch = BatchRequest(campaign=self.spec.name, round=r, experiments=[
            ExperimentRequest(experiment_id=e.id, candidate_id=e.candidate_id,
                              parameters=self.design.params(self._index[e.candidate_id]))
            for e in todo])
        receipt = self.lab.submit(batch)
        self.store.set_state([e.id for e in todo], "dispatched", job_id=receipt.job_id)
        self.hook("dispatch", r, {"job_id": receipt.job_id, "n": len(todo)})
        return receipt.job_id

    def collect(self, r: int, sleep: Callable[[float], None] = time.sleep) -> IngestReport:
        """Wait for round `r`'s jobs, ingesting results as they arrive."""
        total = IngestReport()
        jobs = sorted({e.job_id for e in self.store.experiments(
            self.spec.name, round=r, states=PENDING_STATES) if e.job_id})
        deadline = time.monotonic() + self.spec.lab.timeout_s
        for job in jobs:
            while True:
                progress = self.lab.poll(job)
                report = self.ingest(self.lab.collect(job))
                _merge(total, report)
                self.hook("collect", r, {"job_id": job, "n_done": progress.n_done,
                                          "n_total": progress.n_total})
                finished = progress.status in (JobStatus.DONE, JobStatus.FAILED,
                                               JobStatus.CANCELLED)
                if finished:
                    _merge(total, self.ingest(self.lab.collect(job)))
                    break
                if time.monotonic() > deadline:
                    break
                sleep(self.spec.lab.poll_interval_s)
        return total

    def ingest(self, results: list[MeasurementResult | dict[str, Any]]) -> IngestReport:
        """Store a delivery of results; quarantine what cannot be used, with the reason."""
        report = IngestReport()
        for raw in results:
            payload = raw.model_dump(mode="json") if hasattr(raw, "model_dump") else dict(raw)
            reason = self._ingest_one(payload, report)
            if reason is not None:
                self.store.quarantine(self.spec.name, payload, reason)
                report.rejected.append(reason)
        return report

    def _ingest_one(self, payload: dict[str, Any], report: IngestReport) -> str | None:
        try:
            result = MeasurementResult.model_validate(payload)
        except Exception as exc:  # pydantic's message names the bad field
            return f"malformed result: {exc}".splitlines()[0]
        exp = self.store.experiment(result.experiment_id)
        if exp is None or exp.campaign != self.spec.name:
            return f"result for an experiment never asked: '{result.experiment_id}'"
        if result.candidate_id is not None and result.candidate_id != exp.candidate_id:
            return (f"experiment '{exp.id}' asked for '{exp.candidate_id}' but the result "
                    f"names '{result.candidate_id}'")
        if result.status == ResultStatus.FAILED:
            if exp.state in PENDING_STATES:
                self.store.set_state([exp.id], "failed", note=result.error or "failed in the lab")
                report.n_failed += 1
            return None
        if result.value is None or not math.isfinite(result.value):
            return f"experiment '{exp.id}': value is {result.value!r}, not a finite number"
        if exp.state not in (*PENDING_STATES, "done"):
            return f"experiment '{exp.id}' is {exp.state}; its result is not accepted"
        if self.store.record_measurement(exp.id, result.replicate, result.value):
            report.n_new += 1
        else:
            report.n_duplicate += 1
        if exp.state != "done":
            self.store.set_state([exp.id], "done")
        return None

    def finish(self, r: int) -> dict[str, Any]:
        """Close round `r`: figures of merit, and the round marked done."""
        metrics = self.metrics(r)
        self.store.update_round(self.spec.name, r, metrics, status="done")
        info = next(x["info"] for x in self.store.rounds(self.spec.name) if x["idx"] == r)
        self.hook("finish", r, info)
        return info

    def metrics(self, r: int) -> dict[str, Any]:
        """Hits found so far, and the calibration of round `r`'s predictions."""
        measured = {m.candidate_id for m in self.store.measurements(self.spec.name)}
        out: dict[str, Any] = {"n_measured": len(measured)}
        if self.hits is not None:
            found = len(measured & self.hits)
            out.update(hits_found=found, n_hits=len(self.hits),
                       hit_ratio=found / max(len(self.hits), 1))
        elif (t := hit_threshold(self.spec.objective, None)) is not None:
            values = np.array([m.value for m in self.store.measurements(self.spec.name)])
            out.update(hits_found=int((to_target(self.spec.objective, values) >= t).sum()))
        _, _, values = self._measured()
        if len(values):  # the best readout so far, by the objective's order
            out["best_value"] = float(values[np.argmax(to_target(self.spec.objective, values))])
        out.update(_calibration(self.store, self.spec, r, self.target_scale()))
        if self.spec.objective.secondary or self.spec.objective.constraints:
            out["pareto"] = self.pareto()
        return out

    # -- the whole campaign -------------------------------------------------
    def next_round(self) -> int | None:
        """Return the first round not yet done, or None when the budget is spent."""
        done = {x["idx"] for x in self.store.rounds(self.spec.name) if x["status"] == "done"}
        for r in range(self.spec.budget.rounds):
            if r not in done:
                return r
        return None

    def run_round(self, r: int, call: StepRunner | None = None) -> dict[str, Any] | None:
        """Run (or resume) round `r` to the end; return its figures.

        `call(step_name, fn, r)` runs each step; the Prefect flow passes one that
        runs each step as a task. Returns None if the round awaits approval.
        """
        call = call or _direct
        self.store.start_round(self.spec.name, r)
        if not self.store.experiments(self.spec.name, round=r):
            self.store.update_round(self.spec.name, r, call("fit", self.fit, r))
            call("propose", self.propose, r)
        if self.spec.approval == "auto":
            call("approve", self.approve, r)
        elif self.store.experiments(self.spec.name, round=r, states=["proposed"]):
            self.store.set_campaign_status(self.spec.name, "awaiting-approval")
            return None
        call("dispatch", self.dispatch, r)
        call("collect", self.collect, r)
        return call("finish", self.finish, r)

    def run(self, call: StepRunner | None = None) -> str:
        """Run every remaining round; return the campaign's status afterwards."""
        self.store.set_campaign_status(self.spec.name, "running")
        while (r := self.next_round()) is not None:
            if self.run_round(r, call) is None:
                return "awaiting-approval"
        self.store.set_campaign_status(self.spec.name, "done")
        return "done"


StepRunner = Callable[[str, Callable[[int], Any], int], Any]


def _direct(step: str, fn: Callable[[int], Any], r: int) -> Any:
    return fn(r)


def _propose_without_model(name: str, flags: np.ndarray, q: int, seed: int) -> dict[str, Any]:
    """Choose a batch without a model: at random, or flagged candidates first.

    Args:
        name: `random`, or `essential` (candidates whose prior flag is set first,
            at random, then the rest at random).
        flags: `n` booleans, the prior flag of each free candidate.
    """
    rng = np.random.default_rng(seed)
    n = len(flags)
    if name == "random":
        return {"indices": rng.choice(n, size=q, replace=False)}
    if name != "essential":
        raise ValueError(f"no model yet: strategy must be 'random' or 'essential', got '{name}'")
    first = np.flatnonzero(flags)
    first = rng.permutation(first)[:q]
    rest = np.setdiff1d(np.arange(n), first)
    fill = rng.choice(rest, size=q - len(first), replace=False) if q > len(first) else []
    return {"indices": np.concatenate([first, np.asarray(fill, dtype=np.int64)])}


def _merge(total: IngestReport, part: IngestReport) -> None:
    total.n_new += part.n_new
    total.n_duplicate += part.n_duplicate
    total.n_failed += part.n_failed
    total.rejected += part.rejected


def _calibration(store: SqlStore, spec: CampaignSpec, r: int,
                 scale: float | None) -> dict[str, Any]:
    """Coverage of the 90% intervals and NLL of round `r`'s predictions, once measured.

    Nothing with secondary objectives: the instrument then predicts the round's
    Chebyshev scalarisation, whose weights and scaling change every round, so
    its predictions cannot be set against the readouts.
    """
    if spec.objective.secondary:
        return {}
    values: dict[str, list[float]] = {}
    for m in store.measurements(spec.name):
        if m.experiment_id.startswith(f"{spec.name}-r{r}-"):
            values.setdefault(m.experiment_id, []).append(m.value)
    rows = [(e.predicted_mean, e.predicted_sd, np.mean(values[e.id]))
            for e in store.experiments(spec.name, round=r)
            if e.id in values and e.predicted_sd is not None]
    if not rows:
        return {}
    mean, sd, y = (np.array(c, dtype=np.float64) for c in zip(*rows))
    y = to_target(spec.objective, y, scale)
    sd = np.maximum(sd, 1e-9)
    z = (y - mean) / sd
    nll = 0.5 * np.log(2 * np.pi * sd**2) + 0.5 * z**2
    return {"coverage90": float(np.mean(np.abs(z) <= 1.6448536)), "nll": float(np.mean(nll)),
            "n_calibration": len(rows)}
