"""``hashlab reproduce``: files written, thesis values beside ours, resumability, interruption, bad input."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hashlab import experiment, reproduce, thesis

METHODS = ["dsh", "dpsh"]
BITS = [12, 24]
TINY = dict(methods=METHODS, bits=BITS, fast=True, epochs=2, seed=0)


class CountingRun:
    """Wraps ``experiment.run``: counts calls and can raise on call number ``fail_on``."""

    def __init__(self, fail_on: int | None = None, exc: type[BaseException] = KeyboardInterrupt):
        self.real, self.calls, self.fail_on, self.exc = experiment.run, 0, fail_on, exc

    def __call__(self, *args, **kwargs):
        self.calls += 1
        if self.fail_on is not None and self.calls == self.fail_on:
            raise self.exc("simulated interruption")
        return self.real(*args, **kwargs)


@pytest.fixture(scope="module")
def first_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("reproduce")
    counter = CountingRun()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(experiment, "run", counter)
        (out / ".notes.tmp.txt").write_text("a user's file")  # a name the old clean-up glob deleted
        (out / "cells").mkdir()
        (out / "cells" / ".mine.tmp.json").write_text("{}")
        result = reproduce.reproduce("digits", "pixels", out, **TINY)
    return out, result, counter


def _temporaries(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if ".tmp" in p.name or p.name.startswith(".hashlab-tmp-")]


def test_fast_run_writes_every_file(first_run):
    out, result, counter = first_run
    assert counter.calls == len(METHODS) * len(BITS)
    assert result["computed"] == 4 and result["reused"] == 0
    for n in (3, 4, 5, 6):
        assert (out / f"table{n}.csv").is_file() and (out / f"table{n}.md").is_file()
    for name in ("assumptions.json", "README.md", "baseline_knn.csv", "grid.csv"):
        assert (out / name).is_file(), name
    cells = sorted(p.name for p in (out / "cells").glob("[!.]*.json"))
    assert cells == ["dpsh_12_seed0.json", "dpsh_24_seed0.json", "dsh_12_seed0.json", "dsh_24_seed0.json"]
    pngs = {p.name for p in out.glob("*.png")}
    assert "fig17_class_samples_digits.png" in pngs
    assert "fig18_19_confusion_raw_knn_digits.png" in pngs
    assert "fig20_21_accuracy_vs_bits_pairwise_digits.png" in pngs
    assert all((out / p).stat().st_size > 1000 for p in pngs)
    assert not [p for p in _temporaries(out) if p.name not in (".notes.tmp.txt", ".mine.tmp.json")]


def test_users_files_in_out_survive(first_run):
    out, _, _ = first_run
    assert (out / ".notes.tmp.txt").read_text() == "a user's file"
    assert (out / "cells" / ".mine.tmp.json").read_text() == "{}"


def test_finished_run_is_recorded_and_not_marked_incomplete(first_run):
    out, result, _ = first_run
    record = json.loads((out / reproduce.RUN_RECORD).read_text())
    assert record["state"] == "finished" and record["settings"]["epochs"] == 2
    assert not (out / reproduce.INCOMPLETE).exists() and not (out / ".hashlab.lock").exists()
    assert not (out / "README.md").read_text().startswith("> **INCOMPLETE**")


def test_tables_hold_thesis_values_and_ours(first_run):
    out, result, _ = first_run
    t5 = pd.read_csv(out / "table5.csv")
    assert len(t5) == 4 and set(t5["method"]) == {"DSH", "DPSH"}
    row = t5[(t5["method"] == "DPSH") & (t5["bits"] == 24)].iloc[0]
    assert row["thesis pathmnist (%)"] == thesis.thesis_value(5, "dpsh", "pathmnist", 24)
    cell = result["cells"][("dpsh", 24, 0)]
    assert row["ours (%)"] == pytest.approx(100 * cell.metrics["knn_acc"])
    raw = result["baseline"].query("split == 'test' and k == 7")["knn_acc"].iloc[0]
    assert row["ours - ours raw (pp)"] == pytest.approx(100 * (cell.metrics["knn_acc"] - raw))
    assert (
        row["delta vs thesis (pp)"] == "n/a — different dataset"
    )  # digits is not a thesis dataset: never NaN
    assert (
        row["n"] == 1 and "ours sd (pp)" not in t5 and "thesis within 2 sd" not in t5
    )  # one seed: as before
    t3 = pd.read_csv(out / "table3.csv")
    assert list(t3["k"]) == [3, 5, 7, 10, 15]
    assert list(t3["thesis (pathmnist)"]) == [0.75, 0.76, 0.77, 0.77, 0.77]
    t4 = pd.read_csv(out / "table4.csv")
    assert t4.set_index("dataset").loc["cifar10", "thesis (%)"] == 98.7
    assert t4.set_index("dataset").loc["digits", "ours (%)"] == pytest.approx(100 * raw)
    assert (out / "table6.csv").read_text().strip() != ""  # no triplet method in this grid: header-only file
    md = (out / "table5.md").read_text()
    assert "| DPSH | 24 |" in md


def test_raw_baseline_matches_sklearn_reference(first_run):
    from sklearn.neighbors import KNeighborsClassifier

    from hashlab.features import get_embeddings

    _, result, _ = first_run
    emb = get_embeddings("digits", "pixels")
    for k in (3, 7):
        clf = KNeighborsClassifier(n_neighbors=k, algorithm="brute").fit(emb.train.features, emb.train.labels)
        ref = (clf.predict(emb.test.features) == emb.test.labels).mean()
        ours = result["baseline"].query("split == 'test' and k == @k")["knn_acc"].iloc[0]
        assert ours == pytest.approx(ref, abs=0.01)  # vote-tie rules may differ on a handful of queries
    assert result["raw_confusion"].sum() == len(emb.test.labels)
    acc = np.trace(result["raw_confusion"]) / result["raw_confusion"].sum()
    assert acc == pytest.approx(result["baseline"].query("split == 'test' and k == 7")["knn_acc"].iloc[0])


def test_hashing_beats_chance_and_cells_are_consistent(first_run):
    out, result, _ = first_run
    for (method, b, _), cell in result["cells"].items():
        assert cell.metrics["knn_acc"] > 0.4, (method, b)  # 10 classes: chance is 0.1
        cm = np.asarray(cell.confusion)
        assert np.trace(cm) / cm.sum() == pytest.approx(cell.metrics["knn_acc"])
        rec = json.loads((out / "cells" / f"{method}_{b}_seed0.json").read_text())
        assert rec["settings"]["epochs"] == 2 and rec["settings"]["bits"] == b
        assert rec["metrics"]["knn_acc"] == pytest.approx(cell.metrics["knn_acc"])
    assumptions = json.loads((out / "assumptions.json").read_text())
    for key in ("encoder", "head", "optimiser", "epochs", "seed", "hardware", "versions", "thesis_gaps"):
        assert key in assumptions
    assert assumptions["epochs"] == 2


def test_second_run_recomputes_nothing(first_run, monkeypatch):
    out, result, _ = first_run
    counter = CountingRun()
    monkeypatch.setattr(experiment, "run", counter)
    again = reproduce.reproduce("digits", "pixels", out, figures=False, **TINY)
    assert counter.calls == 0 and again["reused"] == 4
    for key, cell in again["cells"].items():
        assert cell.metrics == result["cells"][key].metrics
        assert np.array_equal(cell.codes, result["cells"][key].codes)  # codes file read back


def test_cli_resumes_through_run_reproduce(first_run, monkeypatch, capsys):
    out, _, _ = first_run
    counter = CountingRun()
    monkeypatch.setattr(experiment, "run", counter)
    parser = reproduce.add_reproduce_arguments(argparse.ArgumentParser())
    argv = [
        "--fast",
        "--out",
        str(out),
        "--methods",
        *METHODS,
        "--bits",
        "12",
        "24",
        "--epochs",
        "2",
        "--no-figures",
    ]
    assert reproduce.run_reproduce(parser.parse_args(argv)) == 0
    assert counter.calls == 0
    captured = capsys.readouterr()
    assert "4 reused" in captured.out
    assert "4/4" in captured.err and "cell" in captured.err  # one progress bar over the grid, on by default


def test_interrupted_run_leaves_no_partial_files_and_resumes(tmp_path, monkeypatch):
    counter = CountingRun(fail_on=2)
    monkeypatch.setattr(experiment, "run", counter)
    kwargs = dict(methods=["dpsh"], bits=[12, 24], fast=True, epochs=1, figures=False)
    with pytest.raises(KeyboardInterrupt):
        reproduce.reproduce("digits", "pixels", tmp_path, **kwargs)
    assert sorted(p.name for p in (tmp_path / "cells").iterdir()) == [
        "dpsh_12_seed0.codes.npz",
        "dpsh_12_seed0.json",
    ]
    assert not _temporaries(tmp_path)
    assert not (tmp_path / "table5.csv").exists()  # tables are only written once the grid is complete
    resumed = CountingRun()
    monkeypatch.setattr(experiment, "run", resumed)
    result = reproduce.reproduce("digits", "pixels", tmp_path, **kwargs)
    assert resumed.calls == 1 and result["reused"] == 1 and result["computed"] == 1
    assert (tmp_path / "table5.csv").is_file()
    # a resumed run is one run: Fig. 30 times both cells
    run_ids = {c.run_id for c in result["cells"].values()}
    assert run_ids == {json.loads((tmp_path / reproduce.RUN_RECORD).read_text())["run_id"]}


def test_failed_cell_write_leaves_nothing_behind(first_run, tmp_path, monkeypatch):
    _, result, _ = first_run
    cell = result["cells"][("dsh", 12, 0)]

    def broken_savez(path, **arrays):
        Path(path).write_bytes(b"partial")  # half a file, then the disk "fails"
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez_compressed", broken_savez)
    with pytest.raises(OSError, match="disk full"):
        reproduce._write_cell(tmp_path, cell)
    assert list(tmp_path.iterdir()) == []


def test_stored_cell_rejected_when_corrupt_or_settings_differ(first_run, tmp_path):
    out, result, _ = first_run
    cells = tmp_path / "cells"
    shutil.copytree(out / "cells", cells)
    settings = result["cells"][("dsh", 12, 0)].settings
    assert reproduce.load_cell(cells, "dsh", 12, settings) is not None
    with pytest.warns(UserWarning, match=r"other settings \(epochs 2 -> 3\); recomputing"):
        assert reproduce.load_cell(cells, "dsh", 12, dict(settings, epochs=3)) is None
    path = cells / "dsh_12_seed0.json"
    path.write_text(path.read_text()[:50])
    with pytest.warns(UserWarning, match="unreadable"):
        assert reproduce.load_cell(cells, "dsh", 12, settings) is None


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_stale_temporaries_are_removed_and_nothing_else(tmp_path):
    cells = tmp_path / "cells"
    cells.mkdir()
    stale = cells / f".hashlab-tmp-{_dead_pid()}-abc123.json"
    in_flight = cells / f".hashlab-tmp-{os.getpid()}-def456.json"  # a live run's file is not touched
    keep = [cells / "notes.txt", cells / ".notes.tmp.txt", cells / ".dsh_12.json.abc123.tmp.json"]
    for path in [stale, in_flight, *keep]:
        path.write_text("mine")
    reproduce._remove_stale_temporaries(cells)
    assert not stale.exists() and in_flight.exists() and all(p.exists() for p in keep)


@pytest.mark.parametrize(
    ("dataset", "backbone", "methods", "match"),
    [
        ("imagenet", "pixels", ["dsh"], r"unknown dataset 'imagenet'; choose one of \[.*digits"),
        ("digits", "resnet", ["dsh"], r"unknown backbone 'resnet'; choose one of \[.*vit_b_16"),
        ("digits", "pixels", ["nope"], r"unknown method\(s\) \['nope'\]; choose from \[.*dpsh"),
    ],
)
def test_unknown_choices_raise(tmp_path, dataset, backbone, methods, match):
    with pytest.raises(ValueError, match=match):
        reproduce.reproduce(dataset, backbone, tmp_path, methods=methods, bits=[12])
    assert not any(tmp_path.iterdir())  # nothing written before the check


def test_bad_bits_raise(tmp_path):
    with pytest.raises(ValueError, match="bits must be positive"):
        reproduce.reproduce("digits", "pixels", tmp_path, methods=["dsh"], bits=[0])


def test_ours_vs_thesis_side_by_side(first_run):
    _, result, _ = first_run
    side = reproduce.ours_vs_thesis(5, result["cells"], "digits")
    assert list(side.index) == ["DSH", "DPSH"]
    assert side.loc["DSH", (12, "thesis")] == thesis.thesis_value(5, "dsh", "pathmnist", 12)
    assert side.loc["DPSH", (24, "ours")] == pytest.approx(
        100 * result["cells"][("dpsh", 24, 0)].metrics["knn_acc"]
    )
    assert side.loc[:, (12, "delta")].isna().all()  # digits vs PathMNIST: no reproduction delta


def test_random_codes_are_near_chance_and_methods_beat_them(first_run):
    from hashlab.features import get_embeddings

    _, result, _ = first_run
    emb = get_embeddings("digits", "pixels")
    rand = reproduce.random_codes_baseline(emb, 24, seed=0)
    assert rand["knn_acc"] < 0.25 and rand["map"] < 0.2  # 10 balanced classes: chance 0.1
    assert all(c.metrics["knn_acc"] > rand["knn_acc"] + 0.3 for c in result["cells"].values())


def test_distance_counts_against_enumeration():
    import itertools

    labels = np.array([0, 0, 1, 2, 2, 2, 1])
    n = len(labels)
    triplets = sum(
        1
        for a, p, q in itertools.permutations(range(n), 3)
        if labels[a] == labels[p] and labels[a] != labels[q]
    )
    counts = reproduce.distance_counts(labels, n_classes=3)
    assert counts == {
        "batch": 7,
        "pairwise matrix": 21,
        "valid triplets": triplets,
        "tcl": 21,
        "dshgan": 14,
    }
    with pytest.raises(ValueError, match="single-label"):
        reproduce.distance_counts(np.zeros((3, 2), dtype=int), 2)


def test_choose_setting_fast_is_offline():
    dataset, backbone, reason = reproduce.choose_setting(fast=True)
    assert (dataset, backbone) == ("digits", "pixels") and "FAST" in reason


def test_thesis_dataset_gets_direct_deltas_and_thesis_lines(first_run):
    """With a thesis dataset name the tables fill 'ours - thesis' and the figure draws the thesis's lines."""
    _, result, _ = first_run
    cells, baseline = result["cells"], result["baseline"]
    raw = baseline.query("split == 'test' and k == 7")["knn_acc"].item()
    t5 = reproduce.method_table_frame(5, cells, "pathmnist", raw)
    row = t5[(t5["method"] == "DSH") & (t5["bits"] == 12)].iloc[0]
    assert row["delta vs thesis (pp)"] == pytest.approx(
        100 * cells[("dsh", 12, 0)].metrics["knn_acc"] - 51.54
    )
    t4 = reproduce.table4(baseline, "pathmnist", "vit_b_16").set_index("dataset")
    assert t4.loc["pathmnist", "delta (pp)"] == pytest.approx(100 * raw - 75.6)
    assert np.isnan(t4.loc["cifar10", "ours (%)"])
    t3 = reproduce.table3(baseline, "pathmnist")
    assert t3["delta val - thesis"].notna().all()
    side = reproduce.ours_vs_thesis(5, cells, "pathmnist")
    assert side.loc["DPSH", (24, "delta")] == pytest.approx(side.loc["DPSH", (24, "ours")] - 67.91)
    fig = reproduce.accuracy_vs_bits_figure(cells, 5, "pathmnist", "vit_b_16", raw)
    labels = [line.get_label() for line in fig.axes[0].get_lines()]
    assert {"DSH", "DPSH", "DSH (thesis)", "DPSH (thesis)"} <= set(labels)
    with pytest.raises(ValueError, match="no triplet method"):
        reproduce.accuracy_vs_bits_figure(cells, 6, "pathmnist", "vit_b_16", raw)


