"""Driving a campaign from Python: ask, tell, add_measurements, DataFrames in and out."""

import math

import numpy as np
import pandas as pd
import pytest

from loop.campaign import Campaign
from loop.run.lab import lookup_table


@pytest.fixture
def manual(make_spec, tmp_path):
    spec = make_spec(name="by-hand", budget={"rounds": 3, "batch_size": 8},
                     lab={"kind": "manual", "table": None})
    return Campaign.open(spec.model_dump(mode="json"), store=f"sqlite:///{tmp_path / 's.db'}",
                         state_dir=tmp_path / "state")


def _answer(campaign, frame):
    truth = lookup_table(campaign.spec.model_copy(update={"lab": campaign.spec.lab.model_copy(
        update={"table": campaign.spec.design_space.table})}), None)
    return pd.DataFrame({"experiment_id": frame["experiment_id"],
                         "value": [truth[c] for c in frame["candidate_id"]]})


def test_ask_then_tell_round_after_round(manual):
    first = manual.ask()
    assert len(first) == 8 and first["experiment_id"].is_unique
    assert set(first["state"]) == {"dispatched"}
    # asking again while the batch is owed hands out the same batch, nothing new
    assert manual.ask()["experiment_id"].tolist() == first["experiment_id"].tolist()
    outcome = manual.tell(_answer(manual, first))
    assert (outcome["outcome"] == "stored").all()
    (r0,) = manual.store.rounds(manual.name)
    assert r0.status == "done" and r0.n_measured == 8
    second = manual.ask(n=4)
    assert len(second) == 4 and set(second["round"]) == {1}
    # a model proposed this batch: predictions in the readout's units, and why
    assert second["predicted_sd_target"].gt(0).all() and second["acquisition"].notna().all()
    assert (second["predicted_lo90"] <= second["predicted"]).all()
    assert (second["predicted"] <= second["predicted_hi90"]).all()
    assert not set(second["candidate_id"]) & set(first["candidate_id"])


def test_tell_judges_each_row_and_keeps_the_good_ones(manual):
    batch = manual.ask()
    answers = _answer(manual, batch)
    answers.loc[0, "value"] = math.nan
    bad = pd.DataFrame([{"experiment_id": "never-asked", "value": 1.0}])
    outcome = manual.tell(pd.concat([answers, bad], ignore_index=True))
    assert outcome["outcome"].tolist() == ["rejected"] + ["stored"] * 7 + ["rejected"]
    assert "not a finite number" in outcome["reason"][0]
    again = manual.tell(answers.iloc[1:])  # a second delivery: nothing twice
    assert (again["outcome"] == "duplicate").all()
    assert len(manual.measurements()) == 7
    assert len(manual.store.rejected(manual.name)) == 2


def test_measurements_from_outside_are_learned_from_and_not_asked_again(manual):
    outside = pd.DataFrame({"candidate_id": manual.design.ids[:20],
                            "value": np.linspace(0.0, 3.0, 20)})
    assert manual.add_measurements(outside) == 20
    assert manual.add_measurements(outside) == 0  # idempotent
    frame = manual.measurements()
    assert (frame["round"] == -1).sum() == 20
    batch = manual.ask()
    assert not set(batch["candidate_id"]) & set(manual.design.ids[:20])
    # with data to learn from, even the first batch is proposed by the model
    assert batch["predicted_sd_target"].notna().all()
    assert manual.store.rounds(manual.name)[0].n_train == 20
    with pytest.raises(ValueError, match="unknown candidate 'KO:NOPE'"):
        manual.add_measurements(pd.DataFrame({"candidate_id": ["KO:NOPE"], "value": [1.0]}))


def test_a_spent_budget_says_so(make_spec, tmp_path):
    spec = make_spec(name="short", budget={"rounds": 1, "batch_size": 4},
                     lab={"kind": "manual", "table": None})
    campaign = Campaign.open(spec, store=f"sqlite:///{tmp_path / 's.db'}",
                             state_dir=tmp_path / "state")
    campaign.tell(_answer(campaign, campaign.ask()))
    with pytest.raises(ValueError, match="spent its budget of 1 rounds"):
        campaign.ask()
    assert len(campaign.proposals()) == 4


def test_export_and_status_json_from_the_command_line(manual, tmp_path, capsys):
    import json

    from loop.run.cli import run_cli

    manual.tell(_answer(manual, manual.ask()))
    url = manual.store.url
    assert run_cli(["export", manual.name, "--store", url]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0] == "experiment_id,round,candidate_id,replicate,value" and len(lines) == 9
    out = tmp_path / "proposals.json"
    assert run_cli(["export", manual.name, "--what", "proposals", "--format", "json",
                    "--out", str(out), "--store", url]) == 0
    rows = json.loads(out.read_text())
    assert len(rows) == 8 and {"experiment_id", "acquisition", "state"} <= set(rows[0])
    capsys.readouterr()
    assert run_cli(["status", manual.name, "--json", "--store", url]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["n_measurements"] == 8 and status["experiments"] == {"done": 8}
    assert status["rounds"][0]["status"] == "done"
    assert run_cli(["export", manual.name, "--what", "nothing", "--store", url]) == 2
