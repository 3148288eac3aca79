"""The campaign: the single stateful class of loopwell, and the one round it runs.

A round is fit -> propose -> (approve) -> dispatch -> collect -> finish, read
top to bottom in `run_round`. Every step reads what it needs from the store
and writes what it did before the next one starts, so any step may be
interrupted (Ctrl-C, kill -9) and the next run picks up where the store says
the campaign is: a proposal already stored is not made again, a batch already
dispatched is not sent again, a measurement already stored is not counted
again. A round stays open until each of its experiments is done, failed or
cancelled; a run that has waited `lab.timeout_s` for the lab returns and says
so, and the next run collects what has arrived since.

(About 440 lines, kept whole on purpose: the round's data path, fit -> propose ->
dispatch -> collect -> ingest -> finish, reads top to bottom in one module.)
"""

from __future__ import annotations

import hashlib
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import numpy as np

from adapters import (
    BatchRequest, ExperimentRequest, JobStatus, LabAdapter, LabRejected, RejectedResult,
)
from loop.campaign.asktell import OUTSIDE_ROUND, AskTell
from loop.campaign.ingest import Verdict, judge
from loop.campaign.figures import measured_means, round_figures
from loop.campaign.objective import allowed_candidates, robust_scale, scalarised_target, to_target
from loop.campaign.records import Experiment
from loop.campaign.lifecycle import keep_recorded_defaults, register, writer_lock
from loop.campaign.priors import campaign_priors
from loop.campaign.spec import CampaignSpec, initial_strategy, instrument_kind
from loop.campaign.states import (
    CLOSED_STATES, PENDING_STATES, CampaignStatus, ExperimentState, RoundStatus,
)
from loop.campaign.store import Store
from loop.campaign.summary import RoundSummary, summary_fields
from loop.design import DesignSpace, build_design_space
from loop.design.datasets import resolve

S = ExperimentState
#: called as hook(step, round_index, summary_or_progress) after each step
Hook = Callable[[str, int, Any], None]
#: runs one step: call(step_name, fn, round_index); the Prefect flow runs each as a task
StepRunner = Callable[[str, Callable[[int], Any], int], Any]
_TERMINAL_JOB = (JobStatus.DONE, JobStatus.FAILED, JobStatus.CANCELLED)


