"""Tests for hashlab.viz: the figures show the numbers they are given, in one style; saving is atomic; bad input
raises."""

from __future__ import annotations

import itertools
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from hashlab import viz
from hashlab.hardware import hardware_info
from hashlab.separation import hamming_pair_distances

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
    fig = viz.plot_confusion_matrix(cm, ["a", "b"], save=target)
    assert isinstance(fig, Figure)
    assert target.read_bytes()[:8] == PNG_MAGIC
    assert [p.name for p in target.parent.iterdir()] == ["cm.png"]  # no temp file left behind


def test_save_rejects_unknown_extension_and_leaves_nothing(tmp_path):
    fig = viz.plot_confusion_matrix(np.eye(2, dtype=int))
    with pytest.raises(ValueError, match="unsupported figure format"):
        viz.save_figure(fig, tmp_path / "cm.xyz")
    with pytest.raises(ValueError, match="extension"):
        viz.save_figure(fig, tmp_path / "cm")
    assert list(tmp_path.iterdir()) == []


# -------------------------------------------------------------------------------------- confusion matrix
def test_confusion_matrix_annotates_counts_and_labels():
    cm = np.array([[12, 0, 3], [1, 9, 0], [4, 2, 30]])
    fig = viz.plot_confusion_matrix(cm, ["cat", "dog", "fox"])
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
        viz.plot_confusion_matrix(cm, names)


# ------------------------------------------------------------------------------------- Hamming distances
def test_pair_distances_match_brute_force_on_all_pairs():
    codes = _codes(9, 16)
    labels = np.array([0, 1, 2, 0, 1, 2, 0, 1, 2])
    dist, same = hamming_pair_distances(codes, labels, max_pairs=10_000)
    expected = []
    for i, j in itertools.combinations(range(9), 2):
        d = sum(1 for b in range(16) if codes[i, b] != codes[j, b])
        expected.append((d, labels[i] == labels[j]))
    assert dist.tolist() == [d for d, _ in expected]
    assert same.tolist() == [s for _, s in expected]


def test_pair_distances_multihot_relevance_is_shared_label():
    codes = _codes(3, 8)
    labels = np.array([[1, 0, 1], [0, 0, 1], [0, 1, 0]])
    _, same = hamming_pair_distances(codes, labels)
    assert same.tolist() == [True, False, False]  # pairs (0,1), (0,2), (1,2)


def test_pair_sampling_is_seeded_and_never_pairs_an_item_with_itself():
    codes = _codes(300, 12)
    labels = np.arange(300) % 5
    d1, s1 = hamming_pair_distances(codes, labels, max_pairs=500, seed=3)
    d2, s2 = hamming_pair_distances(codes, labels, max_pairs=500, seed=3)
    d3, _ = hamming_pair_distances(codes, labels, max_pairs=500, seed=4)
    assert len(d1) == 500 and np.array_equal(d1, d2) and np.array_equal(s1, s2)
    assert not np.array_equal(d1, d3)
    # self-pairs: with all labels distinct, any "same" pair would be an item paired with itself
    identical = np.ones((50, 4), dtype=np.int8)
    _, same = hamming_pair_distances(identical, np.arange(50), max_pairs=100, seed=0)
    assert not same.any()


def test_pair_distances_reject_non_pm1_codes():
    with pytest.raises(ValueError, match="only ±1"):
        hamming_pair_distances(np.array([[0, 1], [1, 1]]), np.array([0, 1]))
    with pytest.raises(ValueError, match="labels"):
        hamming_pair_distances(_codes(4, 8), np.array([0, 1]))


def test_histogram_facets_and_density():
    labels = np.arange(60) % 3
    fig = viz.plot_hamming_histogram({8: _codes(60, 8), 16: _codes(60, 16, seed=1)}, labels)
    axes = [ax for ax in fig.axes if ax.get_title()]
    assert [ax.get_title() for ax in axes] == ["8 bits", "16 bits"]
    # density per pair type: each hue's bars (one per distance, bin width 1) sum to 1
    for ax in axes:
        assert len(ax.containers) == 2
        for bars in ax.containers:
            heights = np.array([b.get_height() for b in bars])
            assert heights.sum() == pytest.approx(1.0)
    # and the bar heights are the empirical frequencies of the sampled pair distances
    dist, same = hamming_pair_distances(_codes(60, 8), labels)
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
    fig = viz.plot_metric_vs_bits(results, baseline=0.95, thesis={"dsh": {12: 60.0, 24: 65.0}}, percent=True)
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
        viz.plot_metric_vs_bits([{"method": "dsh", "bits": 12, "knn_acc": 0.5}], metric="map")


