"""End-to-end campaigns on the real Scharenberg screen."""

import math
import time

import pytest

from adapters import SimulatedLab
from loop.campaign import Campaign
from loop.run.lab import lookup_table
from loop.run.flows import run_campaign
from loop.campaign import SqlStore


class Interrupt(Exception):
    pass


def _campaign(spec, tmp_path, hook=None, compute="local", lab=None):
    store = SqlStore(f"sqlite:///{tmp_path / 'store.db'}")
    return Campaign(spec, store, state_dir=tmp_path / "state", compute=compute, hook=hook,
                    lab=lab)


def _values(campaign):
    return sorted((m.candidate_id, m.replicate, m.value)
                  for m in campaign.store.measurements(campaign.spec.name))


def test_a_campaign_runs_to_the_end_and_finds_more_hits_than_random(make_spec, tmp_path):
    campaign = _campaign(make_spec(), tmp_path)
    assert campaign.run() == "done"
    rounds = campaign.store.rounds("scharenberg-test")
    assert [r.status for r in rounds] == ["done"] * 3
    assert rounds[-1].n_measured == 96
    # the simulated lab answers with the published score of each knockout
    published = lookup_table(campaign.spec, None)
    assert all(value == published[cid] for cid, _, value in _values(campaign))
    # 53 hits in 1,061 genes: random finds 96 * 53 / 1061 = 4.8 on average
    assert rounds[-1].hits_found > 8
    # round 0 by default: a quarter core essential genes, the rest at random
    assert rounds[0].strategy == "mixed"
    essential = campaign.design.X[:, campaign.design.feature_names.index("is_essential")]
    first = [campaign.design.index()[e.candidate_id]
             for e in campaign.store.experiments("scharenberg-test", round=0)]
    assert essential[first].sum() == 8
    later = rounds[1]
    assert later.strategy == "ucb" and later.instrument == "linear"
    assert 0.0 <= later.coverage90 <= 1.0
    assert math.isfinite(later.nll)
    # every proposal is explained: prediction and acquisition value
    guided = campaign.store.experiments("scharenberg-test", round=1)
    assert all(e.predicted_sd is not None and e.predicted_sd > 0 for e in guided)
    assert all(e.acquisition is not None for e in guided)


def test_a_gp_on_svd_features_runs_a_campaign(make_spec, tmp_path):
    spec = make_spec(design_space={"features": "svd", "n_components": 16},
                     instrument={"kind": "gp"}, budget={"rounds": 2, "batch_size": 16,
                                                        "initial_strategy": "random"})
    campaign = _campaign(spec, tmp_path)
    # 1,061 rows, 1,055 distinct genes; 16 + 3 gene-set columns and two columns for each
    # earlier public screen (five: Scharenberg22 is the campaign's own)
    assert campaign.design.X.shape == (1055, 19 + 2 * 5) and not campaign.design.blocks
    assert campaign.run() == "done"
    assert campaign.store.rounds(spec.name)[1].instrument == "gp"


def test_resume_after_an_interruption_loses_and_repeats_nothing(make_spec, tmp_path):
    spec = make_spec()
    reference = _campaign(spec, tmp_path / "a")
    reference.run()

    def crash_after_dispatch(step, r, info):
        if step == "dispatch" and r == 1:
            raise Interrupt

    interrupted = _campaign(spec, tmp_path / "b", hook=crash_after_dispatch)
    with pytest.raises(Interrupt):
        interrupted.run()
    assert interrupted.store.count_measurements(spec.name) == 32
    resumed = _campaign(spec, tmp_path / "b")
    assert resumed.next_round() == 1
    assert resumed.run() == "done"
    assert _values(resumed) == _values(reference)
    # the lab was asked once for each experiment, never twice
    assert resumed.lab.n_submitted == 96
    assert len(set(resumed.lab.submitted_ids())) == 96


