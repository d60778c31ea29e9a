"""The catalogue of bad inputs and the one-line error each gets (issue 12's sweep, kept so the next sweep starts here).

Each CLI case runs ``hashlab.cli.console`` in-process, as the ``hashlab`` console script does, and checks the exit
status, that stderr's message is one line (argparse adds its usage line above its own), that it names the option or
file, and that no traceback is printed. Python API cases check the exception type and message.
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

import pytest

from hashlab import cli, errors, files


def _console(argv: list[str], monkeypatch, capsys) -> tuple[int, str]:
    monkeypatch.setattr(sys, "argv", ["hashlab", *argv])
    with pytest.raises(SystemExit) as exit_info:
        cli.console()
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return int(exit_info.value.code or 0), err


@pytest.fixture
def paths(tmp_path, monkeypatch) -> dict[str, str]:
    """A regular file, a folder, and a path under the regular file; the data folder is private."""
    monkeypatch.setenv("HASHLAB_DATA_DIR", str(tmp_path / "data"))
    (tmp_path / "a_file").write_text("not a folder")
    (tmp_path / "a_folder").mkdir()
    return {
        "FILE": str(tmp_path / "a_file"),
        "DIR": str(tmp_path / "a_folder"),
        "UNDER_FILE": str(tmp_path / "a_file" / "sub"),
        "TMP": str(tmp_path),
    }


# (argv, exit status, regex the last stderr line must match); FILE/DIR/UNDER_FILE/TMP are replaced by paths.
CLI_CASES = [
    # --- train: option values
    (["train", "--loss-kwargs", "not json", "--epochs", "1"], 2, r"--loss-kwargs.*not valid JSON"),
    (["train", "--loss-kwargs", "[1, 2]", "--epochs", "1"], 2, r"--loss-kwargs.*JSON object"),
    (["train", "--map-k", "-3", "--epochs", "1"], 2, r"--map-k takes a positive integer or 'all'"),
    (["train", "--val-db-size", "0", "--epochs", "1"], 2, r"--val-db-size takes a positive integer or 'all'"),
    (["train", "--hidden", "-5", "--epochs", "1"], 2, r"^hashlab: error: .*hidden.*-5"),
    (["train", "--bits", "0", "--epochs", "1"], 2, r"^hashlab: error: .*bit"),
    (["train", "--dataset", "no-such-set", "--epochs", "1"], 2, r"^hashlab: error: .*no-such-set.*digits"),
    (["train", "--method", "no-such-loss"], 2, r"--method: invalid choice: 'no-such-loss'"),
    # --- train: output paths, checked before any training
    (
        ["train", "--save", "DIR", "--epochs", "1"],
        2,
        r"^hashlab: error: --save .*a_folder: is a (folder|directory)",
    ),
    (
        ["train", "--save", "UNDER_FILE/model.pt", "--epochs", "1"],
        2,
        r"--save .*a_file is a file, not a folder",
    ),
    # --- reproduce
    (
        ["reproduce", "--fast", "--out", "FILE"],
        2,
        r"^hashlab: error: --out .*a_file: is a file, not a folder$",
    ),
    (
        ["reproduce", "--fast", "--out", "UNDER_FILE"],
        2,
        r"^hashlab: error: --out .*a_file is a file, not a folder$",
    ),
    (["reproduce", "--dataset", "imagenet", "--out", "TMP"], 2, r"unknown dataset 'imagenet'; choose one of"),
    (["reproduce", "--fast", "--methods", "nope", "--out", "TMP"], 2, r"unknown method\(s\) \['nope'\]"),
    (["reproduce", "--fast", "--bits", "0", "--out", "TMP"], 2, r"bits must be positive integers"),
    # --- lab
    (["lab", "99_missing.ipynb"], 2, r"^hashlab: error: no notebook 99_missing.ipynb"),
    (["lab", "00_quickstart.ipynb", "01_data_and_embeddings.ipynb"], 2, r"opens one notebook, got 2"),
]


@pytest.mark.parametrize(("argv", "status", "match"), CLI_CASES, ids=[" ".join(c[0]) for c in CLI_CASES])
def test_cli_bad_input_gets_one_line(argv, status, match, paths, monkeypatch, capsys):
    argv = [_fill(a, paths) for a in argv]
    code, err = _console(argv, monkeypatch, capsys)
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == status, err
    messages = [line for line in lines if not line.startswith(("usage:", " "))]
    assert len(messages) == 1, err  # one message (argparse puts its usage above)
    assert re.search(match, messages[0]), messages[0]


def _fill(arg: str, paths: dict[str, str]) -> str:
    for key in ("UNDER_FILE", "FILE", "DIR", "TMP"):
        if arg.startswith(key):
            return paths[key] + arg[len(key) :]
    return arg


def test_data_dir_that_is_a_file_is_named(paths, monkeypatch, capsys):
    monkeypatch.setenv("HASHLAB_DATA_DIR", paths["FILE"])
    code, err = _console(["train", "--epochs", "1"], monkeypatch, capsys)
    assert code == 2 and err.strip().startswith("hashlab: error: HASHLAB_DATA_DIR ")
    assert err.strip().endswith("a_file: is a file, not a folder")


def test_folder_in_use_is_refused_with_the_holder(paths, monkeypatch, capsys):
    with files.lock_folder(paths["TMP"], "hashlab reproduce run"):
        code, err = _console(["reproduce", "--fast", "--out", paths["TMP"]], monkeypatch, capsys)
    assert code == 2
    assert err.strip() == (
        f"hashlab: error: {paths['TMP']} is in use by another hashlab reproduce run (pid {os.getpid()}); wait for "
        "it to finish or use another folder"
    )


def test_rerun_with_other_settings_names_them(paths, monkeypatch, capsys):
    from hashlab.reproduce import RUN_RECORD

    record = {
        "state": "running",
        "settings": {"dataset": "digits", "backbone": "pixels", "size": 28, "epochs": 99},
    }
    Path(paths["TMP"], RUN_RECORD).write_text(json.dumps(record))
    code, err = _console(["reproduce", "--fast", "--out", paths["TMP"]], monkeypatch, capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "holds an unfinished run made with other settings (epochs 99 -> 3;" in err
    assert "use a new --out folder, or --force-restart" in err


def test_ctrl_c_exits_130_with_one_line(monkeypatch, capsys):
    def interrupted(argv=None):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "main", interrupted)
    code, err = _console(["train"], monkeypatch, capsys)
    assert code == 130 and err.strip() == "hashlab: interrupted"


def test_os_errors_are_one_line(monkeypatch, capsys):
    def unwritable(argv=None):
        raise PermissionError(13, "Permission denied", "/somewhere/model.pt")

    monkeypatch.setattr(cli, "main", unwritable)
    code, err = _console(["train"], monkeypatch, capsys)
    assert code == 2 and err.strip() == "hashlab: error: [Errno 13] Permission denied: '/somewhere/model.pt'"


def test_bugs_keep_their_traceback(monkeypatch):
    def bug(argv=None):
        raise ZeroDivisionError("a bug, not a user error")

    monkeypatch.setattr(cli, "main", bug)
    monkeypatch.setattr(sys, "argv", ["hashlab"])
    with pytest.raises(ZeroDivisionError):
        cli.console()


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("not json", r"^--loss-kwargs: not valid JSON \(Expecting value at character 0\)"),
        ("3", "JSON object"),
    ],
)
def test_json_option_names_the_option(text, match):
    with pytest.raises(errors.UserError, match=match):
        errors.json_option(text, "--loss-kwargs")
    assert errors.json_option('{"alpha": 0.1}', "--loss-kwargs") == {"alpha": 0.1}


def test_one_line_joins_lines_and_unquotes_key_errors():
    assert errors.one_line(KeyError("unknown dataset 'x'")) == "unknown dataset 'x'"
    assert errors.one_line(ValueError("first\n  second\n")) == "first; second"


# --- Python API: saving onto a folder or under a file names the target, never hashlab's temporary file
def _save_targets(tmp_path: Path) -> list[tuple[Path, type[OSError]]]:
    (tmp_path / "folder").mkdir()
    (tmp_path / "file").write_text("x")
    return [
        (tmp_path / "folder", IsADirectoryError),
        (tmp_path / "file" / "sub" / "x.bin", NotADirectoryError),
    ]


def test_atomic_write_onto_a_folder_or_under_a_file_names_the_target(tmp_path):
    for target, error in _save_targets(tmp_path):
        with pytest.raises(error) as info, files.atomic_write(target):
            pass
        assert str(target) in str(info.value) and ".hashlab-tmp" not in str(info.value)


def test_index_save_onto_a_folder_or_under_a_file_names_the_target(tmp_path):
    import numpy as np

    from hashlab.index import HammingIndex

    index = HammingIndex(16)
    index.add(np.where(np.random.default_rng(0).random((8, 16)) > 0.5, 1, -1).astype(np.int8))
    for target, _ in _save_targets(tmp_path):
        with pytest.raises(
            (OSError, ValueError)
        ) as info:  # the index's own error or the OSError of atomic_write
            index.save(target)
        assert str(target) in str(info.value) and ".hashlab-tmp" not in str(info.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file", "folder"]


def test_reproduce_rejects_before_writing(tmp_path):
    from hashlab import reproduce

    with pytest.raises(ValueError, match="bits must be positive"):
        reproduce.reproduce("digits", "pixels", tmp_path / "out", methods=["dsh"], bits=[0])
    assert not (tmp_path / "out").exists()


def test_license_is_an_spdx_expression():
    """Issue 12 item 12: setuptools deprecates ``license = { text = ... }`` (builds stop after 2027-02-18)."""
    import tomllib

    from hashlab.config import REPO_ROOT

    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    assert project["project"]["license"] == "MIT"
    requires = project["build-system"]["requires"]
    assert any(
        r.replace(" ", "").startswith("setuptools>=") and int(r.split(">=")[1]) >= 77 for r in requires
    )


def test_ctrl_c_inside_lightning_exits_130_not_1(monkeypatch, capsys):
    """Lightning's Trainer turns Ctrl-C into a silent ``sys.exit(1)``; the console still reports the interrupt."""
    import signal

    def lightning_like(argv=None):
        try:
            os.kill(os.getpid(), signal.SIGINT)
            raise AssertionError("SIGINT was not delivered")
        except KeyboardInterrupt:
            sys.exit(1)  # what pytorch_lightning.trainer.call._call_and_handle_interrupt does

    monkeypatch.setattr(cli, "main", lightning_like)
    before = signal.getsignal(signal.SIGINT)
    code, err = _console(["reproduce"], monkeypatch, capsys)
    assert code == 130 and err.strip() == "hashlab: interrupted"
    assert signal.getsignal(signal.SIGINT) is before  # the console's handler is removed again


def test_a_plain_exit_status_is_kept(monkeypatch, capsys):
    monkeypatch.setattr(cli, "main", lambda argv=None: 3)
    code, err = _console(["train"], monkeypatch, capsys)
    assert code == 3 and err == ""