def test_precision_recall_plot_draws_given_points():
    fig = viz.plot_precision_recall({"dsh": ([1.0, 0.8, 0.5], [0.1, 0.5, 1.0])})
    (line,) = fig.axes[0].get_lines()
    assert list(line.get_xdata()) == [0.1, 0.5, 1.0] and list(line.get_ydata()) == [1.0, 0.8, 0.5]
    with pytest.raises(ValueError, match="shape"):
        viz.plot_precision_recall({"x": ([1.0, 0.5], [0.1])})


# ----------------------------------------------------------------------------------------------- images
@pytest.mark.parametrize("channels", [1, 3])
def test_retrieval_gallery_marks_hits_and_misses(channels):
    bundle = _bundle(channels)
    query_ids = np.array([0, 4])  # labels 0 and 1
    nbrs = np.array([[3, 1, 6], [7, 2, 10]])  # train labels: 0,1,0 / 1,2,1
    fig = viz.plot_retrieval_gallery(bundle, query_ids, nbrs, distances=np.array([[0, 2, 3], [1, 1, 4]]))
    axes = np.array(fig.axes).reshape(2, 4)
    expected = [[True, False, True], [True, False, True]]
    for r in range(2):
        assert axes[r, 0].get_title().startswith("query")
        for c in range(3):
            border = axes[r, c + 1].patches[-1].get_edgecolor()
            want = viz.HIT_COLOR if expected[r][c] else viz.MISS_COLOR
            assert np.allclose(border[:3], tuple(int(want[i : i + 2], 16) / 255 for i in (1, 3, 5)))
        img = axes[r, 1].get_images()[0].get_array()
        assert img.shape == ((8, 8) if channels == 1 else (8, 8, 3))
    assert "d=2" in axes[0, 2].get_title()


def test_retrieval_gallery_bad_ids():
    bundle = _bundle(1)
    with pytest.raises(ValueError, match="neighbor_ids"):
        viz.plot_retrieval_gallery(bundle, [0, 1], np.array([[1, 2]]))
    with pytest.raises(IndexError, match="out of range"):
        viz.plot_retrieval_gallery(bundle, [0], np.array([[1, 99]]))


def test_class_sample_grid_one_row_per_class_of_that_class():
    bundle = _bundle(3, n=30, n_classes=3)
    fig = viz.plot_class_samples(bundle, per_class=4, seed=0)
    axes = np.array(fig.axes).reshape(3, 4)
    assert [axes[r, 0].get_ylabel() for r in range(3)] == ["c0", "c1", "c2"]
    for r in range(3):
        for c in range(4):
            shown = axes[r, c].get_images()[0].get_array()
            matches = [i for i in range(30) if np.array_equal(bundle.train.images[i], shown)]
            assert matches and all(bundle.train.labels[i] == r for i in matches)


