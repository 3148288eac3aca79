"""The campaign's Python face: ask / tell / add_measurements, DataFrames in and out.

For notebooks and scripts, in the habits of BayBE (`recommend`,
`add_measurements`) and Ax (`get_next_trials`, `complete_trial`): `ask` proposes
the next batch and hands it to you (you are the lab), `tell` records what you
measured, `add_measurements` adds data measured outside the campaign. Every
call goes through the same round code as `loopwell run`, so nothing is lost
or counted twice, and each takes the campaign's writer lock.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable

import numpy as np
import pandas as pd

from loop.campaign.frames import measurements_frame, proposals_frame, result_records
from loop.campaign.lifecycle import writer_lock
from loop.campaign.objective import from_target
from loop.campaign.records import Experiment
from loop.campaign.states import CLOSED_STATES, PENDING_STATES, ExperimentState, RoundStatus

S = ExperimentState
#: the round of measurements made outside the campaign (`add_measurements`)
OUTSIDE_ROUND = -1


class AskTell:
    """Mixed into `Campaign`: its public Python face."""

    @classmethod
    def open(cls, spec: Any, *, store: Any = None, state_dir: str | Path | None = None,
             compute: str = "local", **kwargs: Any):
        """Create or load a campaign from a spec: a `CampaignSpec`, a mapping or a YAML path.

        Args:
            spec: the campaign; a path's folder is where its relative paths start.
            store: a `Store`, a SQLAlchemy URL, or None for `$LOOPWELL_STORE` /
                the SQLite file in the state folder.
            state_dir: the state folder (default `$LOOPWELL_HOME` or `./.loopwell`).
            compute: `local` (the instrument in this process) or `ray`.
        """
        from loop.campaign.spec import CampaignSpec, load_spec, parse_spec
        from loop.campaign.store import SqlStore
        from loop.run.settings import default_store_url
        from loop.run.settings import state_dir as default_state_dir

        base_dir = None
        if isinstance(spec, (str, Path)):
            base_dir = Path(spec).resolve().parent
            spec = load_spec(spec)
        elif not isinstance(spec, CampaignSpec):
            spec = parse_spec(spec)
        if store is None or isinstance(store, str):
            store = SqlStore(store or default_store_url())
        return cls(spec, store, state_dir=Path(state_dir) if state_dir else default_state_dir(),
                   base_dir=base_dir, compute=compute, **kwargs)

    # -- conduct ------------------------------------------------------------
    def ask(self, n: int | None = None) -> pd.DataFrame:
        """Propose the next batch and hand it over to be measured; return it as a DataFrame.

        The batch's experiments are then owed by you: `tell` their values. While
        a batch awaits results, `ask` returns what is still owed instead of
        proposing more (the next round starts when this one is over).

        Args:
            n: batch size (default: the spec's `budget.batch_size`).

        Returns:
            One row per experiment: `experiment_id`, `candidate_id`, the
            prediction in the readout's units (`predicted`, 90% interval
            `predicted_lo90`..`predicted_hi90`), in the instrument's target units
            (`predicted_mean_target`, `predicted_sd_target`), `acquisition`, and the
            candidate's parameters (`param_*`).
        """
        with writer_lock(self.store, self.name):
            owed = self.store.experiments(self.name, states=[S.PROPOSED, S.APPROVED,
                                                             *PENDING_STATES])
            owed = [e for e in owed if e.round >= 0]
            if not owed:
                r = self.next_round()
                if r is None:
                    raise ValueError(f"campaign '{self.name}' has spent its budget of "
                                     f"{self.spec.budget.rounds} rounds; raise budget.rounds "
                                     "to ask for more")
                self.store.start_round(self.name, r)
                self.fit(r)
                owed = self.propose(r, q=n)
            # handed to you: proposed -> approved -> dispatched, as the lab path does
            self.store.set_state([e.id for e in owed if e.state == S.PROPOSED], S.APPROVED)
            self.store.set_state([e.id for e in owed if e.state in (S.PROPOSED, S.APPROVED)],
                                 S.DISPATCHED, note="handed out by ask()")
            return self.proposals(states=PENDING_STATES)

    def tell(self, results: pd.DataFrame | Iterable[dict[str, Any]]) -> pd.DataFrame:
        """Record measured values; return what became of each row.

        Args:
            results: rows with `experiment_id` and `value` (optionally
                `replicate`, `candidate_id`, `status` = `failed` with an `error`).

        Returns:
            One row per input row: `experiment_id`, `outcome` (`stored`,
            `duplicate`, `failed` or `rejected`) and `reason`.
        """
        records = result_records(results)
        with writer_lock(self.store, self.name):
            outcomes = self.ingest_each(records)
            self._finish_closed_rounds()
        return pd.DataFrame(outcomes, columns=["experiment_id", "outcome", "reason"])

    def add_measurements(self, frame: pd.DataFrame) -> int:
        """Add values measured outside the campaign (earlier plates, another lab).

        The instruments learn from them like from any other measurement, and
        their candidates are not proposed again. Rows name a `candidate_id`
        (or, for gene campaigns, a `gene`) and a `value`; `replicate` is optional.

        Returns:
            The number of new measurements.

        Raises:
            ValueError: naming rows whose candidate is unknown or value not finite.
        """
        records = result_records(frame)
        bad = []
        rows = []
        for k, rec in enumerate(records):
            cid = rec.get("candidate_id")
            if cid is None and "gene" in rec:
                cid = f"{getattr(self.spec.design_space, 'prefix', '')}{rec['gene']}"
            value = rec.get("value")
            if cid not in self._index:
                bad.append(f"row {k}: unknown candidate {cid!r}")
            elif not isinstance(value, (int, float)) or not np.isfinite(value):
                bad.append(f"row {k}: value {value!r} is not a finite number")
            else:
                rows.append((str(cid), int(rec.get("replicate", 0)), float(value)))
        if bad:
            raise ValueError(f"add_measurements: {len(bad)} bad row(s): {'; '.join(bad[:5])}")
        n_new = 0
        with writer_lock(self.store, self.name):
            for cid, replicate, value in rows:
                eid = f"{self.name}-x-{cid}"
                if self.store.experiment(eid) is None:
                    self.store.add_experiments([Experiment(
                        id=eid, campaign=self.name, round=OUTSIDE_ROUND, candidate_id=cid,
                        state=S.DONE, note="measured outside the campaign")])
                n_new += self.store.record_measurement(eid, replicate, value)
        return n_new

    # -- analyse --------------------------------------------------------------
    def measurements(self) -> pd.DataFrame:
        """Every measurement: experiment, round (-1: added from outside), candidate, value."""
        return measurements_frame(self.store.measurements(self.name))

    def proposals(self, states: Iterable[ExperimentState] | None = None) -> pd.DataFrame:
        """Every proposed experiment, with its prediction and acquisition value."""
        experiments = [e for e in self.store.experiments(self.name, states=states)
                       if e.round >= 0]
        params = {e.candidate_id: self.design.params(self._index[e.candidate_id])
                  for e in experiments if e.candidate_id in self._index}
        if self.spec.objective.secondary:  # predictions of a per-round score, not the readout
            return proposals_frame(experiments, params)
        scale = self.target_scale()
        return proposals_frame(experiments, params,
                               lambda t: from_target(self.spec.objective, t, scale))

    def _finish_closed_rounds(self) -> None:
        for summary in self.store.rounds(self.name):
            if summary.status == RoundStatus.OPEN and summary.round >= 0:
                left = [e for e in self.store.experiments(self.name, round=summary.round)
                        if e.state not in CLOSED_STATES]
                if not left and self.store.experiments(self.name, round=summary.round):
                    self.finish(summary.round)
