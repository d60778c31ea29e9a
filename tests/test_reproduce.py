"""``hashlab reproduce``: files written, thesis values beside ours, resumability, interruption, bad input."""

from __future__ import annotations

import argparse
import json
import shutil
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
        result = reproduce.reproduce("digits", "pixels", out, **TINY)
    return out, result, counter


def _temporaries(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if ".tmp" in p.name]


def test_fast_run_writes_every_file(first_run):
    out, result, counter = first_run
    assert counter.calls == len(METHODS) * len(BITS)
    assert result["computed"] == 4 and result["reused"] == 0
    for n in (3, 4, 5, 6):
        assert (out / f"table{n}.csv").is_file() and (out / f"table{n}.md").is_file()
    for name in ("assumptions.json", "README.md", "baseline_knn.csv", "grid.csv"):
        assert (out / name).is_file(), name
    cells = sorted(p.name for p in (out / "cells").glob("*.json"))
    assert cells == ["dpsh_12.json", "dpsh_24.json", "dsh_12.json", "dsh_24.json"]
    pngs = {p.name for p in out.glob("*.png")}
    assert "fig17_class_samples_digits.png" in pngs
    assert "fig18_19_confusion_raw_knn_digits.png" in pngs
    assert "fig20_21_accuracy_vs_bits_pairwise_digits.png" in pngs
    assert all((out / p).stat().st_size > 1000 for p in pngs)
    assert not _temporaries(out)


def test_tables_hold_thesis_values_and_ours(first_run):
    out, result, _ = first_run
    t5 = pd.read_csv(out / "table5.csv")
    assert len(t5) == 4 and set(t5["method"]) == {"DSH", "DPSH"}
    row = t5[(t5["method"] == "DPSH") & (t5["bits"] == 24)].iloc[0]
    assert row["thesis pathmnist (%)"] == thesis.thesis_value(5, "dpsh", "pathmnist", 24)
    cell = result["cells"][("dpsh", 24)]
    assert row["ours (%)"] == pytest.approx(100 * cell.metrics["knn_acc"])
    raw = result["baseline"].query("split == 'test' and k == 7")["knn_acc"].iloc[0]
    assert row["ours - ours raw (pp)"] == pytest.approx(100 * (cell.metrics["knn_acc"] - raw))
    assert np.isnan(row["delta vs thesis (pp)"])  # digits is not a thesis dataset: no direct delta
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
    for (method, b), cell in result["cells"].items():
        assert cell.metrics["knn_acc"] > 0.4, (method, b)  # 10 classes: chance is 0.1
        cm = np.asarray(cell.confusion)
        assert np.trace(cm) / cm.sum() == pytest.approx(cell.metrics["knn_acc"])
        rec = json.loads((out / "cells" / f"{method}_{b}.json").read_text())
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
    assert "4 reused" in capsys.readouterr().out


def test_interrupted_run_leaves_no_partial_files_and_resumes(tmp_path, monkeypatch):
    counter = CountingRun(fail_on=2)
    monkeypatch.setattr(experiment, "run", counter)
    kwargs = dict(methods=["dpsh"], bits=[12, 24], fast=True, epochs=1, figures=False)
    with pytest.raises(KeyboardInterrupt):
        reproduce.reproduce("digits", "pixels", tmp_path, **kwargs)
    assert sorted(p.name for p in (tmp_path / "cells").iterdir()) == ["dpsh_12.codes.npz", "dpsh_12.json"]
    assert not _temporaries(tmp_path)
    assert not (tmp_path / "table5.csv").exists()  # tables are only written once the grid is complete
    resumed = CountingRun()
    monkeypatch.setattr(experiment, "run", resumed)
    result = reproduce.reproduce("digits", "pixels", tmp_path, **kwargs)
    assert resumed.calls == 1 and result["reused"] == 1 and result["computed"] == 1
    assert (tmp_path / "table5.csv").is_file()


def test_failed_cell_write_leaves_nothing_behind(first_run, tmp_path, monkeypatch):
    _, result, _ = first_run
    cell = result["cells"][("dsh", 12)]

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
    settings = result["cells"][("dsh", 12)].settings
    assert reproduce.load_cell(cells, "dsh", 12, settings) is not None
    with pytest.warns(UserWarning, match="other settings"):
        assert reproduce.load_cell(cells, "dsh", 12, dict(settings, epochs=3)) is None
    path = cells / "dsh_12.json"
    path.write_text(path.read_text()[:50])
    with pytest.warns(UserWarning, match="unreadable"):
        assert reproduce.load_cell(cells, "dsh", 12, settings) is None


def test_stale_temporaries_are_removed(tmp_path):
    cells = tmp_path / "cells"
    cells.mkdir()
    stale = cells / ".dsh_12.json.abc123.tmp.json"
    stale.write_text("{")
    keep = cells / "notes.txt"
    keep.write_text("mine")
    reproduce._remove_stale_temporaries(cells)
    assert not stale.exists() and keep.exists()


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
        100 * result["cells"][("dpsh", 24)].metrics["knn_acc"]
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
    assert row["delta vs thesis (pp)"] == pytest.approx(100 * cells[("dsh", 12)].metrics["knn_acc"] - 51.54)
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