def test_second_concurrent_run_on_one_folder_is_refused(tmp_path, monkeypatch):
    """A second run on a folder in use is refused before it touches anything; the first finishes intact."""
    from hashlab.files import FolderLockedError

    kwargs = dict(methods=["dpsh"], bits=[12], fast=True, epochs=1, figures=False, bar=False)
    real, refusals = experiment.run, []

    def run_with_intruder(*args, **kw):
        in_flight = tmp_path / "cells" / f".hashlab-tmp-{os.getpid()}-inflight.json"
        in_flight.write_text("the first run's temporary file")
        with pytest.raises(
            FolderLockedError, match=r"in use by another hashlab reproduce run \(pid \d+\)"
        ) as err:
            reproduce.reproduce("digits", "pixels", tmp_path, **dict(kwargs, epochs=2))
        refusals.append(str(err.value))
        assert in_flight.exists()  # the second run deleted nothing
        in_flight.unlink()
        return real(*args, **kw)

    monkeypatch.setattr(experiment, "run", run_with_intruder)
    result = reproduce.reproduce("digits", "pixels", tmp_path, **kwargs)
    assert len(refusals) == 1 and result["computed"] == 1
    assert json.loads((tmp_path / reproduce.RUN_RECORD).read_text())["settings"]["epochs"] == 1
    assert json.loads((tmp_path / "cells" / "dpsh_12_seed0.json").read_text())["settings"]["epochs"] == 1


