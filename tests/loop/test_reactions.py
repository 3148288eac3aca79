"""Reaction design spaces, secondary objectives, a short campaign and the reactions bench."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from loop.campaign.objective import pareto_front, scalarised_target
from loop.design.reactions import reaction_lookup, reaction_space
from loop.campaign.spec import ObjectiveSpec, ReactionDesign, SpecError, parse_spec

DA = "direct_arylation"
AA = "aryl_amination"


def _da(data: Path, **extra) -> dict:
    d = data / "reactions" / DA
    return {
        "kind": "reactions", "table": str(d / "experiment_index.csv"),
        "factors": [
            {"name": "base", "column": "Base_SMILES", "descriptors": str(d / "base_dft.csv")},
            {"name": "ligand", "column": "Ligand_SMILES",
             "descriptors": str(d / "ligand-boltzmann_dft.csv")},
            {"name": "solvent", "column": "Solvent_SMILES", "descriptors": str(d / "solvent_dft.csv")},
            {"name": "concentration", "column": "Concentration", "kind": "numeric"},
            {"name": "temperature", "column": "Temp_C", "kind": "numeric"},
        ], **extra}


def _aa(data: Path, **extra) -> dict:
    d = data / "reactions" / AA
    files = {"aryl_halide": "aryl_halide_dft", "additive": "additive_dft", "base": "base_dft",
             "ligand": "ligand-Pd(0)_dft"}
    return {"kind": "reactions", "table": str(d / "experiment_index.csv"),
            "factors": [{"name": n, "column": f"{n.capitalize()}_SMILES",
                         "descriptors": str(d / f"{f}.csv")} for n, f in files.items()],
            **extra}


def _design(raw: dict) -> ReactionDesign:
    return ReactionDesign.model_validate(raw)


def test_both_tables_give_their_published_counts(shared_data):
    da = reaction_space(_design(_da(shared_data)))
    aa = reaction_space(_design(_aa(shared_data, id_column="entry")))
    assert (da.n, aa.n) == (1728, 3955)
    assert da.ids[0].startswith("base=O=C([O-])C.[K+]|ligand=") and da.ids[0].endswith(
        "|concentration=0.1|temperature=105")
    assert aa.ids[:2] == ["49", "50"]
    assert set(da.parameters[0]) == {"base", "ligand", "solvent", "concentration", "temperature"}
    assert da.X.min() >= 0 and da.X.max() <= 1 and np.isfinite(da.X).all()
    lookup = reaction_lookup(_design(_da(shared_data)), "yield")
    assert set(lookup) == set(da.ids)


def test_product_covers_every_combination_and_table_only_the_runs(shared_data):
    table = reaction_space(_design(_aa(shared_data)))
    product = reaction_space(_design(_aa(shared_data, candidates="product")))
    assert table.n == 3955 and product.n == 15 * 22 * 3 * 4 == 3960
    assert set(table.ids) < set(product.ids)


def test_constraints_exclude_combinations(shared_data):
    frame = pd.read_csv(shared_data / "reactions" / DA / "experiment_index.csv")
    base, ligand = frame["Base_SMILES"][0], frame["Ligand_SMILES"][0]
    space = reaction_space(_design(_da(shared_data, constraints={
        "exclude": [{"base": base, "ligand": ligand}, {"temperature": [90, 120]}]})))
    assert space.n == 1728 // 3 - 1728 // 48 // 3  # 576 at 105 C, less 12 of the pair
    assert all(p["temperature"] == 105 for p in space.parameters)
    assert not any(p["base"] == base and p["ligand"] == ligand for p in space.parameters)


def test_encodings_one_hot_descriptors_and_pca(shared_data):
    ohe = _da(shared_data)
    for f in ohe["factors"]:
        f.pop("descriptors", None)
    space = reaction_space(_design(ohe))
    assert space.X.shape == (1728, 4 + 12 + 4 + 2)
    assert set(np.unique(space.X[:, :20])) == {0.0, 1.0}
    pca2 = _da(shared_data)
    for f in pca2["factors"][:3]:
        f["pca"] = 2
    assert reaction_space(_design(pca2)).X.shape == (1728, 2 + 2 + 2 + 2)
    full = _da(shared_data)
    full["factors"][1]["pca"] = None
    wide = reaction_space(_design(full))
    assert sum(n.startswith("ligand.") for n in wide.feature_names) > 5
    mordred = _da(shared_data)
    mordred["factors"][0]["descriptors"] = [
        str(shared_data / "reactions" / DA / "base_dft.csv"),
        str(shared_data / "reactions" / DA / "base_mordred.csv")]
    assert reaction_space(_design(mordred)).X.shape[0] == 1728


def test_each_factor_is_one_feature_block(shared_data):
    space = reaction_space(_design(_da(shared_data)))
    assert [b[0] for b in space.blocks] == ["base", "ligand", "solvent", "concentration",
                                            "temperature"]
    assert space.blocks[0][1] == 0 and space.blocks[-1][2] == space.X.shape[1]
    assert all(a[2] == b[1] for a, b in zip(space.blocks, space.blocks[1:]))
    for name, start, stop in space.blocks:
        assert all(n.startswith(name) for n in space.feature_names[start:stop])


@pytest.mark.parametrize("change, field", [
    (lambda r: r["constraints"].__setitem__("exclude", [{"catalyst": "Pd"}]),
     "constraints.exclude[0]"),
    (lambda r: r["factors"][3].__setitem__("descriptors", "x.csv"), "numeric factor"),
    (lambda r: r["factors"][0].update(descriptors=[], encoding="descriptors"),
     "encoding 'descriptors'"),
    (lambda r: r["factors"][0].__setitem__("pca", 0), "factors.0.pca"),
    (lambda r: r.__setitem__("candidates", "all"), "design_space.reactions.candidates"),
    (lambda r: r["factors"].append({"name": "base"}), "names must be unique"),
])
def test_bad_specs_name_the_field(shared_data, change, field):
    raw = _da(shared_data, constraints={"exclude": []})
    change(raw)
    with pytest.raises(SpecError, match=field.replace("[", r"\[").replace("]", r"\]")):
        parse_spec({"name": "bad", "design_space": raw, "lab": {"table": "x.csv"}})


def test_a_missing_column_and_an_unknown_attribute_are_named(shared_data):
    raw = _da(shared_data)
    raw["factors"][0]["column"] = "Base"
    with pytest.raises(ValueError, match=r"no column\(s\) \['Base'\]"):
        reaction_space(_design(raw))
    spec = ObjectiveSpec(secondary=[{"attribute": "cost"}])
    with pytest.raises(ValueError, match=r"objective.secondary\[0\].attribute: 'cost'"):
        scalarised_target(spec, np.ones(2), np.arange(2), {"temperature": np.ones(5)}, 0)


def test_scalarised_target_and_pareto_front():
    spec = ObjectiveSpec(secondary=[{"attribute": "cost", "direction": "minimize"}],
                         constraints=[{"name": "value", "min": 5.0}])
    cost = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    values = np.array([10.0, 20.0, 15.0, 30.0, 1.0])
    rows = np.arange(5)
    a = scalarised_target(spec, values, rows, {"cost": cost}, seed=1)
    b = scalarised_target(spec, values, rows, {"cost": cost}, seed=2)
    assert not np.allclose(a, b)
    assert a[4] < a[:4].min()  # infeasible (value < 5) is penalised below every feasible one
    front = pareto_front(spec, values, rows, {"cost": cost})
    assert sorted(front.tolist()) == [0, 1, 3]  # 2 is dominated by 1, 4 is infeasible


def _campaign(tmp_path: Path, spec: dict):
    from loop.campaign import Campaign
    from loop.campaign.spec import parse_spec
    from loop.campaign.store import SqlStore

    parsed = parse_spec(spec)
    store = SqlStore(f"sqlite:///{tmp_path}/c.db")
    return Campaign(parsed, store, state_dir=tmp_path, compute="local"), store


def _spec(data: Path, **extra) -> dict:
    return {"name": "da", "design_space": _da(data),
            "budget": {"rounds": 3, "batch_size": 5, "initial_strategy": "random"},
            "instrument": {"kind": "gp", "options": {"fit": "scipy", "maxiter": 50,
                                                     "normalize_inputs": False}},
            "strategy": {"name": "ei"},
            "lab": {"kind": "simulated", "table": str(data / "reactions" / DA /
                                                      "experiment_index.csv"),
                    "value_column": "yield", "poll_interval_s": 0.001},
            "seed": 0, **extra}


def test_a_short_campaign_finds_higher_yields_than_its_random_start(shared_data, tmp_path):
    spec = _spec(shared_data)
    del spec["instrument"], spec["strategy"]  # the defaults of a reaction campaign
    campaign, store = _campaign(tmp_path, spec)
    assert campaign.run() == "done"
    model = campaign.host._target.model  # the additive GP, one kernel per factor
    assert model.name == "additive"
    assert (campaign.spec.strategy.name, campaign.spec.strategy.options) == ("ucb", {"beta": 4.0})
    assert model.blocks == [(a, b) for _, a, b in campaign.design.blocks]
    start = [m.value for m in store.measurements("da", round=0)]
    later = [m.value for m in store.measurements("da") if m.round > 0]
    assert len(start) == 5 and len(later) == 10
    assert max(later) > max(start)
    asked = [e.candidate_id for e in store.experiments("da")]
    assert len(set(asked)) == 15
    request = campaign.design.params(campaign.design.index()[asked[0]])
    assert set(request) == {"base", "ligand", "solvent", "concentration", "temperature"}
    store.close()


def test_a_campaign_trades_yield_against_ligand_cost(shared_data, tmp_path):
    frame = pd.read_csv(shared_data / "reactions" / DA / "experiment_index.csv")
    ligands = sorted(frame["Ligand_SMILES"].unique())
    costs = tmp_path / "ligand_cost.csv"
    pd.DataFrame({"smiles": ligands, "cost": np.arange(len(ligands)) * 10.0}).to_csv(
        costs, index=False)
    spec = _spec(shared_data, objective={
        "kind": "maximize", "secondary": [{"attribute": "cost", "direction": "minimize"}],
        "constraints": [{"name": "temperature", "max": 120}]})
    spec["design_space"]["factors"][1]["attributes"] = str(costs)
    spec["budget"]["rounds"] = 2
    campaign, store = _campaign(tmp_path, spec)
    campaign.run()
    rounds = store.rounds("da")
    front = rounds[-1].pareto
    # predictions of a scalarised target are not set against readouts
    assert all(x.coverage90 is None for x in rounds)
    assert front and all(set(p) == {"id", "value", "cost"} for p in front)
    for p in front:  # nobody on the front is dominated by another measurement
        assert not any(q["value"] >= p["value"] and q["cost"] <= p["cost"] and
                       (q["value"] > p["value"] or q["cost"] < p["cost"]) for q in front)
    store.close()


def test_constraints_on_known_attributes_filter_the_candidates(shared_data, tmp_path):
    spec = _spec(shared_data, objective={"kind": "maximize", "constraints": [
        {"name": "temperature", "max": 105}, {"name": "value", "min": 5}]})
    spec["budget"]["rounds"] = 2
    campaign, store = _campaign(tmp_path, spec)
    campaign.run()
    asked = [campaign.design.params(campaign.design.index()[e.candidate_id])
             for e in store.experiments("da")]
    assert len(asked) == 10 and all(p["temperature"] <= 105 for p in asked)
    store.close()
    impossible = _spec(shared_data, objective={"kind": "maximize", "constraints": [
        {"name": "temperature", "min": 200}]})
    with pytest.raises(ValueError, match="no candidate meets objective.constraints"):
        _campaign(tmp_path / "x", impossible)


def test_bench_runs_loopwell_and_random_on_the_same_start(shared_data, tmp_path):
    from loop.bench.reactions import PRESETS, run_benchmark, summarise, write_outputs

    records = run_benchmark([PRESETS[DA]], ["loopwell", "random"], [0], q=5, budget=15,
                            workers=1, runs_path=tmp_path / "runs.jsonl")
    assert {r["tool"] for r in records} == {"loopwell", "random"}
    first = {r["tool"]: r["best_per_round"][0] for r in records}
    assert first["loopwell"] == first["random"]  # the same random start
    assert all(len(r["best_per_round"]) <= 3 for r in records)
    summary = summarise(records)
    assert {s["tool"] for s in summary} == {"loopwell", "random"}
    paths = write_outputs(records, tmp_path / "out")
    assert all(p.exists() for p in paths.values())
    again = run_benchmark([PRESETS[DA]], ["loopwell", "random"], [0], q=5, budget=15,
                          workers=1, runs_path=tmp_path / "runs.jsonl")
    assert len(again) == 2  # resumed from the JSON lines, nothing run twice


def test_bench_peers_fail_with_a_clear_message_when_missing():
    from loop.bench.peers import PeerMissing, _require

    with pytest.raises(PeerMissing, match=r"pip install .*\[bench\]"):
        _require("no_such_module_xyz", "baybe")


def test_median_interval_brackets_the_median_and_narrows_with_seeds():
    from loop.bench.reactions import median_interval

    rng = np.random.default_rng(1)
    few = rng.choice([10.0, 15.0, 20.0, 25.0, 40.0], size=10)
    many = rng.choice([10.0, 15.0, 20.0, 25.0, 40.0], size=400)
    low, high = median_interval(few)
    assert few.min() <= low <= np.median(few) <= high <= few.max()
    low_many, high_many = median_interval(many)
    assert high_many - low_many < high - low
    assert median_interval(np.array([15.0])) == (15.0, 15.0)


def test_bench_reactions_command_writes_the_summary_with_an_interval(shared_data, tmp_path):
    from typer.testing import CliRunner

    from loop.run.cli import app

    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["bench", "reactions", "--table", DA, "--tool", "random",
                                      "--seeds", "3", "--budget", "10", "--workers", "1",
                                      "--out", str(out)])
    assert result.exit_code == 0, result.output
    summary = pd.read_csv(out / "reactions_summary.csv")
    (row,) = summary.to_dict(orient="records")
    low, high = (float(v) for v in row["median_ci95"].split())
    assert row["n_seeds"] == 3 and low <= row["median_to_top1"] <= high
    result = CliRunner().invoke(app, ["bench", "reactions", "--tool", "nope", "--out", str(out)])
    assert result.exit_code == 2 and "unknown tool" in result.output
