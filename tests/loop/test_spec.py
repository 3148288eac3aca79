import pytest

from loop.campaign.spec import SpecError, load_spec, parse_spec


def test_the_demo_spec_is_valid():
    from loop.run.cli import DEMO_SPEC

    spec = load_spec(DEMO_SPEC)
    assert spec.budget.rounds == 5 and spec.budget.batch_size == 128
    assert spec.objective.kind == "hits"


def test_an_unknown_field_is_named(make_spec):
    raw = make_spec().model_dump(mode="json")
    raw["budget"]["batchsize"] = 3
    with pytest.raises(SpecError, match=r"budget\.batchsize"):
        parse_spec(raw)


def test_a_bad_value_is_named(make_spec):
    raw = make_spec().model_dump(mode="json")
    raw["budget"]["rounds"] = 0
    with pytest.raises(SpecError, match=r"budget\.rounds"):
        parse_spec(raw)


def test_hits_need_exactly_one_rule(make_spec):
    raw = make_spec().model_dump(mode="json")
    raw["objective"] = {"kind": "hits"}
    with pytest.raises(SpecError, match="threshold or top_fraction"):
        parse_spec(raw)


def test_a_simulated_lab_needs_a_table(make_spec):
    raw = make_spec().model_dump(mode="json")
    raw["lab"] = {"kind": "simulated"}
    with pytest.raises(SpecError, match="lab"):
        parse_spec(raw)


def test_yaml_errors_are_reported(tmp_path):
    bad = tmp_path / "c.yaml"
    bad.write_text("name: [unclosed\n")
    with pytest.raises(SpecError, match="not valid YAML"):
        load_spec(bad)
    with pytest.raises(SpecError, match="not found"):
        load_spec(tmp_path / "missing.yaml")