def test_rerun_with_other_settings_is_refused_naming_them(first_run, tmp_path):
    out, _, _ = first_run
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*")}
    with pytest.raises(
        reproduce.SettingsChangedError, match=r"epochs 2 -> 3; lr 0\.003 -> 0\.01\).*--force-restart"
    ):
        reproduce.reproduce("digits", "pixels", out, **dict(TINY, epochs=3, lr=0.01), figures=False)
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*")} == before  # refused before writing anything


def test_force_restart_recomputes_cells_and_prints_why(first_run, tmp_path, capsys):
    out, _, _ = first_run
    copy = tmp_path / "out"
    shutil.copytree(out, copy)
    messages: list[str] = []
    result = reproduce.reproduce(
        "digits",
        "pixels",
        copy,
        **dict(TINY, methods=["dsh"], bits=[12], epochs=1),
        figures=False,
        bar=False,
        force_restart=True,
        log=messages.append,
    )
    assert result["computed"] == 1 and result["reused"] == 0
    assert any("dsh_12_seed0.json was computed with other settings (epochs 2 -> 1)" in m for m in messages)
    assert json.loads((copy / reproduce.RUN_RECORD).read_text())["settings"]["epochs"] == 1


def test_interrupted_rerun_marks_the_folder_incomplete(first_run, tmp_path, monkeypatch):
    out, _, _ = first_run
    copy = tmp_path / "out"
    shutil.copytree(out, copy)
    monkeypatch.setattr(experiment, "run", CountingRun(fail_on=1))
    with pytest.raises(KeyboardInterrupt):  # dsh 12 is reused, dsh 48 is new and interrupted
        reproduce.reproduce("digits", "pixels", copy, **dict(TINY, methods=["dsh"], bits=[12, 48]), bar=False)
    assert (copy / reproduce.INCOMPLETE).is_file()
    assert (copy / "README.md").read_text().startswith("> **INCOMPLETE**")
    assert json.loads((copy / reproduce.RUN_RECORD).read_text())["state"] == "running"
    assert not (copy / ".hashlab.lock").exists()


