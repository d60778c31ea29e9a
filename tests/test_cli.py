"""The ``hashlab`` console script: ``train`` prints retrieval metrics well above chance; bad input is rejected."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from hashlab.cli import main


def test_train_digits_32_bits_prints_metrics_above_chance(capsys):
    assert main(["train", "--dataset", "digits", "--bits", "32", "--no-progress", "--json"]) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["config"]["bits"] == 32
    assert report["test"]["knn_acc"] > 0.8, report["test"]
    assert report["test"]["map"] > 0.8, report["test"]
    assert report["sizes"] == {"train": 1079, "val": 359, "test": 359}


def test_train_table_output_names_protocol(capsys):
    assert main(["train", "--bits", "16", "--epochs", "2", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "database = train (1079), queries = test (359)" in out
    assert "KNN acc (k=7)" in out and "mAP" in out


def test_console_script_is_installed():
    out = subprocess.run(
        [sys.executable, "-m", "hashlab.cli", "--help"], capture_output=True, text=True, check=True
    )
    for command in ("train", "reproduce", "lab"):
        assert command in out.stdout


@pytest.mark.parametrize(
    ("argv", "error", "match"),
    [
        (["train", "--dataset", "no-such-set", "--epochs", "1"], KeyError, "digits"),
        (["train", "--bits", "0", "--epochs", "1"], ValueError, "bit length"),
        (["train", "--bits", "100000", "--epochs", "1"], ValueError, "bit length"),
    ],
)
def test_bad_arguments_raise_clear_errors(argv, error, match):
    with pytest.raises(error, match=match):
        main(argv)


def test_unknown_method_is_refused_by_the_parser(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--method", "no-such-loss"])
    assert "invalid choice" in capsys.readouterr().err


def test_console_script_reports_user_errors_in_one_line():
    proc = subprocess.run(
        [sys.executable, "-c", "from hashlab.cli import console; console()", "train", "--dataset", "nope"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().startswith("hashlab: error: unknown dataset 'nope'; available: digits")
    assert "Traceback" not in proc.stderr


def test_reproduce_fast_writes_all_tables_and_figures(tmp_path):
    """``hashlab reproduce --fast``, exactly as README gives it: every thesis method x bit length on digits/pixels."""
    out = tmp_path / "reproduce_out"
    assert main(["reproduce", "--fast", "--out", str(out)]) == 0
    for n in (3, 4, 5, 6):
        assert (out / f"table{n}.csv").is_file() and (out / f"table{n}.md").is_file()
    assert (out / "assumptions.json").is_file() and (out / "README.md").is_file()
    cells = {p.stem.rsplit("_", 2)[0] for p in (out / "cells").glob("*.json")}
    from hashlab.losses import THESIS_METHODS

    assert cells == set(THESIS_METHODS)
    figures = {p.name for p in out.glob("*.png")}
    for prefix in ("fig17", "fig18_19", "fig20_21", "fig26_27", "fig30"):
        assert any(name.startswith(prefix) for name in figures), (prefix, sorted(figures))


def test_lab_opens_jupyterlab_on_the_quickstart(monkeypatch):
    calls = []
    monkeypatch.setattr("os.execv", lambda path, argv: calls.append((path, argv)))
    monkeypatch.setattr("shutil.which", lambda name: f"/venv/bin/{name}")
    main(["lab"])
    path, argv = calls[0]
    assert path == "/venv/bin/jupyter" and argv[1] == "lab"
    assert argv[2].endswith("notebooks/00_quickstart.ipynb")
    with pytest.raises(FileNotFoundError, match="no notebook"):
        main(["lab", "99_missing.ipynb"])
