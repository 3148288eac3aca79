"""The screen benchmark runs any Gene,Score table with a hit list, through the campaign path."""

import numpy as np
import pytest

from loop.bench.screen import parse_arm, run_benchmark, screen_spec, summarise, write_outputs


def test_arms_parse_with_options():
    arm = parse_arm("linear:ucb:beta=0.25,initial=random")
    assert (arm.instrument, arm.strategy) == ("linear", "ucb")
    assert arm.strategy_options == {"beta": 0.25, "initial": "random"}
    spec = screen_spec("X", "t.csv", "h.txt", arm, 3, 5, 32)
    assert spec["budget"]["initial_strategy"] == "random"
    assert spec["strategy"] == {"name": "ucb", "options": {"beta": 0.25}}
    with pytest.raises(ValueError, match="INSTRUMENT:STRATEGY"):
        parse_arm("linear")


def test_a_screen_it_has_never_seen_with_a_text_hit_list(shared_data, tmp_path):
    table = shared_data / "screens" / "ground_truth_Scharenberg22.csv"
    hits = np.load(shared_data / "screens" / "topmovers_Scharenberg22.npy", allow_pickle=False)
    hit_file = tmp_path / "hits.txt"
    hit_file.write_text("\n".join(map(str, hits)))
    rows = run_benchmark({"mine": (str(table), str(hit_file))},
                         [parse_arm("linear:ucb"), parse_arm("random")], [0], rounds=2,
                         workers=1, state_dir=tmp_path / "state")
    assert {(r["arm"], r["round"]) for r in rows} == {
        ("linear:ucb", 0), ("linear:ucb", 1), ("random", 0), ("random", 1)}
    assert all(r["n_measured"] == 32 * (r["round"] + 1) for r in rows)  # 32 under 2,000 genes
    guided = next(r for r in rows if r["arm"] == "linear:ucb" and r["round"] == 1)
    assert 0 <= guided["pool_coverage90"] <= 1 and guided["fit_s"] > 0
    (ucb, rnd) = sorted(summarise(rows), key=lambda s: s["arm"])
    assert ucb["hit_ratio_mean"] == guided["hits_found"] / len(set(hits))
    paths = write_outputs(rows, tmp_path / "out")
    assert all(p.exists() and p.stat().st_size > 0 for p in paths.values())


def test_the_default_arm_is_whatever_a_spec_that_names_nothing_gets():
    from loop.bench.screen import SCREENS
    from loop.campaign.spec import GENE_INITIAL_STRATEGY, initial_strategy, instrument_kind, parse_spec

    assert set(SCREENS) == {"IFNG", "IL2", "Scharenberg22", "Zhu21", "Zhuang19", "Wang14"}
    raw = screen_spec("Wang14", *SCREENS["Wang14"], parse_arm("default"), 0, 5, 128)
    assert "instrument" not in raw and "strategy" not in raw
    assert "initial_strategy" not in raw["budget"] and "transform" not in raw["objective"]
    spec = parse_spec(raw)
    assert initial_strategy(spec) == GENE_INITIAL_STRATEGY and instrument_kind(spec) == "linear"
    assert spec.objective.transform == "log" and spec.strategy.name == "ucb"


def test_arm_options_go_where_they_belong():
    arm = parse_arm("linear:ucb:beta=0.5,calibrate=variance,initial=mixed,share=0.5")
    assert arm.instrument_options == {"calibrate": "variance"}
    spec = screen_spec("X", "t.csv", "h.txt", arm, 0, 5, 32)
    assert spec["instrument"]["options"] == {"calibrate": "variance"}
    assert spec["strategy"]["options"] == {"beta": 0.5}
    assert spec["budget"]["initial_strategy"] == "mixed"
    assert spec["budget"]["essential_share"] == 0.5