def test_stored_cell_records_everything_that_made_it(first_run):
    out, result, _ = first_run
    settings = result["cells"][("dsh", 12, 0)].settings
    for key in (
        "weight_decay",
        "val_db_size",
        "loss_hparams",
        "code_version",
        "hardware",
        "selection_metric",
    ):
        assert key in settings, key
    assert settings["loss_hparams"]["margin"] is not None  # the loss's actual value, default filled in
    cells = out / "cells"
    for key, value in [("code_version", "0123456789ab"), ("weight_decay", 0.5), ("val_db_size", 7)]:
        with pytest.warns(UserWarning, match=rf"other settings \({key} .* -> .*\); recomputing"):
            assert reproduce.load_cell(cells, "dsh", 12, dict(settings, **{key: value})) is None
    with pytest.warns(UserWarning, match=r"other settings \(hardware changed\)"):
        assert reproduce.load_cell(cells, "dsh", 12, dict(settings, hardware="CPU: another one " * 4)) is None


def test_assumptions_record_the_actual_run(first_run):
    out, result, _ = first_run
    assume = json.loads((out / "assumptions.json").read_text())
    assert set(assume["chosen_epoch"]) == {"dsh_12_seed0", "dsh_24_seed0", "dpsh_12_seed0", "dpsh_24_seed0"}
    assert all(0 <= e < 2 for e in assume["chosen_epoch"].values())
    assert assume["chosen_epoch"]["dpsh_24_seed0"] == result["cells"][("dpsh", 24, 0)].best_epoch
    assert assume["loss_hparams"]["dsh_12_seed0"] == result["cells"][("dsh", 12, 0)].settings["loss_hparams"]
    assert assume["selection"]["metric"] == "val_map" and assume["selection"]["val_db_size"] == 5000
    assert "torchvision" in assume["versions"] and assume["code"]["version"] == reproduce.code_version()
    assert assume["optimiser"]["weight_decay"] == pytest.approx(1e-5)


