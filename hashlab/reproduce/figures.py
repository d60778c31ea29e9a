"""Figs. 17-30 analogues (and two extra plots) drawn from the grid, saved as PNGs named after the thesis figure.

With several seeds per (method, bits) the metric-vs-bits figures draw the mean with ±1 sd error bars (ddof = 1);
confusion matrices and Hamming histograms show the first seed's cell. Fig. 30 times the cells of one run only
(``grid.timing_cells``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from hashlab import thesis
from hashlab.reproduce.grid import CellResult, grid_frame, timing_cells
from hashlab.reproduce.presets import THESIS_KNN_K
from hashlab.reproduce.tables import thesis_dataset_for

TIMED_METHODS: tuple[str, ...] = ("dnnh", "dshgan", "tcl")

_FAMILIES = {
    5: ("pairwise", {"cifar10": 20, "pathmnist": 21}),
    6: ("triplet", {"cifar10": 26, "pathmnist": 27}),
}


def _fig_number(numbers: dict[str, int], dataset: str) -> str:
    """The thesis figure number for ``dataset``, or "a_b" (both datasets' numbers) for a non-thesis dataset."""
    same = thesis_dataset_for(dataset)
    return str(numbers[same]) if same else "_".join(str(v) for v in sorted(numbers.values()))


def raw_confusion_figure(
    confusion: np.ndarray,
    class_names: Sequence[str],
    dataset: str,
    backbone: str,
    k: int = THESIS_KNN_K,
    save: Any = None,
) -> Any:
    """Figs. 18/19 analogue: confusion matrix of raw-embedding Euclidean KNN, test queries vs train database."""
    from hashlab import viz

    n = _fig_number({"cifar10": 18, "pathmnist": 19}, dataset).replace("_", "/")
    title = (
        f"Confusion Matrix (Fig. {n} analogue): raw-embedding KNN k={k}, {dataset} / {backbone}, test queries"
    )
    return viz.plot_confusion_matrix(confusion, class_names, title=title, save=save)


def first_seed_cells(cells: dict[tuple[Any, ...], CellResult]) -> dict[tuple[str, int], CellResult]:
    """``{(method, bits): cell}`` with the first seed's cell of each (method, bits) (grid order)."""
    out: dict[tuple[str, int], CellResult] = {}
    for cell in cells.values():
        out.setdefault((cell.method, int(cell.bits)), cell)
    return out


def accuracy_vs_bits_figure(
    cells: dict[tuple[Any, ...], CellResult],
    table: int,
    dataset: str,
    backbone: str,
    raw_acc: float,
    save: Any = None,
) -> Any:
    """Figs. 20/21 (pairwise, ``table=5``) or 26/27 (triplet, ``table=6``) analogue: Hamming KNN accuracy (%) vs
    bits, one line per method (mean over seeds, ±1 sd error bars where n > 1), raw-embedding KNN as a horizontal
    line, the thesis's values dashed when the dataset is one of the thesis's."""
    from hashlab import viz

    family, numbers = _FAMILIES[table]
    frame = grid_frame(cells)
    sub = frame[frame["table"] == table]
    if sub.empty:
        raise ValueError(f"no {family} method (thesis Table {table}) in the grid: nothing to plot")
    same = thesis_dataset_for(dataset)
    ref = thesis.thesis_table(table)
    # On another dataset the thesis curves are still drawn (its PathMNIST values), on a panel of their own: the
    # shapes and the ranking can be compared, the values cannot.
    shown_on = same or "pathmnist"
    ref = ref[ref["dataset"] == shown_on]
    ref_long = [
        {"method": thesis.method_label(m), "bits": int(b), "knn_acc": v}
        for m, b, v in zip(ref["method"], ref["bits"], ref["value"], strict=True)
        if m in set(sub["method"])
    ]
    num = _fig_number(numbers, dataset).replace("_", "/")
    return viz.plot_metric_vs_bits(
        sub.assign(method=sub["label"]),
        metric="knn_acc",
        baseline=raw_acc,
        thesis=ref_long or None,
        thesis_panel=same is None,
        thesis_label=f"thesis ({shown_on}, another dataset)",
        percent=True,
        ylabel="Hamming KNN accuracy (%), test queries",
        title=f"Fig. {num} analogue: {family} methods, {dataset} / {backbone}",
        save=save,
    )


def method_confusion_figure(cell: CellResult, dataset: str, backbone: str, save: Any = None) -> Any:
    """Figs. 22-25, 28, 29 analogue: confusion matrix of Hamming KNN (k=7) for one method and code length."""
    from hashlab import viz

    shown = [f for f in thesis.thesis_figures() if f["kind"] == "confusion" and f["method"] == cell.method]
    ref = f" (thesis Fig. {shown[0]['number']}: {shown[0]['dataset']})" if shown else ""
    title = (
        f"Confusion Matrix: {thesis.method_label(cell.method)} {cell.bits} bits, {dataset} / {backbone}{ref}"
    )
    return viz.plot_confusion_matrix(np.asarray(cell.confusion), cell.class_names, title=title, save=save)


def training_cost_figure(
    cells: dict[tuple[Any, ...], CellResult], dataset: str, backbone: str, hardware: str, save: Any = None
) -> Any:
    """Fig. 30 analogue: training wall-clock seconds (training epochs alone) vs bits for DNNH, DSH-GAN and TCL,
    mean over seeds with ±1 sd error bars, from the cells trained in one run only (``timing_cells``: reused cells
    of an earlier run are left out). The thesis gives no numbers."""
    from hashlab import viz

    frame = grid_frame(timing_cells(cells))
    short = "; ".join(p for p in hardware.split("; ") if p.startswith(("CPU", "CUDA")) or "cores" in p)
    timed = frame[frame["method"].isin(TIMED_METHODS)]
    if timed.empty:
        raise ValueError(f"none of the timed methods {list(TIMED_METHODS)} was trained in this run")
    return viz.plot_metric_vs_bits(
        timed.assign(method=timed["label"]),
        metric="train_seconds",
        ylabel="training epochs wall-clock time (s)",
        title=f"Fig. 30 analogue (the thesis gives no numbers): training cost, {dataset} / {backbone}\n"
        f"{short}; {len(timed)} cells trained in one run",
        save=save,
    )


def write_figures(
    out: Path,
    dataset: str,
    backbone: str,
    cells: dict[tuple[Any, ...], CellResult],
    raw_confusion: np.ndarray,
    class_names: Sequence[str],
    raw_acc: float,
    hardware: str,
    bundle: Any = None,
) -> dict[str, str]:
    """Every result figure as PNG under ``out`` (file names start with the thesis figure they stand for)."""
    import matplotlib.pyplot as plt

    from hashlab import viz

    written: dict[str, str] = {}

    def keep(name: str, filename: str, make: Callable[[Path], Any]) -> None:
        path = out / filename
        fig = make(path)
        plt.close(fig)
        written[name] = str(path)

    if bundle is not None:
        keep(
            "fig17",
            f"fig17_class_samples_{dataset}.png",
            lambda p: viz.plot_class_samples(
                bundle, per_class=6, title=f"Fig. 17 analogue: {dataset}", save=p
            ),
        )
    n = _fig_number({"cifar10": 18, "pathmnist": 19}, dataset)
    keep(
        f"fig{n}",
        f"fig{n}_confusion_raw_knn_{dataset}.png",
        lambda p: raw_confusion_figure(raw_confusion, class_names, dataset, backbone, save=p),
    )
    frame = grid_frame(cells)
    for table, (family, numbers) in _FAMILIES.items():
        if (frame["table"] == table).any():
            num = _fig_number(numbers, dataset)
            keep(
                f"fig{num}",
                f"fig{num}_accuracy_vs_bits_{family}_{dataset}.png",
                lambda p, t=table: accuracy_vs_bits_figure(cells, t, dataset, backbone, raw_acc, save=p),
            )
    first = first_seed_cells(cells)
    top = max(b for (_, b) in first) if first else None
    for info in thesis.thesis_figures():
        cell = first.get((info["method"], top)) if info["kind"] == "confusion" else None
        if cell is not None:
            keep(
                f"fig{info['number']}",
                f"fig{info['number']}_confusion_{cell.method}_{top}bits_{dataset}.png",
                lambda p, c=cell: method_confusion_figure(c, dataset, backbone, save=p),
            )
    if grid_frame(timing_cells(cells))["method"].isin(TIMED_METHODS).any():
        keep(
            "fig30",
            f"fig30_training_cost_{dataset}.png",
            lambda p: training_cost_figure(cells, dataset, backbone, hardware, save=p),
        )
    if "map" in frame:
        keep(
            "extra_map",
            f"extra_map_vs_bits_{dataset}.png",
            lambda p: viz.plot_metric_vs_bits(
                frame.assign(method=frame["label"]),
                metric="map",
                title=f"mAP vs code length (not in the thesis), {dataset} / {backbone}, test queries",
                save=p,
            ),
        )
    for (method, b), cell in first.items():
        if b == top and cell.codes is not None:
            keep(
                f"extra_hamming_{method}",
                f"extra_hamming_{method}_{top}bits_{dataset}.png",
                lambda p, c=cell: viz.plot_hamming_histogram(
                    c.codes,
                    c.labels,
                    title=f"Hamming distances, {thesis.method_label(c.method)} {top} bits, {dataset} test split",
                    save=p,
                ),
            )
    return written