def test_bad_results_are_quarantined_and_the_campaign_goes_on(make_spec, tmp_path):
    campaign = _campaign(make_spec(budget={"rounds": 2, "batch_size": 16}), tmp_path)
    campaign.store.start_round(campaign.spec.name, 0)
    (first, *_) = campaign.propose(0)
    campaign.approve(0)
    campaign.dispatch(0)
    assert campaign.ingest([
        {"experiment_id": "never-asked", "value": 1.0},
        {"experiment_id": first.id, "value": float("nan")},
        {"experiment_id": first.id, "candidate_id": "KO:OTHER", "value": 1.0},
        {"experiment_id": first.id, "value": "not a number"},
    ]) == 0
    reasons = [r.reason for r in campaign.store.rejected(campaign.spec.name)]
    assert len(reasons) == 4
    assert "never asked" in reasons[0]
    assert "not a finite number" in reasons[1]
    assert "KO:OTHER" in reasons[2]
    assert "malformed" in reasons[3] and "value" in reasons[3]
    assert campaign.store.count_measurements(campaign.spec.name) == 0
    # the NaN closed its experiment: it waits for nothing and is never counted as pending
    assert campaign.store.experiment(first.id).state == "failed"
    assert campaign.run() == "done"
    assert campaign.store.count_measurements(campaign.spec.name) == 31


def test_an_unknown_candidate_fails_in_the_lab_and_the_campaign_goes_on(make_spec, tmp_path):
    spec = make_spec(budget={"rounds": 2, "batch_size": 16})
    published = lookup_table(spec, None)
    missing = next(iter(published))
    del published[missing]  # the lab never measured this gene
    lab = SimulatedLab(published, state_path=tmp_path / "lab.json")
    campaign = _campaign(spec, tmp_path, lab=lab)
    from adapters import BatchRequest, ExperimentRequest
    from loop.campaign import Experiment

    exp = Experiment(id="probe", campaign=campaign.spec.name, round=0,
                     candidate_id=missing, state="approved")
    campaign.store.add_experiments([exp])
    job = campaign.lab.submit(BatchRequest(campaign=campaign.spec.name, round=0, experiments=[
        ExperimentRequest(experiment_id="probe", candidate_id=missing)])).job_id
    campaign.store.set_state(["probe"], "dispatched", job_id=job)
    campaign.ingest(campaign.lab.collect(job))
    probe = campaign.store.experiment("probe")
    assert probe.state == "failed" and "unknown candidate" in probe.note
    assert campaign.run() == "done"


@pytest.mark.slow
def test_the_flow_runs_on_ray_and_prefect_records_it(make_spec, tmp_path, ray_session,
                                                    prefect_harness):
    from loop.run.flows import flow_runs

    spec = make_spec(name="scharenberg-flow", budget={"rounds": 2, "batch_size": 16},
                     design_space={"features": "svd", "n_components": 16},
                     instrument={"kind": "ensemble"}, strategy={"name": "thompson", "options": {}})
    campaign = _campaign(spec, tmp_path, compute="ray")
    try:
        assert run_campaign(campaign) == "done"
    finally:
        campaign.close()
    assert campaign.store.count_measurements(spec.name) == 32
    runs = flow_runs(spec.name)
    assert runs and runs[0]["state"] == "Completed"


def test_a_slow_lab_keeps_its_round_open_and_a_later_run_collects(make_spec, tmp_path):
    """No experiment is lost to a clock: the run returns, the next one collects."""
    spec = make_spec(budget={"rounds": 2, "batch_size": 8},
                     lab={"settings": {"latency_s": 1.0}, "timeout_s": 0.05,
                          "poll_interval_s": 0.01})
    campaign = _campaign(spec, tmp_path)
    assert campaign.run() == "waiting-for-lab"
    assert campaign.store.campaign(spec.name).status == "waiting-for-lab"
    (first,) = campaign.store.rounds(spec.name)
    assert first.status == "open"  # round 1 is not proposed while round 0 is open
    assert len(campaign.store.experiments(spec.name, states=["dispatched"])) == 8
    assert campaign.run() == "waiting-for-lab"  # too early: nothing new, nothing lost
    assert campaign.store.count_measurements(spec.name) == 0
    time.sleep(1.1)
    assert campaign.run() == "waiting-for-lab"  # round 0 collected, round 1 with the lab
    assert campaign.store.count_measurements(spec.name) == 8
    time.sleep(1.1)
    assert campaign.run() == "done"
    assert campaign.store.count_measurements(spec.name) == 16
    assert campaign.lab.n_submitted == 16