def test_timing_is_training_alone(first_run):
    _, result, _ = first_run
    for cell in result["cells"].values():
        assert 0 < cell.train_seconds < cell.fit_seconds  # validation passes are excluded from train_seconds


def test_files_get_the_umask_mode(first_run):
    out, _, _ = first_run
    mask = os.umask(0)
    os.umask(mask)
    for name in (
        "table5.csv",
        "assumptions.json",
        "README.md",
        "cells/dsh_12_seed0.json",
        "cells/dsh_12_seed0.codes.npz",
    ):
        assert (out / name).stat().st_mode & 0o777 == 0o666 & ~mask, name


def test_degenerate_cells_are_flagged_in_the_log_and_readme(tmp_path, monkeypatch):
    """A cell whose codes say nothing is printed as a WARNING and listed in README's Warnings section."""
    real = experiment.run

    def collapsed(*args, **kwargs):
        result = real(*args, **kwargs)
        result.warnings = ["all 1079 database items share one code: the model learned nothing to rank by"]
        return result

    monkeypatch.setattr(experiment, "run", collapsed)
    messages: list[str] = []
    kwargs = dict(methods=["dpsh"], bits=[12], fast=True, epochs=1, figures=False, bar=False)
    reproduce.reproduce("digits", "pixels", tmp_path, log=messages.append, **kwargs)
    assert "WARNING: dpsh 12 bits seed 0: all 1079 database items share one code" in "\n".join(messages)
    readme = (tmp_path / "README.md").read_text()
    assert (
        "## Warnings" in readme and "- dpsh 12 bits seed 0: all 1079 database items share one code" in readme
    )
    assert json.loads((tmp_path / "cells" / "dpsh_12_seed0.json").read_text())["warnings"]


