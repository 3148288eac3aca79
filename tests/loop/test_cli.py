import subprocess
import sys

from typer.testing import CliRunner

from loop.run.cli import app


def test_importing_the_cli_does_not_import_torch():
    code = "import sys, loop.run.cli; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_a_bad_campaign_file_exits_with_the_field_named(tmp_path, capsys):
    from loop.run.cli import run_cli

    spec = tmp_path / "c.yaml"
    spec.write_text("name: x\ndesign_space: {kind: genes, table: t.csv}\nlab: {kind: robot}\n")
    code = run_cli(["run", str(spec), "--store", f"sqlite:///{tmp_path}/s.db"])
    out = capsys.readouterr()
    assert code == 2
    assert "lab" in out.err and "unknown lab kind 'robot'" in out.err


def test_status_lists_campaigns_and_rejects_unknown_ones(tmp_path):
    url = f"sqlite:///{tmp_path}/s.db"
    result = CliRunner().invoke(app, ["status", "--store", url])
    assert result.exit_code == 0 and "no campaigns" in result.output
    result = CliRunner().invoke(app, ["status", "nope", "--store", url])
    assert result.exit_code == 1 and "no campaign 'nope'" in str(result.exception)


def test_the_demo_keeps_its_recipe_unless_told_otherwise():
    from loop.run.cli import demo_spec

    spec = demo_spec()
    assert spec.instrument.kind == "linear" and spec.design_space.features == "membership"
    assert spec.strategy.options == {"beta": 0.25} and spec.objective.transform == "log"
    other = demo_spec(rounds=2, batch_size=16, instrument="gp", strategy="thompson")
    assert other.instrument.kind == "gp" and other.design_space.features == "svd"
    assert other.strategy.name == "thompson" and other.budget.rounds == 2
