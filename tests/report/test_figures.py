"""The report's figures and page, from real campaigns and from small hand-made views."""

from __future__ import annotations

import json

import numpy as np
import pytest

from loop.campaign.records import Experiment, Measurement
from loop.campaign.spec import ObjectiveSpec
from loop.campaign.summary import RoundSummary
from loop.report.calibration import coverage, reliability
from loop.report.figures import campaign_figures, figures_json
from loop.report.html import render_page, write_report
from loop.report.proposals import gene_set_evidence, proposals_table
from loop.report.view import CampaignView, campaign_view


def test_a_screen_draws_its_discovery_curve_beside_random(screen):
    view = campaign_view(screen.store, screen.name, screen.campaign)
    figures = campaign_figures(view)
    assert {"discovery", "coverage", "reliability", "proposals"} <= set(figures)
    assert "best" not in figures and "pareto" not in figures
    loop, random = figures["discovery"].data
    assert list(loop.x) == [0, 8, 16] and random.name == "random (expected)"
    # random finds, on average, 16 * n_hits / n_genes in 16 experiments
    n_hits, n_genes = view.rounds[-1].n_hits, view.n_candidates
    assert 1000 < n_genes < 1100 and n_hits > 0
    assert random.y[-1] == pytest.approx(16 * n_hits / n_genes)


def test_a_reaction_draws_the_best_yield_not_hits(reaction):
    view = campaign_view(reaction.store, reaction.name, reaction.campaign)
    figures = campaign_figures(view)
    assert "discovery" not in figures
    measured, best = figures["best"].data
    values = [m.value for m in view.measurements]
    assert best.y[-1] == max(values) and len(measured.y) == 15
    assert list(best.y) == sorted(best.y)  # the best so far never falls
    assert best.y[-1] > 0  # not a flat zero of 'hits found'


def test_proposals_are_predicted_and_measured_in_the_readouts_units(reaction):
    view = campaign_view(reaction.store, reaction.name, reaction.campaign)
    assert view.scale == reaction.campaign.target_scale() and view.scale is not None
    table = proposals_table(view)
    assert len(table) == 5 and table["measured"].notna().all()
    mine = {e.candidate_id: e for e in view.experiments if e.round == view.current_round}
    for row in table.itertuples():
        e = mine[row.candidate_id]
        # the log-scale prediction is mapped back: yields are percent, not log units
        assert row.predicted == pytest.approx(view.scale * np.expm1(e.predicted_mean))
        assert row.predicted_lo90 <= row.predicted <= row.predicted_hi90
        assert -50 < row.predicted < 500 and 0 <= row.measured <= 100
    assert list(table["acquisition"]) == sorted(table["acquisition"], reverse=True)


def test_gene_proposals_name_their_gene_sets(screen):
    view = campaign_view(screen.store, screen.name, screen.campaign)
    table = proposals_table(view)
    assert "gene_sets" in table and len(table) == 8 and table["gene_sets"].str.len().all()
    hits = sorted(view.hits & set(view.values_by_candidate()))
    assert hits  # a measured hit counts as high in each of its gene sets
    evidence = gene_set_evidence(view, list(view.design.ids))
    annotated = [c for c in view.design.ids if evidence[c] != "in no gene set"]
    assert len(annotated) > 500
    assert any(f"({k}/" in evidence[c] for c in annotated for k in range(1, 9))


def test_reliability_counts_central_intervals():
    mean, sd = np.zeros(4), np.ones(4)
    y = np.array([0.1, -0.5, 1.0, 3.0])  # |z| = 0.1, 0.5, 1, 3
    assert coverage(mean, sd, y, 0.9) == 0.75  # z90 = 1.645
    assert reliability(mean, sd, y, (0.5, 0.99)) == [0.5, 0.75]  # z50 = 0.674, z99 = 2.58


def _view(**kw) -> CampaignView:
    base = dict(name="toy", status="done", description="", objective=ObjectiveSpec(
        kind="maximize", transform="log"), rounds=(), experiments=(), measurements=(),
        scale=10.0)
    return CampaignView(**{**base, **kw})


def test_calibration_compares_predictions_with_measurements_in_target_units():
    # predicted in log units around log1p(221 / 10); measured 221 raw: inside
    t = float(np.log1p(221.0 / 10.0))
    exps = (Experiment("e1", "toy", 1, "a", "done", predicted_mean=t, predicted_sd=0.1),
            Experiment("e2", "toy", 1, "b", "done", predicted_mean=t, predicted_sd=0.1))
    ms = (Measurement("e1", "a", 1, 0, 221.0), Measurement("e2", "b", 1, 0, 5.0))
    figures = campaign_figures(_view(experiments=exps, measurements=ms))
    assert list(figures["coverage"].data[0].y) == [0.5]
    table = proposals_table(_view(experiments=exps, measurements=ms))
    assert table["predicted"].iloc[0] == pytest.approx(221.0)
    assert table["measured"].tolist() == [221.0, 5.0]


def test_secondary_objectives_show_the_front_and_no_calibration():
    objective = ObjectiveSpec(kind="maximize",
                              secondary=[{"attribute": "cost", "direction": "minimize"}])
    front = ({"id": "a", "value": 80.0, "cost": 30.0}, {"id": "b", "value": 60.0, "cost": 5.0})
    exps = (Experiment("e1", "toy", 1, "a", "done", predicted_mean=0.7, predicted_sd=0.1),)
    view = _view(objective=objective, scale=None, experiments=exps,
                 rounds=(RoundSummary(1, status="done", pareto=front),),
                 measurements=(Measurement("e1", "a", 1, 0, 80.0),))
    figures = campaign_figures(view)
    assert {"pareto", "best"} <= set(figures) and "coverage" not in figures
    assert list(figures["pareto"].data[-1].x) == [5.0, 30.0]
    page = render_page(view, figures, plotly_src="plotly.js")
    assert "scalarised score" in page and "cannot be set against" in page