def test_protocol_differences_are_flagged(first_run):
    out, _, _ = first_run
    diffs = reproduce.protocol_differences("cifar10", 45_000, {"subsample": None}, fast=False)
    assert diffs == [
        "database = 45,000 training items here (5,000 training images are held out as the validation split); "
        "the thesis's database has 50,000"
    ]
    assert reproduce.protocol_differences("pathmnist", 89_996, {"subsample": None}, fast=False) == []
    assert "not a thesis dataset" in " ".join(
        json.loads((out / "assumptions.json").read_text())["protocol_differences"]
    )
    assert "Protocol difference: --fast" in (out / "table5.md").read_text()


def test_cli_knn_k_reaches_the_cells(tmp_path):
    parser = reproduce.add_reproduce_arguments(argparse.ArgumentParser())
    argv = [
        "--fast",
        "--out",
        str(tmp_path),
        "--methods",
        "dpsh",
        "--bits",
        "12",
        "--epochs",
        "1",
        "--knn-k",
        "3",
    ]
    assert reproduce.run_reproduce(parser.parse_args([*argv, "--no-figures", "--no-progress"])) == 0
    assert json.loads((tmp_path / "cells" / "dpsh_12_seed0.json").read_text())["settings"]["knn_k"] == 3


# ------------------------------------------------------------------ seeds: mean ± sd over seeds, timing of one run
SEEDED_ARGV = ["--fast", "--dataset", "DIGITS", "--methods", "dpsh", "tcl", "--bits", "12", "24"]
SEEDED_ARGV += ["--seeds", "0", "1", "--seed-bits", "24", "--epochs", "1", "--subsample", "300", "100", "100"]


@pytest.fixture(scope="module")
def seeded_run(tmp_path_factory):
    """Two seeds at 24 bits, one at 12, on a 300/100/100 digits subsample, through the CLI (``--dataset DIGITS``);
    then the same call again through the API, which reuses every cell and returns them."""
    import contextlib
    import io

    out = tmp_path_factory.mktemp("seeded")
    parser = reproduce.add_reproduce_arguments(argparse.ArgumentParser())
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert (
            reproduce.run_reproduce(parser.parse_args([*SEEDED_ARGV, "--out", str(out), "--no-progress"]))
            == 0
        )
    again = reproduce.reproduce(
        "digits",
        "pixels",
        out,
        methods=["dpsh", "tcl"],
        bits=[12, 24],
        seeds=[0, 1],
        seed_bits=[24],
        fast=True,
        epochs=1,
        subsample=(300, 100, 100),
        figures=False,
        bar=False,
    )
    return out, printed.getvalue(), again


def _stored_cells(out: Path) -> pd.DataFrame:
    rows = []
    for path in sorted((out / "cells").glob("*.json")):
        rec = json.loads(path.read_text())
        rows.append(
            {
                "file": path.name,
                "method": rec["method"],
                "bits": rec["bits"],
                "seed": rec["settings"]["seed"],
                "knn_acc": rec["metrics"]["knn_acc"],
                "map": rec["metrics"]["map"],
                "run_id": rec["run_id"],
            }
        )
    return pd.DataFrame(rows)


def test_grid_plan_runs_extra_seeds_only_at_seed_bits():
    plan = reproduce.grid_plan(["a", "b"], [12, 24, 48], seeds=[0, 1, 2], seed_bits=[24, 48])
    assert plan[:6] == [("a", 12, 0), ("a", 24, 0), ("a", 48, 0), ("b", 12, 0), ("b", 24, 0), ("b", 48, 0)]
    assert plan[6:] == [(m, b, s) for s in (1, 2) for m in ("a", "b") for b in (24, 48)]
    assert reproduce.grid_plan(["a"], [12, 24], seeds=[5, 6]) == [
        ("a", 12, 5),
        ("a", 24, 5),
        ("a", 12, 6),
        ("a", 24, 6),
    ]


def test_seeded_cells_are_keyed_by_method_bits_seed_and_reused(seeded_run):
    out, _, again = seeded_run
    stored = _stored_cells(out)
    assert sorted(stored["file"]) == sorted(
        ["dpsh_12_seed0.json", "dpsh_24_seed0.json", "dpsh_24_seed1.json"]
        + ["tcl_12_seed0.json", "tcl_24_seed0.json", "tcl_24_seed1.json"]
    )
    assert set(again["cells"]) == {(m, b, s) for m in ("dpsh", "tcl") for b, s in ((12, 0), (24, 0), (24, 1))}
    assert again["computed"] == 0 and again["reused"] == 6
    assert again["cells"][("dpsh", 24, 1)].settings["seed"] == 1