class Campaign(AskTell):
    """One question asked of one lab, persisted in a store.

    Run it round by round (`run`, `run_round`), or drive it from Python
    (`ask`, `tell`, `add_measurements`: see `loop.campaign.asktell`).
    """

    def __init__(self, spec: CampaignSpec, store: Store, *, state_dir: Path,
                 base_dir: Path | None = None, compute: str = "ray",
                 lab: LabAdapter | None = None, hook: Hook | None = None) -> None:
        from loop.run.lab import build_lab, reference_hits

        spec = keep_recorded_defaults(store, spec)
        self.spec = spec
        self.store = store
        # one folder per (store, campaign): the lab's jobs and the instrument's
        # checkpoint belong to the store that records the campaign
        store_key = hashlib.sha256(store.identity.encode()).hexdigest()[:8]
        self.state_dir = Path(state_dir) / "campaigns" / f"{spec.name}-{store_key}"
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.base_dir = base_dir
        self.compute = compute
        self.hook: Hook = hook or (lambda step, r, info: None)
        # everything the spec names is read before the campaign is registered, so that
        # a spec that fails (a missing file, a wrong column) can be fixed and run again
        answers = resolve(spec.lab.table, base_dir) if spec.lab.table else None
        design = campaign_priors(spec.design_space, store, self.state_dir / "priors", spec.name)
        self.design: DesignSpace = build_design_space(
            design, base_dir, cache_dir=Path(state_dir) / "features", seed=spec.seed,
            answers=answers)
        self._index = self.design.index()
        self._allowed = allowed_candidates(spec.objective, self.design.attributes, self.design.n)
        self.lab = lab if lab is not None else build_lab(spec, base_dir, self.state_dir)
        self.hits = reference_hits(spec, base_dir, self.design.ids)
        self._host = None
        self._deadline: float | None = None
        register(self.store, self.spec)

    @property
    def name(self) -> str:
        return self.spec.name

    def writing(self):
        """Hold the campaign's writer lock (see `loop.campaign.lifecycle.writer_lock`)."""
        return writer_lock(self.store, self.name)

    # -- the instrument -----------------------------------------------------
    @property
    def host(self):
        """The instrument host (`loop.run.host.Host`), started on first use."""
        if self._host is None:
            from loop.run.host import Host

            options = {"seed": self.spec.seed, **self.spec.instrument.options}
            self._host = Host(instrument_kind(self.spec), options,
                              self.state_dir / "instrument", self.compute,
                              blocks=[[a, b] for _, a, b in self.design.blocks])
        return self._host

    def close(self) -> None:
        if self._host is not None:
            self._host.close()
            self._host = None

    # -- what has been measured ---------------------------------------------
    def target_scale(self) -> float | None:
        """Return the scale of a `log` target transform, fixed by the first measurements."""
        if self.spec.objective.transform != "log":
            return None
        # the first measurements fix it: those added from outside, else round 0's
        first = [m.value for m in self.store.measurements(self.name, round=OUTSIDE_ROUND)]
        first = first or [m.value for m in self.store.measurements(self.name, round=0)]
        if not first:
            return None
        return robust_scale(to_target(self.spec.objective, np.array(first)))

    def target(self, values: np.ndarray) -> np.ndarray:
        """Map raw readouts to the scale the instrument is trained on."""
        return to_target(self.spec.objective, values, self.target_scale())

    def training_data(self) -> tuple[np.ndarray, np.ndarray, list[str]]:
        """Return features `n x d`, targets `n` and ids of every measured candidate."""
        ids, rows, values = measured_means(self.store.measurements(self.name), self._index)
        target = scalarised_target(self.spec.objective, values, rows, self.design.attributes,
                                   seed=self.spec.seed * 1_000_003 + len(ids),
                                   scale=self.target_scale())
        return self.design.X[rows], target, ids

    def _uses_model(self, r: int, n_train: int) -> bool:
        """Whether round `r` is proposed by the model: from round 1 on, or in round 0
        when measurements were added from outside the campaign."""
        if n_train < 2 or self.spec.strategy.name == "random":
            return False
        return r > 0 or bool(self.store.measurements(self.name, round=OUTSIDE_ROUND))

    # -- one round: fit -> propose -> approve -> dispatch -> collect -> finish ------
    def run_round(self, r: int, call: StepRunner | None = None) -> RoundSummary | None:
        """Run (or resume) round `r` as far as it can go now.

        Returns the round's summary once it is done, or None while it waits
        (for approval, or for the lab). `call(step_name, fn, r)` runs each
        step; the Prefect flow passes one that runs each step as a task.
        """
        call = call or _direct
        self.store.start_round(self.name, r)
        if not self.store.experiments(self.name, round=r):
            call("fit", self.fit, r)
            call("propose", self.propose, r)
        if self.spec.approval == "auto":
            call("approve", self.approve, r)
        elif self.store.experiments(self.name, round=r, states=[S.PROPOSED]):
            return None
        call("dispatch", self.dispatch, r)
        call("collect", self.collect, r)
        if self.open_experiments(r):
            return None
        return call("finish", self.finish, r)

    def fit(self, r: int) -> RoundSummary:
        """Fit the instrument to everything measured so far (nothing before round 1)."""
        X, Y, _ = self.training_data()
        if not self._uses_model(r, len(Y)):
            return self.store.update_round(self.name, r, fit_s=0.0, n_train=len(Y))
        import torch

        t0 = time.perf_counter()
        figures = self.host.fit(torch.from_numpy(X).double(), torch.from_numpy(Y).double()[:, None])
        figures = {**summary_fields(figures), "fit_s": time.perf_counter() - t0,
                   "n_train": len(Y),
                   "block_weights": self.design.block_weights(figures.get("block_scales"))}
        summary = self.store.update_round(self.name, r, **figures)
        self.hook("fit", r, summary)
        return summary

    def propose(self, r: int, q: int | None = None) -> list[Experiment]:
        """Propose round `r`'s batch of `q` (default: the budget's batch size) and store it.

        A proposal already stored is returned as it is.
        """
        have = self.store.experiments(self.name, round=r)
        if have:
            return have
        asked = {e.candidate_id for e in self.store.experiments(self.name)}
        free = [i for i, cid in enumerate(self.design.ids)
                if cid not in asked and self._allowed[i]]
        if not free:
            return []
        q = min(q or self.spec.budget.batch_size, len(free))
        pending = [self._index[e.candidate_id]
                   for e in self.store.experiments(self.name, states=PENDING_STATES)]
        n_train = len({m.candidate_id for m in self.store.measurements(self.name)})
        use_model = self._uses_model(r, n_train)
        seed = self.spec.seed * 100_003 + r
        t0 = time.perf_counter()
        if use_model:
            name = self.spec.strategy.name
            out = self.host.propose(name, self.spec.strategy.options, self.design.X[free],
                                    self.design.X[pending], q, seed)
        else:  # no model yet: at random, or flagged (core essential) candidates first
            from agents import propose_batch

            name = initial_strategy(self.spec) if r == 0 else "random"
            column = self._flag_column()
            agent, options = "random", {}
            if name in ("essential", "mixed") and column >= 0:
                share = self.spec.budget.essential_share if name == "mixed" else None
                agent, options = "flagged", {"column": column, "share": share}
            out = propose_batch(None, agent, options, self.design.X[free],
                                self.design.X[pending], q, seed)
        seconds = time.perf_counter() - t0
        items = [
            Experiment(id=f"{self.name}-r{r}-{self.design.ids[row]}", campaign=self.name,
                       round=r, candidate_id=self.design.ids[row], state=S.PROPOSED,
                       predicted_mean=_at(out.mean, k), predicted_sd=_at(out.sd, k),
                       acquisition=_at(out.acquisition, k))
            for k, row in enumerate(free[int(i)] for i in out.indices)
        ]
        self.store.add_experiments(items)
        summary = self.store.update_round(
            self.name, r, strategy=name, propose_s=seconds, agent_s=out.seconds,
            instrument=instrument_kind(self.spec) if use_model else None,
            n_proposed=len(items), n_pending=len(pending))
        self.hook("propose", r, summary)
        return self.store.experiments(self.name, round=r)

    def _flag_column(self) -> int:
        """Return the column of the `is_essential` feature (-1 without one: no flags)."""
        names = self.design.feature_names
        return names.index("is_essential") if "is_essential" in names else -1

    def approve(self, r: int) -> int:
        """Approve round `r`'s proposed experiments; return how many."""
        ids = [e.id for e in self.store.experiments(self.name, round=r, states=[S.PROPOSED])]
        self.store.set_state(ids, S.APPROVED)
        return len(ids)

    def dispatch(self, r: int) -> str | None:
        """Send round `r`'s approved experiments to the lab; return the job id."""
        todo = self.store.experiments(self.name, round=r, states=[S.APPROVED])
        if not todo:
            jobs = {e.job_id for e in self.store.experiments(self.name, round=r) if e.job_id}
            return next(iter(sorted(jobs)), None)
        batch = BatchRequest(campaign=self.name, round=r, experiments=[
            ExperimentRequest(experiment_id=e.id, candidate_id=e.candidate_id,
                              parameters=self.design.params(self._index[e.candidate_id]))
            for e in todo])
        try:
            receipt = self.lab.submit(batch)
        except LabRejected as exc:  # the lab refuses this batch: sending it again won't help
            self.store.set_state([e.id for e in todo], S.CANCELLED,
                                 note=f"the lab refused the batch: {exc}")
            self.hook("dispatch", r, {"job_id": None, "n": 0})
            return None
        self.store.set_state([e.id for e in todo], S.DISPATCHED, job_id=receipt.job_id)
        self.hook("dispatch", r, {"job_id": receipt.job_id, "n": len(todo)})
        return receipt.job_id

    def collect(self, r: int, sleep: Callable[[float], None] = time.sleep) -> int:
        """Ingest round `r`'s results until its jobs are over or `lab.timeout_s` passes.

        A job the lab reports over (done, failed, cancelled) closes its
        experiments that have no result as failed, with the reason, so that
        none waits for ever. Returns the number of new measurements.
        """
        n_new = 0
        jobs = sorted({e.job_id for e in self.store.experiments(
            self.name, round=r, states=PENDING_STATES) if e.job_id})
        deadline = self._deadline or time.monotonic() + self.spec.lab.timeout_s
        jobs = [job for job in jobs if not self._expire(job)]
        for job in jobs:
            while True:
                try:
                    progress = self.lab.poll(job)
                except LabRejected as exc:
                    if exc.status != 404:
                        raise
                    self._close_unanswered(job, JobStatus.FAILED, "the lab does not know job")
                    break
                n_new += self.ingest(self.lab.collect(job))
                self.hook("collect", r, {"job_id": job, "n_done": progress.n_done,
                                         "n_total": progress.n_total})
                if progress.status in _TERMINAL_JOB:
                    n_new += self.ingest(self.lab.collect(job))
                    self._close_unanswered(job, progress.status)
                    break
                if time.monotonic() >= deadline:
                    break
                sleep(self.spec.lab.poll_interval_s)
        return n_new

    def _expire(self, job: str) -> bool:
        """Cancel a job whose experiments outlived `lab.expire_after_s`; return whether it did."""
        limit = self.spec.lab.expire_after_s
        pending = [e for e in self.store.experiments(self.name, states=PENDING_STATES)
                   if e.job_id == job]
        if limit is None or not pending:
            return False
        since = min(e.updated_at for e in pending if e.updated_at is not None)
        if (datetime.now(timezone.utc) - since).total_seconds() < limit:
            return False
        self.lab.cancel(job)
        self.store.set_state([e.id for e in pending], S.CANCELLED,
                             note=f"expired: no result {limit:g} s after dispatch; the lab "
                             "was told to cancel")
        return True

    def _close_unanswered(self, job: str, status: JobStatus, why: str | None = None) -> None:
        left = [e.id for e in self.store.experiments(self.name, states=PENDING_STATES)
                if e.job_id == job]
        if left:
            note = (f"{why} '{job}'" if why else
                    f"the lab reported job '{job}' {status} without a result")
            self.store.set_state(left, S.CANCELLED if status == JobStatus.CANCELLED else S.FAILED,
                                 note=note)

    def ingest(self, results: list[Any]) -> int:
        """Store a delivery of results one by one; return the number of new measurements."""
        return sum(outcome == "stored" for _, outcome, _ in self.ingest_each(results))

    def ingest_each(self, results: list[Any]) -> list[tuple[str | None, str, str | None]]:
        """Judge and apply each result on its own; return (experiment id, outcome, reason) each.

        Outcomes: `stored`, `duplicate`, `failed` (the lab says so) or `rejected`
        (quarantined with the reason). One bad result never costs the good
        ones beside it (`loop.campaign.ingest.judge`).
        """
        outcomes = []
        for raw in results:
            if isinstance(raw, RejectedResult):  # the adapter could not read it
                self.store.quarantine(self.name, raw.payload, raw.reason)
                outcomes.append((None, "rejected", raw.reason))
                continue
            payload = raw.model_dump(mode="json") if hasattr(raw, "model_dump") else raw
            exp_id = payload.get("experiment_id") if isinstance(payload, dict) else None
            exp = self.store.experiment(exp_id) if isinstance(exp_id, str) else None
            stored = None
            if exp is not None and isinstance(payload, dict):
                replicate = payload.get("replicate", 0)
                if isinstance(replicate, int) and not isinstance(replicate, bool):
                    stored = self.store.measurement_value(exp.id, replicate)
            decision = judge(raw, exp, self.name, stored)
            outcome = "duplicate"
            if decision.verdict == Verdict.ACCEPT:
                result = decision.result
                stored_now = self.store.record_measurement(exp.id, result.replicate, result.value)
                outcome = "stored" if stored_now else "duplicate"
                if exp.state != S.DONE:
                    self.store.set_state([exp.id], S.DONE)
            elif decision.verdict == Verdict.FAILED:
                self.store.set_state([exp.id], S.FAILED, note=decision.reason)
                outcome = "failed"
            elif decision.verdict == Verdict.REJECT:
                self.store.quarantine(self.name, payload, decision.reason)
                outcome = "rejected"
                if decision.close:
                    self.store.set_state([exp.id], S.FAILED, note=decision.reason)
            outcomes.append((exp_id if isinstance(exp_id, str) else None, outcome,
                             decision.reason))
        return outcomes

    def open_experiments(self, r: int) -> list[Experiment]:
        """Return round `r`'s experiments that are not yet done, failed or cancelled."""
        return [e for e in self.store.experiments(self.name, round=r)
                if e.state not in CLOSED_STATES]

    def finish(self, r: int) -> RoundSummary:
        """Close round `r`: figures of merit, and the round marked done."""
        summary = self.store.update_round(self.name, r, **self.metrics(r),
                                          status=RoundStatus.DONE)
        self.hook("finish", r, summary)
        return summary

    def metrics(self, r: int) -> dict[str, Any]:
        """Hits found so far, the best readout, and the calibration of round `r`'s predictions."""
        return round_figures(self.spec.objective, r, self.store.measurements(self.name),
                             self.store.experiments(self.name, round=r), self._index,
                             self.design.attributes, self.hits, self.target)

    # -- the whole campaign -------------------------------------------------
    def next_round(self) -> int | None:
        """Return the first round not yet done, or None when the budget is spent."""
        done = {s.round for s in self.store.rounds(self.name) if s.status == RoundStatus.DONE}
        return next((r for r in range(self.spec.budget.rounds) if r not in done), None)

    def run(self, call: StepRunner | None = None) -> CampaignStatus:
        """Run every round that can run now; return the campaign's status afterwards."""
        call = call or _direct
        record = self.store.campaign(self.name)
        if record is not None and record.status in (CampaignStatus.PAUSED,
                                                    CampaignStatus.CANCELLED):
            return CampaignStatus(record.status)  # a person stopped it; they resume it
        with writer_lock(self.store, self.name) as renew:
            def step(name: str, fn: Callable[[int], Any], r: int) -> Any:
                renew()
                return call(name, fn, r)

            self.store.set_campaign_status(self.name, CampaignStatus.RUNNING)
            # one wait for the lab per run, however many rounds are open
            self._deadline = time.monotonic() + self.spec.lab.timeout_s
            try:
                status = self._run_rounds(step)
            finally:
                self._deadline = None
            self.store.set_campaign_status(self.name, status)
            return status

    def _run_rounds(self, step: StepRunner) -> CampaignStatus:
        """Advance the open rounds, then start new ones while `budget.max_open_rounds` allows."""
        budget = self.spec.budget
        while True:
            summaries = {s.round: s for s in self.store.rounds(self.name) if s.round >= 0}
            still_open = []
            for r in sorted(r for r, s in summaries.items() if s.status != RoundStatus.DONE):
                if self.run_round(r, step) is None:
                    if self.store.experiments(self.name, round=r, states=[S.PROPOSED]):
                        return CampaignStatus.AWAITING_APPROVAL
                    still_open.append(r)
            fresh = next((r for r in range(budget.rounds) if r not in summaries), None)
            if fresh is None:
                return CampaignStatus.WAITING_FOR_LAB if still_open else CampaignStatus.DONE
            if len(still_open) >= budget.max_open_rounds:
                return CampaignStatus.WAITING_FOR_LAB
            if self.run_round(fresh, step) is None and self.store.experiments(
                    self.name, round=fresh, states=[S.PROPOSED]):
                return CampaignStatus.AWAITING_APPROVAL


def _direct(step: str, fn: Callable[[int], Any], r: int) -> Any:
    return fn(r)


def _at(values: Any, k: int) -> float | None:
    return None if values is None else float(values[k])