def test_figures_are_json_for_the_dashboard(reaction):
    data = figures_json(campaign_view(reaction.store, reaction.name, reaction.campaign))
    assert set(data) >= {"best", "proposals"}
    assert all({"data", "layout"} <= set(fig) for fig in data.values())
    json.dumps(data)


def test_the_report_inlines_plotly_once_and_no_png(reaction, tmp_path):
    path = write_report(reaction.store, reaction.name, tmp_path / "r.html",
                        campaign=reaction.campaign)
    page = path.read_text()
    assert page.count("<script type=\"text/javascript\">/**") <= 1
    assert "<img" not in page and page.count("Plotly.newPlot") >= 3
    assert "src=\"http" not in page  # opens offline


def test_the_report_command_rebuilds_the_campaign_from_the_stored_spec(reaction, tmp_path,
                                                                      capsys):
    from loop.run.cli import run_cli

    out = tmp_path / "cli.html"
    assert run_cli(["report", reaction.name, "--store", reaction.url, "--out", str(out)]) == 0
    page = out.read_text()
    assert "fig-best" in page and "fig-discovery" not in page
    assert "could not be read" not in page  # its files are where the spec says


def _by_hand(tmp_path, shared_data):
    """A store holding a reaction campaign whose spec names its files relative to its folder."""
    from loop.campaign.spec import parse_spec
    from loop.campaign.store import SqlStore

    from tests.report.conftest import reaction_spec

    raw = json.loads(json.dumps(reaction_spec(shared_data)).replace(
        str(shared_data / "reactions" / "direct_arylation") + "/", ""))
    store = SqlStore(f"sqlite:///{tmp_path}/hand.db")
    store.create_campaign("arylation", parse_spec(raw).model_dump(mode="json"))
    store.start_round("arylation", 0)
    store.add_experiments([Experiment(f"e{k}", "arylation", 0, f"c{k}", "dispatched")
                           for k in range(3)])
    for k, value in enumerate([12.0, 55.0, 31.0]):
        store.record_measurement(f"e{k}", 0, value)
    return store


def test_a_spec_whose_files_are_gone_falls_back_to_the_store(shared_data, tmp_path):
    store = _by_hand(tmp_path, shared_data)
    view = campaign_view(store, "arylation", base_dir=tmp_path)  # the files are not here
    assert view.design is None and "could not be read" in view.notes[0]
    page = render_page(view, plotly_src="plotly.js")
    assert "fig-best" in page and "could not be read" in page
    assert list(campaign_figures(view)["best"].data[1].y) == [55.0]
    # from the folder the spec was written in, the design space is rebuilt
    here = campaign_view(store, "arylation",
                         base_dir=shared_data / "reactions" / "direct_arylation")
    assert here.design is not None and here.n_candidates == 1728 and not here.notes
    store.close()


def test_a_two_sided_screen_sets_predicted_size_beside_measured_size():
    objective = ObjectiveSpec(kind="hits", top_fraction=0.05, two_sided=True)
    exps = (Experiment("e1", "toy", 1, "a", "done", predicted_mean=2.0, predicted_sd=1.5),)
    view = _view(objective=objective, scale=None, experiments=exps,
                 measurements=(Measurement("e1", "a", 1, 0, -2.2),))
    table = proposals_table(view)
    assert (table["predicted"].iloc[0], table["measured"].iloc[0]) == (2.0, 2.2)
    assert table["predicted_lo90"].iloc[0] == 0.0  # 2 - 1.645 * 1.5 < 0: no size is negative
    assert "|value|" in campaign_figures(view)["proposals"].layout.yaxis.title.text


def test_a_campaign_trading_yield_against_cost_draws_its_pareto_front(tradeoff):
    view = campaign_view(tradeoff.store, tradeoff.name, tradeoff.campaign)
    figures = campaign_figures(view)
    assert {"pareto", "best"} <= set(figures) and "coverage" not in figures
    measured, front = figures["pareto"].data
    assert len(measured.x) == 10 and 1 <= len(front.x) <= 10
    assert list(front.x) == sorted(front.x)  # cheapest first, a staircase
    assert len(proposals_table(view)) == 5  # the scalarised score, never called yield


def test_the_report_says_what_the_model_weighs(screen):
    view = campaign_view(screen.store, screen.name, screen.campaign)
    weights = view.rounds[-1].block_weights
    blocks = [name for name, _, _ in screen.campaign.design.blocks]
    # one share per feature block of the design (gene sets, flags, the five prior
    # screens that are not Scharenberg22 itself), summing to one
    assert list(weights) == blocks and "prior:ground_truth_IL2" in weights
    assert sum(weights.values()) == pytest.approx(1.0, abs=1e-3)
    assert all(0 <= w <= 1 for w in weights.values())
    page = render_page(view, {}, plotly_src="plotly.js")
    assert "What the model weighs (fit of round 1)" in page
    assert "prior screen: ground_truth_IL2" in page
    assert view.rounds[0].block_weights is None  # round 0 fits no model
