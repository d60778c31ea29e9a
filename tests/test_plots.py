"""Tests for hashlab.plots: the figures show the numbers they are given, saving is atomic, bad input raises."""

from __future__ import annotations

import itertools
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from hashlab import plots

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _codes(n: int, bits: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.where(rng.random((n, bits)) < 0.5, -1, 1).astype(np.int8)


def _bundle(channels: int, n: int = 12, n_classes: int = 3) -> SimpleNamespace:
    rng = np.random.default_rng(1)

    def split(m: int) -> SimpleNamespace:
        return SimpleNamespace(
            images=rng.integers(0, 256, size=(m, 8, 8, channels), dtype=np.uint8),
            labels=np.arange(m, dtype=np.int64) % n_classes,
        )

    return SimpleNamespace(
        name="toy",
        train=split(n),
        val=split(n),
        test=split(n),
        class_names=[f"c{i}" for i in range(n_classes)],
    )


# ------------------------------------------------------------------------------------------------ saving
def test_save_writes_png_atomically(tmp_path):
    cm = np.array([[5, 1], [2, 7]])
    target = tmp_path / "sub" / "cm.png"
    fig = plots.confusion_matrix_plot(cm, ["a", "b"], save=target)
    assert isinstance(fig, Figure)
    assert target.read_bytes()[:8] == PNG_MAGIC
    assert [p.name for p in target.parent.iterdir()] == ["cm.png"]  # no temp file left behind


def test_save_rejects_unknown_extension_and_leaves_nothing(tmp_path):
    fig = plots.confusion_matrix_plot(np.eye(2, dtype=int))
    with pytest.raises(ValueError, match="unsupported figure format"):
        plots.save_figure(fig, tmp_path / "cm.xyz")
    with pytest.raises(ValueError, match="extension"):
        plots.save_figure(fig, tmp_path / "cm")
    assert list(tmp_path.iterdir()) == []


# -------------------------------------------------------------------------------------- confusion matrix
def test_confusion_matrix_annotates_counts_and_labels():
    cm = np.array([[12, 0, 3], [1, 9, 0], [4, 2, 30]])
    fig = plots.confusion_matrix_plot(cm, ["cat", "dog", "fox"])
    ax = fig.axes[0]
    texts = [t.get_text() for t in ax.texts]
    assert texts == [str(v) for v in cm.ravel()]  # seaborn annotates row by row
    assert ax.get_title() == "Confusion Matrix"
    assert ax.get_xlabel() == "Predicted Label" and ax.get_ylabel() == "True Label"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["cat", "dog", "fox"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["cat", "dog", "fox"]


@pytest.mark.parametrize(
    ("cm", "names", "match"),
    [
        (np.zeros((2, 3)), None, "square"),
        (np.eye(3), ["a", "b"], "class names"),
        (np.zeros((0, 0)), None, "empty"),
    ],
)
def test_confusion_matrix_bad_input(cm, names, match):
    with pytest.raises(ValueError, match=match):
        plots.confusion_matrix_plot(cm, names)


# ------------------------------------------------------------------------------------- Hamming distances
def test_pair_distances_match_brute_force_on_all_pairs():
    codes = _codes(9, 16)
    labels = np.array([0, 1, 2, 0, 1, 2, 0, 1, 2])
    dist, same = plots.hamming_pair_distances(codes, labels, max_pairs=10_000)
    expected = []
    for i, j in itertools.combinations(range(9), 2):
        d = sum(1 for b in range(16) if codes[i, b] != codes[j, b])
        expected.append((d, labels[i] == labels[j]))
    assert dist.tolist() == [d for d, _ in expected]
    assert same.tolist() == [s for _, s in expected]


def test_pair_distances_multihot_relevance_is_shared_label():
    codes = _codes(3, 8)
    labels = np.array([[1, 0, 1], [0, 0, 1], [0, 1, 0]])
    _, same = plots.hamming_pair_distances(codes, labels)
    assert same.tolist() == [True, False, False]  # pairs (0,1), (0,2), (1,2)


def test_pair_sampling_is_seeded_and_never_pairs_an_item_with_itself():
    codes = _codes(300, 12)
    labels = np.arange(300) % 5
    d1, s1 = plots.hamming_pair_distances(codes, labels, max_pairs=500, seed=3)
    d2, s2 = plots.hamming_pair_distances(codes, labels, max_pairs=500, seed=3)
    d3, _ = plots.hamming_pair_distances(codes, labels, max_pairs=500, seed=4)
    assert len(d1) == 500 and np.array_equal(d1, d2) and np.array_equal(s1, s2)
    assert not np.array_equal(d1, d3)
    # self-pairs: with all labels distinct, any "same" pair would be an item paired with itself
    identical = np.ones((50, 4), dtype=np.int8)
    _, same = plots.hamming_pair_distances(identical, np.arange(50), max_pairs=100, seed=0)
    assert not same.any()


def test_pair_distances_reject_non_pm1_codes():
    with pytest.raises(ValueError, match="-1 and \\+1"):
        plots.hamming_pair_distances(np.array([[0, 1], [1, 1]]), np.array([0, 1]))
    with pytest.raises(ValueError, match="labels"):
        plots.hamming_pair_distances(_codes(4, 8), np.array([0, 1]))


def test_histogram_facets_and_density():
    labels = np.arange(60) % 3
    fig = plots.hamming_distance_histogram({8: _codes(60, 8), 16: _codes(60, 16, seed=1)}, labels)
    axes = [ax for ax in fig.axes if ax.get_title()]
    assert [ax.get_title() for ax in axes] == ["8 bits", "16 bits"]
    # density per pair type: each hue's bars (one per distance, bin width 1) sum to 1
    for ax in axes:
        assert len(ax.containers) == 2
        for bars in ax.containers:
            heights = np.array([b.get_height() for b in bars])
            assert heights.sum() == pytest.approx(1.0)
    # and the bar heights are the empirical frequencies of the sampled pair distances
    dist, same = plots.hamming_pair_distances(_codes(60, 8), labels)
    same_heights = {round(b.get_x() + b.get_width() / 2): b.get_height() for b in axes[0].containers[1]}
    for d, h in same_heights.items():
        assert h == pytest.approx(np.mean(dist[same] == d))


# ------------------------------------------------------------------------------------------ metric vs bits
def test_metric_vs_bits_lines_baseline_and_thesis():
    results = [
        {"method": "dsh", "bits": 24, "knn_acc": 0.8},
        {"method": "dsh", "bits": 12, "knn_acc": 0.7},
        {"method": "dpsh", "bits": 12, "knn_acc": 0.75},
        {"method": "dpsh", "bits": 24, "knn_acc": 0.9},
    ]
    fig = plots.metric_vs_bits(results, baseline=0.95, thesis={"dsh": {12: 60.0, 24: 65.0}}, percent=True)
    lines = {ln.get_label(): ln for ln in fig.axes[0].get_lines()}
    assert list(lines["dsh"].get_xdata()) == [12, 24]
    assert np.allclose(lines["dsh"].get_ydata(), [70.0, 80.0])
    assert np.allclose(lines["dpsh"].get_ydata(), [75.0, 90.0])
    assert lines["dsh (thesis)"].get_linestyle() == "--"
    assert np.allclose(lines["dsh (thesis)"].get_ydata(), [60.0, 65.0])
    baseline = [ln for ln in lines.values() if ln.get_linestyle() == ":"]
    assert len(baseline) == 1 and np.allclose(baseline[0].get_ydata(), 95.0)


def test_metric_vs_bits_missing_column():
    with pytest.raises(KeyError, match="map"):
        plots.metric_vs_bits([{"method": "dsh", "bits": 12, "knn_acc": 0.5}], metric="map")


def test_precision_recall_plot_draws_given_points():
    fig = plots.precision_recall_plot({"dsh": ([1.0, 0.8, 0.5], [0.1, 0.5, 1.0])})
    (line,) = fig.axes[0].get_lines()
    assert list(line.get_xdata()) == [0.1, 0.5, 1.0] and list(line.get_ydata()) == [1.0, 0.8, 0.5]
    with pytest.raises(ValueError, match="shape"):
        plots.precision_recall_plot({"x": ([1.0, 0.5], [0.1])})


# ----------------------------------------------------------------------------------------------- images
@pytest.mark.parametrize("channels", [1, 3])
def test_retrieval_gallery_marks_hits_and_misses(channels):
    bundle = _bundle(channels)
    query_ids = np.array([0, 4])  # labels 0 and 1
    nbrs = np.array([[3, 1, 6], [7, 2, 10]])  # train labels: 0,1,0 / 1,2,1
    fig = plots.retrieval_gallery(bundle, query_ids, nbrs, distances=np.array([[0, 2, 3], [1, 1, 4]]))
    axes = np.array(fig.axes).reshape(2, 4)
    expected = [[True, False, True], [True, False, True]]
    for r in range(2):
        assert axes[r, 0].get_title().startswith("query")
        for c in range(3):
            border = axes[r, c + 1].patches[-1].get_edgecolor()
            want = plots.HIT_COLOR if expected[r][c] else plots.MISS_COLOR
            assert np.allclose(border[:3], tuple(int(want[i : i + 2], 16) / 255 for i in (1, 3, 5)))
        img = axes[r, 1].get_images()[0].get_array()
        assert img.shape == ((8, 8) if channels == 1 else (8, 8, 3))
    assert "d=2" in axes[0, 2].get_title()


def test_retrieval_gallery_bad_ids():
    bundle = _bundle(1)
    with pytest.raises(ValueError, match="neighbor_ids"):
        plots.retrieval_gallery(bundle, [0, 1], np.array([[1, 2]]))
    with pytest.raises(IndexError, match="out of range"):
        plots.retrieval_gallery(bundle, [0], np.array([[1, 99]]))


def test_class_sample_grid_one_row_per_class_of_that_class():
    bundle = _bundle(3, n=30, n_classes=3)
    fig = plots.class_sample_grid(bundle, per_class=4, seed=0)
    axes = np.array(fig.axes).reshape(3, 4)
    assert [axes[r, 0].get_ylabel() for r in range(3)] == ["c0", "c1", "c2"]
    for r in range(3):
        for c in range(4):
            shown = axes[r, c].get_images()[0].get_array()
            matches = [i for i in range(30) if np.array_equal(bundle.train.images[i], shown)]
            assert matches and all(bundle.train.labels[i] == r for i in matches)


def test_training_curves_plot_history_values():
    history = [{"epoch": e, "train_loss": 1.0 / (e + 1), "val_map": 0.1 * e} for e in range(4)]
    fig = plots.training_curves(history)
    loss_ax, metric_ax = fig.axes[:2]
    (loss_line,) = loss_ax.get_lines()
    assert np.allclose(loss_line.get_ydata(), [1.0, 0.5, 1 / 3, 0.25])
    assert np.allclose(metric_ax.get_lines()[0].get_ydata(), [0.0, 0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="empty"):
        plots.training_curves([])
    with pytest.raises(KeyError, match="nope"):
        plots.training_curves(history, keys=["nope"])


def test_thesis_vs_ours_deltas():
    thesis = pd.DataFrame({12: [51.54, 66.74], 24: [52.89, 67.91]}, index=["dsh", "dpsh"])
    ours = pd.DataFrame({12: [55.0, 60.0]}, index=["dsh", "dpsh"])
    table = plots.thesis_vs_ours_table(ours, thesis, styled=False)
    assert table.loc["dsh", (12, "delta")] == pytest.approx(55.0 - 51.54)
    assert table.loc["dpsh", (12, "delta")] == pytest.approx(60.0 - 66.74)
    assert np.isnan(table.loc["dsh", (24, "ours")]) and table.loc["dsh", (24, "thesis")] == 52.89
    html = plots.thesis_vs_ours_table(ours, thesis).to_html()
    assert "3.46" in html and "-6.74" in html
    with pytest.raises(KeyError, match="hashnet"):
        plots.thesis_vs_ours_table(pd.DataFrame({12: [1.0]}, index=["hashnet"]), thesis)


def test_hardware_info_names_torch_and_cores():
    import os

    import torch

    info = plots.hardware_info()
    assert f"torch {torch.__version__}" in info
    assert f"{os.cpu_count()} logical cores" in info
    assert "CUDA" in info
