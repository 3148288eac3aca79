"""Everyday mistakes get one line and an exit code per class, never a traceback."""

import os

import pytest
import yaml

from loop.run.cli import run_cli
from loop.run.errors import ExitCode, explain


def _run(capsys, *argv) -> tuple[int, str]:
    code = run_cli(list(argv))
    out = capsys.readouterr()
    return code, out.out + out.err


def _one_line_error(text: str) -> str:
    lines = [line for line in text.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, text
    assert "Traceback" not in text
    return lines[0]


@pytest.fixture
def write_spec(make_spec, tmp_path):
    def write(name="oops", **overrides) -> str:
        raw = make_spec(name=name, **overrides).model_dump(mode="json")
        path = tmp_path / f"{name}.yaml"
        path.write_text(yaml.safe_dump(raw))
        return str(path)

    return write


@pytest.fixture
def store_url(tmp_path):
    return f"sqlite:///{tmp_path / 'store.db'}"


def _table(tmp_path, text, name="t.csv") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize("content, words", [
    ("", "the file is empty"),
    ("Gene,Score\n", "header but no rows"),
    ("Name,Score\nA,1\n", "no column 'Gene'"),
])
def test_a_bad_screen_table_is_one_line(capsys, tmp_path, write_spec, store_url, content, words):
    table = _table(tmp_path, content)
    spec = write_spec(design_space={"table": table}, lab={"table": table})
    code, out = _run(capsys, "run", spec, "--compute", "local", "--store", store_url)
    assert code == ExitCode.BAD_INPUT
    assert words in _one_line_error(out)


def test_strings_in_the_score_column_name_the_row(capsys, tmp_path, write_spec, store_url):
    table = _table(tmp_path, "Gene,Score\nA,1.0\nB,high\n")
    spec = write_spec(design_space={"table": table}, lab={"table": table})
    code, out = _run(capsys, "run", spec, "--compute", "local", "--store", store_url)
    assert code == ExitCode.BAD_INPUT
    line = _one_line_error(out)
    assert "'Score' must hold numbers" in line and "row 3" in line


def test_a_missing_table_and_a_data_reference_outside_the_data_folder(capsys, write_spec,
                                                                      store_url):
    for table, words in (("nowhere.csv", "not found"),
                         ("data:../../../../etc/passwd", "inside the data folder")):
        spec = write_spec(design_space={"table": table})
        code, out = _run(capsys, "run", spec, "--compute", "local", "--store", store_url)
        assert code == ExitCode.BAD_INPUT
        line = _one_line_error(out)
        assert words in line and "root:" not in line


def test_a_key_given_twice_is_refused(capsys, tmp_path, store_url):
    path = _table(tmp_path, "name: a\nname: b\n", "twice.yaml")
    code, out = _run(capsys, "run", path, "--store", store_url)
    assert code == ExitCode.BAD_INPUT and "'name' is given twice" in _one_line_error(out)


@pytest.mark.parametrize("url, words", [
    ("nonsense", "not a database URL"),
    ("mysql+nodriver://u@h/db", "store:"),
    ("postgresql+psycopg://u:hunter2@127.0.0.1:1/x", "cannot use the database"),
])
def test_a_bad_store_url_is_one_line_without_its_password(capsys, url, words):
    code, out = _run(capsys, "status", "--store", url)
    assert code == ExitCode.STORE
    line = _one_line_error(out)
    assert words in line and "hunter2" not in out


def test_a_damaged_or_read_only_sqlite_file(capsys, tmp_path):
    damaged = tmp_path / "damaged.db"
    damaged.write_bytes(b"this is not sqlite" * 100)
    code, out = _run(capsys, "status", "--store", f"sqlite:///{damaged}")
    assert code == ExitCode.STORE and "damaged" in _one_line_error(out)
    from loop.campaign import SqlStore

    path = tmp_path / "s.db"
    SqlStore(f"sqlite:///{path}").create_campaign("x", {})
    # opened read-only (as a file without write permission would be, for a user not root)
    code, out = _run(capsys, "delete", "x", "-y", "--store",
                     f"sqlite:///file:{path}?mode=ro&uri=true")
    assert code == ExitCode.STORE and "read-only" in _one_line_error(out)


@pytest.mark.parametrize("command", ["report", "approve", "delete", "status"])
def test_an_unknown_campaign_is_named(capsys, store_url, command):
    code, out = _run(capsys, command, "nope", "--store", store_url)
    assert code == ExitCode.BAD_INPUT and "no campaign 'nope'" in _one_line_error(out)


def test_debug_shows_the_traceback(capsys, store_url):
    code, out = _run(capsys, "--debug", "report", "nope", "--store", store_url)
    os.environ.pop("LOOPWELL_DEBUG", None)
    assert code == ExitCode.BAD_INPUT and "Traceback" in out


def test_the_classes_of_error_and_their_codes():
    from adapters import LabError
    from loop.campaign.store.base import CampaignBusy

    assert explain(KeyboardInterrupt())[0] == ExitCode.INTERRUPTED
    assert "resume" in explain(KeyboardInterrupt())[1]
    assert explain(LabError("500 from https://u:pw@lab/x"))[0] == ExitCode.LAB
    assert "pw@" not in explain(LabError("500 from https://u:pw@lab/x"))[1]
    assert explain(CampaignBusy("busy"))[0] == ExitCode.BUSY
    assert explain(RuntimeError("boom"))[0] == ExitCode.UNEXPECTED


@pytest.mark.slow
def test_a_lab_that_is_down_is_one_line_and_loses_nothing(write_spec, store_url, tmp_path):
    """Through the real command (its own process, Prefect's own local API), as a user runs it."""
    import socket
    import subprocess
    import sys

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    spec = write_spec(name="lab-down", budget={"rounds": 1, "batch_size": 4},
                      lab={"kind": "http", "table": None,
                           "settings": {"base_url": f"http://127.0.0.1:{port}", "retries": 1,
                                        "backoff_s": 0.01, "timeout_s": 1.0}})
    env = {**os.environ, "LOOPWELL_HOME": str(tmp_path / "home")}
    env.pop("PREFECT_HOME", None)
    done = subprocess.run([sys.executable, "-m", "loop.run.cli", "run", spec, "--compute",
                           "local", "--store", store_url], env=env, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == ExitCode.LAB, done.stdout + done.stderr
    assert "the lab failed" in _one_line_error(done.stdout + done.stderr)
    from loop.campaign import SqlStore

    store = SqlStore(store_url)  # the batch waits, approved, for the next run
    assert [e.state for e in store.experiments("lab-down")] == ["approved"] * 4


def test_a_gene_named_na_is_a_gene(tmp_path):
    from loop.design.datasets import read_table

    table = _table(tmp_path, "Gene,Score\nNA,1.5\nZAP70,NA\nCD28,\n")
    frame = read_table(table, ["Gene", "Score"], ids="Gene", numeric=["Score"])
    assert frame["Gene"].tolist() == ["NA", "ZAP70", "CD28"]
    assert frame["Score"].iloc[0] == 1.5 and frame["Score"].iloc[1:].isna().all()


def test_ctrl_c_says_nothing_is_lost(capsys, monkeypatch, store_url):
    from loop.run import cli

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "_store", interrupted)
    code, out = _run(capsys, "status", "--store", store_url)
    assert code == ExitCode.INTERRUPTED
    assert "interrupted; nothing measured is lost" in _one_line_error(out)
