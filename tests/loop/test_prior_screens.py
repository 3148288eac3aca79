"""Earlier screens as prior knowledge: one feature block each, never the campaign's own screen."""

import shutil

import numpy as np
import pytest

from loop.bench.screen import SCREENS, parse_arm, prior_screens, screen_spec
from loop.campaign.spec import GeneDesign
from loop.design import build_design_space
from loop.design.datasets import PUBLIC_SCREENS, resolve
from loop.design.features import prior_screen_features


def _design(tmp_path, genes=("TP53", "NA", "JAK1")):
    table = tmp_path / "mine.csv"
    table.write_text("Gene\n" + "\n".join(genes) + "\n")
    return table


def test_a_prior_screen_gives_a_robust_effect_and_whether_the_gene_was_screened(tmp_path):
    earlier = tmp_path / "earlier.csv"
    # median 1, MAD 1: effect = log1p(|score - 1|)
    earlier.write_text("Gene,Score\nA,0\nB,1\nC,2\nD,11\nNA,-3\nE,\n")
    X, names = prior_screen_features(["d", "B", "NA", "ZZZ", "E"], earlier)
    assert names == ["earlier_effect", "earlier_screened"]
    assert X[:, 1].tolist() == [1, 1, 1, 0, 0]  # ZZZ not screened, E has no score
    np.testing.assert_allclose(X[:, 0], np.log1p([10, 0, 4, 0, 0]), rtol=1e-6)


def test_the_default_priors_are_the_public_screens_but_the_campaigns_own(tmp_path):
    mine = _design(tmp_path)
    space = build_design_space(GeneDesign(table=str(mine), gene_sets=[], essential_genes=None))
    blocks = [b for b, _, _ in space.blocks]
    assert blocks == [f"prior:ground_truth_{s}" for s in PUBLIC_SCREENS]
    # the same screen under another name is still the campaign's own: left out
    copy = tmp_path / "my_il2_screen.csv"
    shutil.copy(resolve(PUBLIC_SCREENS["IL2"][0]), copy)
    space = build_design_space(GeneDesign(table=str(copy), gene_sets=[], essential_genes=None))
    assert "prior:ground_truth_IL2" not in [b for b, _, _ in space.blocks]
    assert len(space.blocks) == len(PUBLIC_SCREENS) - 1
    # ... and so is the table a simulated lab answers from
    space = build_design_space(GeneDesign(table=str(mine), gene_sets=[], essential_genes=None),
                               answers=copy)
    assert "prior:ground_truth_IL2" not in [b for b, _, _ in space.blocks]
    jak1 = space.ids.index("KO:JAK1")
    ifng = space.feature_names.index("ground_truth_IFNG_effect")
    assert space.X[jak1, ifng] > 0 and space.X[jak1, ifng + 1] == 1


def test_named_priors_are_used_and_the_own_screen_is_refused(tmp_path):
    mine = _design(tmp_path)
    il2 = PUBLIC_SCREENS["IL2"][0]
    space = build_design_space(GeneDesign(table=str(mine), gene_sets=[], essential_genes=None,
                                          prior_screens=[il2]))
    assert [b for b, _, _ in space.blocks] == ["prior:ground_truth_IL2"]
    none = build_design_space(GeneDesign(table=str(mine), gene_sets=[],
                                         essential_genes=str(mine), prior_screens=[]))
    assert [b for b, _, _ in none.blocks] == ["essential"]
    with pytest.raises(ValueError, match="campaign's own screen"):
        build_design_space(GeneDesign(table=il2, gene_sets=[], essential_genes=None,
                                      prior_screens=[il2]))


def test_the_benchmark_never_learns_from_the_screen_it_scores():
    tables = prior_screens("Zhu21", SCREENS["Zhu21"][0], "others")
    assert SCREENS["Zhu21"][0] not in tables and len(tables) == len(SCREENS) - 1
    assert prior_screens("IFNG", SCREENS["IFNG"][0], "IL2+IFNG") == [SCREENS["IL2"][0]]
    with pytest.raises(ValueError, match="unknown screens"):
        prior_screens("IFNG", SCREENS["IFNG"][0], "IL3")
    spec = screen_spec("IFNG", *SCREENS["IFNG"], parse_arm("linear:ucb:beta=1"), 0, 5, 128)
    assert spec["design_space"]["prior_screens"] == []  # an arm without priors= has none
    default = screen_spec("IFNG", *SCREENS["IFNG"], parse_arm("default"), 0, 5, 128)
    assert "prior_screens" not in default["design_space"]  # the shipped default decides