def test_training_curves_plot_history_values():
    history = [{"epoch": e, "train_loss": 1.0 / (e + 1), "val_map": 0.1 * e} for e in range(4)]
    fig = viz.plot_training_curves(history)
    loss_ax, metric_ax = fig.axes[:2]
    (loss_line,) = loss_ax.get_lines()
    assert np.allclose(loss_line.get_ydata(), [1.0, 0.5, 1 / 3, 0.25])
    assert np.allclose(metric_ax.get_lines()[0].get_ydata(), [0.0, 0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="empty"):
        viz.plot_training_curves([])
    with pytest.raises(KeyError, match="nope"):
        viz.plot_training_curves(history, keys=["nope"])


def test_thesis_vs_ours_deltas():
    thesis = pd.DataFrame({12: [51.54, 66.74], 24: [52.89, 67.91]}, index=["dsh", "dpsh"])
    ours = pd.DataFrame({12: [55.0, 60.0]}, index=["dsh", "dpsh"])
    table = viz.thesis_vs_ours_table(ours, thesis, styled=False)
    assert table.loc["dsh", (12, "delta")] == pytest.approx(55.0 - 51.54)
    assert table.loc["dpsh", (12, "delta")] == pytest.approx(60.0 - 66.74)
    assert np.isnan(table.loc["dsh", (24, "ours")]) and table.loc["dsh", (24, "thesis")] == 52.89
    html = viz.thesis_vs_ours_table(ours, thesis).to_html()
    assert "3.46" in html and "-6.74" in html
    with pytest.raises(KeyError, match="hashnet"):
        viz.thesis_vs_ours_table(pd.DataFrame({12: [1.0]}, index=["hashnet"]), thesis)


def test_hardware_info_names_torch_and_cores():
    import os

    import torch

    info = hardware_info()
    assert f"torch {torch.__version__}" in info
    assert f"{os.cpu_count()} logical cores" in info
    assert "CUDA" in info


# ------------------------------------------------------------------------------------------------ one style
def _draw(fig: Figure) -> None:
    fig.canvas.draw()  # positions of legends and ticks are final only after a draw


def _outside(legend, ax) -> bool:
    """The legend's box does not overlap the data area of ``ax`` (display coordinates)."""
    box, area = legend.get_window_extent(), ax.get_window_extent()
    return box.x0 >= area.x1 - 1 or box.y1 <= area.y0 + 1 or box.x1 <= area.x0 + 1 or box.y0 >= area.y1 - 1


def test_importing_viz_and_widgets_changes_no_global_display_setting():
    import subprocess
    import sys

    code = (
        "import matplotlib, IPython.core.formatters as f\n"
        "before = dict(matplotlib.rcParams)\n"
        "import hashlab.viz, hashlab.widgets\n"
        "changed = [k for k, v in matplotlib.rcParams.items() if before.get(k) != v and k != 'backend']\n"
        "assert not changed, changed\n"
        "from IPython.core.interactiveshell import InteractiveShell\n"
        "sh = InteractiveShell.instance()\n"
        "import importlib; importlib.reload(hashlab.viz)\n"
        "png = sh.display_formatter.formatters['image/png']\n"
        "from matplotlib.figure import Figure\n"
        "assert Figure not in png.type_printers, 'a Figure formatter was registered'\n"
        "fig = hashlab.viz.plot_precision_recall({'x': ([1.0, 0.5], [0.1, 1.0])})\n"
        "data, _ = sh.display_formatter.format(fig)\n"
        "assert data['image/png'][:8] == b'\\x89PNG\\r\\n\\x1a\\n'\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]


def test_public_figure_functions_follow_one_naming_scheme():
    not_plots = {"CMAP", "HIT_COLOR", "MISS_COLOR", "Figure", "save_figure", "thesis_vs_ours_table"}
    names = set(viz.__all__) - not_plots
    assert names and all(n.startswith("plot_") for n in names), sorted(names)
    assert {"plot_precision_recall", "plot_training_curves"} <= names


def test_single_histogram_has_one_title_integer_ticks_and_legend_outside():
    labels = np.arange(60) % 3
    fig = viz.plot_hamming_histogram(_codes(60, 12), labels)
    _draw(fig)
    (ax,) = fig.axes
    assert fig._suptitle is None and "12 bits" in ax.get_title()
    ticks = [t for t in ax.get_xticks() if -0.5 <= t <= 12.5]
    assert ticks and all(float(t).is_integer() for t in ticks)
    assert _outside(ax.get_legend(), ax)


def test_histogram_panels_named_by_text_keys_and_wrapped():
    labels = np.arange(40) % 2
    long = "a rather long panel name that would overprint its neighbour, mAP 0.123"
    fig = viz.plot_hamming_histogram({long: _codes(40, 8), "short": _codes(40, 8, seed=2)}, labels)
    titles = [ax.get_title() for ax in fig.axes]
    assert "\n" in titles[0] and titles[1] == "short" and fig._suptitle is not None


def test_metric_vs_bits_thesis_on_its_own_panel():
    results = [{"method": "dsh", "bits": b, "map": v} for b, v in ((16, 0.5), (32, 0.6))]
    fig = viz.plot_metric_vs_bits(
        results, metric="map", thesis={"dsh": {12: 0.7, 24: 0.8}}, thesis_panel=True, thesis_label="PathMNIST"
    )
    ours, theirs = fig.axes[:2]
    assert [ln.get_label() for ln in ours.get_lines()] == ["dsh"]
    assert np.allclose(theirs.get_lines()[0].get_ydata(), [0.7, 0.8]) and theirs.get_title().startswith(
        "PathMNIST"
    )
    assert ours.get_lines()[0].get_color() == theirs.get_lines()[0].get_color()  # same colour per method


def test_image_rows_use_the_grey_map_not_inverted():
    originals = np.linspace(0, 1, 3 * 4 * 4).reshape(3, 4, 4, 1)
    fig = viz.plot_image_rows(originals, {"decoded": originals[::-1]})
    assert len(fig.axes) == 6 and fig.axes[3].get_ylabel() == "decoded"
    assert all(ax.get_images()[0].get_cmap().name == "gray" for ax in fig.axes)
    with pytest.raises(ValueError, match="image shape"):
        viz.plot_image_rows(originals, {"bad": np.zeros((3, 5, 5, 1))})


def test_cost_vs_map_names_strategies_in_a_legend_not_over_points():
    table = pd.DataFrame(
        {
            "time_vs_full": [0.2, 0.21, 1.0],
            "final_all_map": [0.5, 0.52, 0.9],
            "final_old_map": [0.3, 0.6, 0.9],
        },
        index=["naive", "distill", "full"],
    )
    fig = viz.plot_cost_vs_map(table)
    _draw(fig)
    ax = fig.axes[0]
    assert not ax.texts  # no annotations written over the points
    legend = ax.get_legend()
    assert [t.get_text() for t in legend.get_texts()][:3] == ["naive", "distill", "full"]
    assert _outside(legend, ax)


def test_burst_target_line_is_drawn_above_the_controllers():
    from types import SimpleNamespace

    traj = pd.DataFrame(
        {"target": [1.0, 1.5, 1.0], "undamped": [1.0, 1.5, 1.0], "moved_undamped": [0.0, 0.5, 0.0]},
        index=pd.Index([0, 1, 2], name="cycle"),
    )
    fig = viz.plot_burst(SimpleNamespace(trajectories=traj, burst=(1, 2), shift_at=None))
    lines = {ln.get_label(): ln for ln in fig.axes[0].get_lines()}
    assert lines["target (per cycle)"].get_zorder() > lines["undamped"].get_zorder()
    assert "moved_undamped" not in lines


def test_autoencoder_comparison_panels_have_readable_names_and_plain_bit_ticks():
    rows = [
        {"method": m, "bits": b, "map": 0.1 * b / 16, "p@100": 0.2, "ms_per_query": 0.01}
        for m in ("ae_latent", "lsh")
        for b in (16, 32, 64)
    ] + [{"method": "float_knn", "bits": 0, "map": 0.9, "p@100": 0.9, "ms_per_query": 0.1}]
    fig = viz.plot_autoencoder_comparison(pd.DataFrame(rows), {"dataset": "digits", "chance_map": 0.1})
    _draw(fig)
    assert [ax.get_title() for ax in fig.axes] == ["mAP", "precision@100", "ms per query"]
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["16", "32", "64"]
    assert len(fig.legends) == 1


def test_federated_and_continual_figures_draw_their_numbers():
    hist = pd.DataFrame({"round": [1, 2, 3], "map": [0.2, 0.4, 0.5]})
    fig = viz.plot_map_vs_rounds({"FedAvg": hist}, {"centralized": 0.6})
    line = fig.axes[0].get_lines()[0]
    assert list(line.get_ydata()) == [0.2, 0.4, 0.5]
    fig = viz.plot_partition({"α = 0.1": np.array([[3, 0], [1, 2]])}, ["a", "b"])
    heights = [p.get_height() for p in fig.axes[0].patches]
    assert heights == [3, 1, 0, 2]
    monitor = pd.DataFrame(
        {"window": [0, 1, 2], "mmd2": [0.0, 0.1, 0.5], "threshold": [0.2] * 3, "alarm": [False, False, True]}
    ).assign(shifted=[False, False, True])
    fig = viz.plot_drift(monitor)
    assert fig.axes[0].get_legend() is not None
    sweep = pd.DataFrame(
        {"chunk_share": [0.1, 0.5], "time_saving": [0.8, 0.4], "gradient_saving": [0.9, 0.5]}
    )
    labels = [ln.get_label() for ln in viz.plot_chunk_sweep(sweep).axes[0].get_lines()]
    assert not any("seed" in lab for lab in labels)


# ------------------------------------------------------------------------------------------------ layering
def _hashlab_imports() -> dict[str, set[str]]:
    """For every module file under hashlab/: the hashlab modules it imports (``from hashlab import viz`` counts as
    ``hashlab.viz``), found with ``ast`` so docstrings that name a module do not count."""
    import ast
    from pathlib import Path

    import hashlab

    root = Path(hashlab.__file__).parent
    found: dict[str, set[str]] = {}
    for path in root.rglob("*.py"):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module)
                names.update(f"{node.module}.{alias.name}" for alias in node.names)
        found[path.relative_to(root).as_posix()] = {n for n in names if n.startswith("hashlab")}
    return found


def test_studies_are_imported_by_no_library_module_and_algorithms_never_import_presentation():
    imports = _hashlab_imports()
    for rel, names in imports.items():
        if not rel.startswith("studies/"):
            assert not any(n.startswith("hashlab.studies") for n in names), rel
        presentation = {n for n in names if n.startswith(("hashlab.viz", "hashlab.widgets"))}
        if not rel.startswith(("viz/", "widgets/", "studies/", "reproduce/", "cli.py")):
            assert not presentation, (rel, presentation)
    assert not any(rel.startswith(("plots", "margins/lab")) for rel in imports)  # the old homes are gone