def test_seed_spread_matches_numpy_on_the_stored_cells(seeded_run):
    out, _, _ = seeded_run
    stored = _stored_cells(out)
    t5, t6 = pd.read_csv(out / "table5.csv"), pd.read_csv(out / "table6.csv")
    table = pd.concat([t5, t6]).assign(method=lambda t: t["method"].map({"DPSH": "dpsh"}).fillna("tcl"))
    for (method, b), group in stored.groupby(["method", "bits"]):
        row = table[(table["method"] == method) & (table["bits"] == b)].iloc[0]
        acc = group["knn_acc"].to_numpy()
        assert row["n"] == len(acc) == (2 if b == 24 else 1)
        assert row["ours (%)"] == pytest.approx(100 * np.mean(acc))
        assert row["ours mAP"] == pytest.approx(np.mean(group["map"]))
        if b == 24:
            assert row["ours sd (pp)"] == pytest.approx(100 * np.std(acc, ddof=1))
            assert row["ours mAP sd"] == pytest.approx(np.std(group["map"], ddof=1))
        else:
            assert np.isnan(row["ours sd (pp)"]) and row["thesis within 2 sd"] == "n/a — different dataset"
        assert row["delta vs thesis (pp)"] == "n/a — different dataset"  # digits: never NaN
    spread = pd.read_csv(out / "seed_spread.csv")
    dpsh24 = spread[(spread["method"] == "dpsh") & (spread["bits"] == 24)].iloc[0]
    acc = stored.query("method == 'dpsh' and bits == 24")["knn_acc"].to_numpy()
    assert dpsh24["knn_acc_sd"] == pytest.approx(np.std(acc, ddof=1))


def test_thesis_value_beside_the_mean_within_two_sd(seeded_run):
    _, _, again = seeded_run
    cells = again["cells"]
    t5 = reproduce.method_table_frame(5, cells, "pathmnist", 0.9).set_index("bits")
    accs = 100 * np.array([cells[("dpsh", 24, s)].metrics["knn_acc"] for s in (0, 1)])
    mean, sd, t = accs.mean(), accs.std(ddof=1), thesis.thesis_value(5, "dpsh", "pathmnist", 24)
    assert t5.loc[24, "delta vs thesis (pp)"] == pytest.approx(mean - t)
    assert t5.loc[24, "thesis within 2 sd"] == ("yes" if abs(mean - t) <= 2 * sd else "no")
    assert t5.loc[12, "thesis within 2 sd"] == reproduce.ONE_SEED  # n = 1: no sd
    assert t5.loc[12, "n"] == 1 and np.isnan(t5.loc[12, "ours sd (pp)"])


def test_seeded_figure_draws_sd_error_bars(seeded_run):
    from matplotlib.container import ErrorbarContainer

    _, _, again = seeded_run
    cells = again["cells"]
    fig = reproduce.accuracy_vs_bits_figure(cells, 5, "digits", "pixels", 0.9)
    (bars,) = [c for c in fig.axes[0].containers if isinstance(c, ErrorbarContainer)]
    accs = 100 * np.array([cells[("dpsh", 24, s)].metrics["knn_acc"] for s in (0, 1)])
    segments = {round(float(seg[0][0])): seg for seg in bars.lines[2][0].get_segments()}
    low, high = segments[24][0][1], segments[24][1][1]
    assert (high - low) / 2 == pytest.approx(accs.std(ddof=1))
    assert (high + low) / 2 == pytest.approx(accs.mean())
    assert segments[12][0][1] == segments[12][1][1]  # one seed at 12 bits: no bar


def test_run_prints_settings_timing_table_and_wall_time(seeded_run):
    out, printed, _ = seeded_run
    first = printed.splitlines()[0]
    assert first.startswith("settings: dataset=digits; backbone=pixels") and "seeds=[0, 1]" in first
    assert "results (mean ± sd over seeds, ddof = 1)" in printed
    assert "training seconds per cell" in printed and "TCL" in printed
    assert "total wall time" in printed.splitlines()[-1]
    record = json.loads((out / reproduce.RUN_RECORD).read_text())
    assert record["wall_seconds"] > 0
    timing = pd.read_csv(out / "training_time.csv").set_index("method")
    stored = _stored_cells(out)
    # every cell was trained by the CLI run; the API rerun (the record's run) reused them and still times them
    assert stored["run_id"].nunique() == 1 and stored["run_id"].iloc[0] < record["run_id"]
    tcl = [
        json.loads((out / "cells" / f"tcl_{b}_seed{s}.json").read_text())["train_seconds"]
        for b, s in ((12, 0), (24, 0), (24, 1))
    ]
    assert timing.loc["TCL+softmax loss", "24 bits (s)"] == pytest.approx(np.mean(tcl[1:]))
    assert timing.loc["TCL+softmax loss", "mean per cell (s)"] == pytest.approx(np.mean(tcl))
    assumptions = json.loads((out / "assumptions.json").read_text())
    assert assumptions["seeds"]["seeds"] == [0, 1] and assumptions["seeds"]["seed_bits"] == [24]
    assert assumptions["data"]["split_duplicates"]["counts"] == {
        "train-val": 0,
        "train-test": 0,
        "val-test": 0,
    }
    assert "split duplicates" in printed and "train-test 0/359" in (out / "README.md").read_text()