def test_an_earlier_campaign_of_the_store_is_a_prior_screen_frozen_at_the_start(make_spec,
                                                                               tmp_path):
    from loop.campaign import Campaign
    from loop.campaign.store import SqlStore

    store = SqlStore(f"sqlite:///{tmp_path / 'store.db'}")
    first = Campaign(make_spec(name="first", budget={"rounds": 1}), store,
                     state_dir=tmp_path / "state", compute="local")
    assert first.run() == "done"
    measured = {m.candidate_id[3:]: m.value for m in store.measurements("first")}
    spec = make_spec(name="second", design_space={"prior_screens": ["campaign:first"]})
    second = Campaign(spec, store, state_dir=tmp_path / "state", compute="local")
    assert [b for b, _, _ in second.design.blocks][-1] == "prior:first"
    screened = second.design.X[:, second.design.feature_names.index("first_screened")]
    assert {g[3:] for g, s in zip(second.design.ids, screened) if s} == set(measured)
    # the snapshot is the campaign's own: more measurements of "first" do not move it
    snapshot = (second.state_dir / "priors" / "first.csv").read_text()
    assert Campaign(make_spec(name="first", budget={"rounds": 2}), store,
                    state_dir=tmp_path / "state", compute="local").run() == "done"
    Campaign(spec, store, state_dir=tmp_path / "state", compute="local")
    assert (second.state_dir / "priors" / "first.csv").read_text() == snapshot

    for ref, message in (("campaign:nope", "no campaign 'nope'"),
                         ("campaign:third", "this campaign")):
        with pytest.raises(ValueError, match=message):
            Campaign(make_spec(name="third", design_space={"prior_screens": [ref]}), store,
                     state_dir=tmp_path / "state", compute="local")
    store.close()


def test_loopwell_run_names_the_prior_screens_it_learns_from(make_spec, tmp_path, capsys):
    import yaml

    from loop.run.cli import run_cli

    path = tmp_path / "small.yaml"
    raw = make_spec(name="named", budget={"rounds": 1, "batch_size": 8}).model_dump(mode="json")
    path.write_text(yaml.safe_dump(raw))
    code = run_cli(["run", str(path), "--compute", "local",
                    "--store", f"sqlite:///{tmp_path / 'store.db'}"])
    out = capsys.readouterr().out
    assert code == 0, out
    line = next(x for x in out.splitlines() if x.startswith("prior screens"))
    assert "ground_truth_IL2" in line and "Scharenberg22" not in line  # never its own screen


def test_a_campaign_recorded_before_prior_screens_existed_keeps_learning_from_none(make_spec,
                                                                                  tmp_path):
    from loop.campaign import Campaign
    from loop.campaign.store import SqlStore

    store = SqlStore(f"sqlite:///{tmp_path / 'store.db'}")
    spec = make_spec(name="older")
    recorded = spec.model_dump(mode="json")
    del recorded["design_space"]["prior_screens"]  # what the earlier version stored
    store.create_campaign("older", recorded)
    for _ in range(2):  # and on every later run, from what it records now
        campaign = Campaign(spec, store, state_dir=tmp_path / "state", compute="local")
        assert not [b for b, _, _ in campaign.design.blocks if b.startswith("prior:")]
        assert store.campaign("older").spec["design_space"]["prior_screens"] == []
    # a campaign recorded now gets the default
    new = Campaign(make_spec(name="newer"), store, state_dir=tmp_path / "state", compute="local")
    assert [b for b, _, _ in new.design.blocks if b.startswith("prior:")]
    store.close()


def test_the_default_priors_never_download(tmp_path, monkeypatch):
    # a machine without the data collection: the default learns from no earlier screen
    # rather than waiting on (or failing for) the network
    import loop.design.datasets as datasets

    monkeypatch.setattr(datasets, "data_roots", lambda: [tmp_path / "nowhere"])
    monkeypatch.setattr(datasets, "_fetch", lambda rel: pytest.fail(f"fetched {rel}"))
    mine = _design(tmp_path)
    space = build_design_space(GeneDesign(table=str(mine), gene_sets=[],
                                          essential_genes=str(mine)))
    assert [b for b, _, _ in space.blocks] == ["essential"]