def test_a_job_done_without_some_results_closes_them_as_failed(make_spec, tmp_path):
    spec = make_spec(budget={"rounds": 1, "batch_size": 8})
    published = lookup_table(spec, None)

    class ForgetfulLab(SimulatedLab):
        """Says the job is done but never sends the last result."""

        def collect(self, job_id):
            return super().collect(job_id)[:-1]

    lab = ForgetfulLab(published, state_path=tmp_path / "lab.json")
    campaign = _campaign(spec, tmp_path, lab=lab)
    assert campaign.run() == "done"
    states = sorted(e.state for e in campaign.store.experiments(spec.name))
    assert states == ["done"] * 7 + ["failed"]
    (failed,) = campaign.store.experiments(spec.name, states=["failed"])
    assert "without a result" in failed.note
    assert campaign.store.rounds(spec.name)[0].n_failed == 1


@pytest.mark.slow
def test_a_waiting_campaign_shows_as_waiting_in_prefect(make_spec, tmp_path, prefect_harness):
    from loop.run.flows import flow_runs

    spec = make_spec(name="scharenberg-waits", budget={"rounds": 1, "batch_size": 4},
                     lab={"settings": {"latency_s": 30.0}, "timeout_s": 0.05})
    campaign = _campaign(spec, tmp_path)
    assert run_campaign(campaign) == "waiting-for-lab"
    (run, *_) = flow_runs(spec.name)
    assert run["state"] == "Waiting"


def test_overlapping_rounds_propose_ahead_with_the_pending_counted(make_spec, tmp_path):
    spec = make_spec(budget={"rounds": 3, "batch_size": 8, "max_open_rounds": 2},
                     lab={"settings": {"latency_s": 1.0}, "timeout_s": 0.05,
                          "poll_interval_s": 0.01})
    campaign = _campaign(spec, tmp_path)
    assert campaign.run() == "waiting-for-lab"
    rounds = campaign.store.rounds(spec.name)
    assert [r.status for r in rounds] == ["open", "open"]  # two rounds with the lab at once
    assert rounds[1].n_pending == 8
    asked = [e.candidate_id for e in campaign.store.experiments(spec.name)]
    assert len(asked) == len(set(asked)) == 16
    time.sleep(1.1)
    while campaign.run() != "done":
        time.sleep(0.3)
    assert campaign.store.count_measurements(spec.name) == 24


def test_an_expiry_policy_cancels_what_the_lab_never_answers(make_spec, tmp_path):
    spec = make_spec(budget={"rounds": 1, "batch_size": 4},
                     lab={"settings": {"latency_s": 60.0}, "timeout_s": 0.05,
                          "poll_interval_s": 0.01, "expire_after_s": 0.5})
    campaign = _campaign(spec, tmp_path)
    assert campaign.run() == "waiting-for-lab"
    time.sleep(0.6)
    assert campaign.run() == "done"  # the round closed: its experiments expired
    states = {e.state for e in campaign.store.experiments(spec.name)}
    assert states == {"cancelled"}
    (job,) = {e.job_id for e in campaign.store.experiments(spec.name)}
    assert campaign.lab.poll(job).status == "cancelled"  # and the lab was told


def test_manual_approval_waits_for_a_person(make_spec, tmp_path, capsys):
    from loop.run.cli import run_cli

    spec = make_spec(name="approve-me", approval="manual", budget={"rounds": 1, "batch_size": 4})
    campaign = _campaign(spec, tmp_path)
    assert campaign.run() == "awaiting-approval"
    assert campaign.store.campaign(spec.name).status == "awaiting-approval"
    assert {e.state for e in campaign.store.experiments(spec.name)} == {"proposed"}
    assert run_cli(["approve", spec.name, "--store", campaign.store.url]) == 0
    assert "approved 4 experiments" in capsys.readouterr().out
    assert campaign.run() == "done"
    assert campaign.store.count_measurements(spec.name) == 4