def test_timing_uses_cells_trained_in_one_run_only(seeded_run):
    import dataclasses

    _, _, again = seeded_run
    cells = dict(again["cells"])
    old = cells[("tcl", 12, 0)]
    cells[("tcl", 12, 0)] = dataclasses.replace(old, run_id="2000-01-01T00:00:00+00:00", train_seconds=1e6)
    timing = reproduce.training_time_table(cells).set_index("method")
    assert "12 bits (s)" not in timing.columns or np.isnan(timing.loc["TCL+softmax loss", "12 bits (s)"])
    assert timing["mean per cell (s)"].max() < 1e5
    fig = reproduce.training_cost_figure(cells, "digits", "pixels", "CPU")
    drawn = np.concatenate([np.asarray(line.get_ydata(), float) for line in fig.axes[0].get_lines()])
    assert drawn.size and drawn.max() < 1e5  # the reused cell of another run is not drawn


def test_seed_options_are_checked_before_any_work(tmp_path):
    with pytest.raises(
        ValueError, match=r"--seed-bits \[36\]: each must be one of the grid's --bits \[12, 24\]"
    ):
        reproduce.reproduce(
            "digits", "pixels", tmp_path, methods=["dpsh"], bits=[12, 24], seeds=[0, 1], seed_bits=[36]
        )
    with pytest.raises(ValueError, match=r"--seeds has repeated seeds"):
        reproduce.reproduce("digits", "pixels", tmp_path, methods=["dpsh"], bits=[12], seeds=[1, 1])
    parser = reproduce.add_reproduce_arguments(argparse.ArgumentParser())
    with pytest.raises(ValueError, match="--seed and --seeds"):
        reproduce.run_reproduce(
            parser.parse_args(["--seed", "3", "--seeds", "0", "1", "--out", str(tmp_path)])
        )
    assert not any(tmp_path.iterdir())
    assert reproduce.check_choices(" DIGITS ", "pixels", ["dpsh"], [12]) == "digits"
    assert reproduce.embeddings_available("DIGITS", "pixels")


@pytest.mark.parametrize("dataset", ["breastmnist", "fashion_mnist"])
def test_provenance_records_checksums_and_split_duplicates(dataset):
    from hashlab.data import available_offline, split_duplicates
    from hashlab.reproduce.protocol import _dataset_provenance

    if not available_offline(dataset):
        pytest.skip(f"{dataset} files are not on this machine")
    bundle, record, line = _dataset_provenance(dataset, 28)
    assert record["split_duplicates"] == split_duplicates(bundle).as_dict() and dataset in line
    if dataset == "fashion_mnist":
        sha = record["checksums"]["sha256 (decompressed IDX)"]
        assert sha["train-images-idx3-ubyte"].startswith("c59f468a")  # the published Fashion-MNIST SHA-256
    else:
        from hashlab.data import medmnist_md5

        assert record["checksums"]["md5 (published MedMNIST file)"] == medmnist_md5(dataset, 28)


@pytest.mark.parametrize(
    ("placement", "message"),
    [
        ({"devices": 2}, "reproduce trains its cells in one process"),
        ({"num_nodes": 2}, "reproduce trains its cells in one process"),
        ({"strategy": "warp"}, "unknown strategy"),
        ({"precision": "8bit"}, "unknown precision"),
        ({"accelerator": "cpu", "precision": "16-mixed"}, "needs a GPU"),
    ],
)
def test_placement_that_cannot_run_is_refused_before_any_work(tmp_path, placement, message):
    from hashlab.reproduce import reproduce

    with pytest.raises(ValueError, match=message):
        reproduce("digits", "pixels", tmp_path / "out", fast=True, placement=placement)
    assert not (tmp_path / "out").exists()


def test_cells_train_where_the_placement_says(tmp_path):
    from hashlab.reproduce import reproduce

    result = reproduce(
        "digits",
        "pixels",
        tmp_path / "out",
        methods=["dpsh"],
        bits=[12],
        fast=True,
        subsample=(200, 60, 60),
        figures=False,
        bar=False,
        placement={"accelerator": "cpu", "precision": "32-true"},
    )
    assert result["computed"] == 1
