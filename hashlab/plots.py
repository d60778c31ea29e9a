"""Figures for hashlab results (seaborn / matplotlib).

Every plotting function returns a :class:`matplotlib.figure.Figure` and takes ``save=None``: a path where the figure is
also written atomically (format from the extension). Figures are built with ``Figure`` directly, not through pyplot,
so no function calls ``plt.show`` and figures redrawn by widgets do not pile up in pyplot's registry. In Jupyter a
returned figure renders inline (IPython's matplotlib formatter), and ``IPython.display.display(fig)`` works in an
``Output`` widget.
"""

from __future__ import annotations

import os
import platform
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import matplotlib
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from hashlab.config import atomic_write

if TYPE_CHECKING:  # pragma: no cover
    from pandas.io.formats.style import Styler

    from hashlab.data import DatasetBundle, Split

__all__ = [
    "class_sample_grid",
    "confusion_matrix_plot",
    "hamming_distance_histogram",
    "hamming_pair_distances",
    "hardware_info",
    "metric_vs_bits",
    "precision_recall_plot",
    "retrieval_gallery",
    "save_figure",
    "thesis_vs_ours_table",
    "training_curves",
]

HIT_COLOR = "#1a9641"
MISS_COLOR = "#d7191c"


def _register_notebook_display() -> None:
    """Let a returned ``Figure`` render inline in IPython/Jupyter.

    The inline backend registers its PNG formatter only once pyplot makes a first figure; these figures bypass
    pyplot, so register the same formatter (``IPython.core.pylabtools.print_figure``) when running in IPython.
    """
    try:
        from IPython import get_ipython
        from IPython.core.pylabtools import print_figure
    except ImportError:  # pragma: no cover - IPython is a dependency of ipywidgets
        return
    shell = get_ipython()
    if shell is None:
        return
    png = shell.display_formatter.formatters["image/png"]
    if Figure not in png.type_printers:
        png.for_type(Figure, lambda fig: print_figure(fig, "png", bbox_inches="tight"))


_register_notebook_display()


# --------------------------------------------------------------------------------------------------------- helpers
def save_figure(fig: Figure, path: str | os.PathLike, dpi: int = 120) -> None:
    """Write ``fig`` to ``path`` atomically; the format comes from the file extension (png, pdf, svg, ...)."""
    ext = os.path.splitext(os.fspath(path))[1].lstrip(".").lower()
    if not ext:
        raise ValueError(
            f"cannot infer an image format from {os.fspath(path)!r}: give it an extension such as .png"
        )
    supported = fig.canvas.get_supported_filetypes()
    if ext not in supported:
        raise ValueError(
            f"unsupported figure format {ext!r} for {os.fspath(path)!r}; use one of {sorted(supported)}"
        )
    with atomic_write(path) as tmp:
        fig.savefig(tmp, format=ext, dpi=dpi, bbox_inches="tight")


def _finish(fig: Figure, save: str | os.PathLike | None) -> Figure:
    if save is not None:
        save_figure(fig, save)
    return fig


def _new_figure(figsize: tuple[float, float]) -> Figure:
    return Figure(figsize=figsize, layout="constrained")


def _as_numpy(x: Any, name: str) -> np.ndarray:
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    arr = np.asarray(x)
    if arr.size == 0:
        raise ValueError(f"{name} is empty")
    return arr


def _check_codes(codes: Any, name: str = "codes") -> np.ndarray:
    arr = _as_numpy(codes, name)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be a 2-D (N, L) array of ±1 codes, got shape {arr.shape}")
    if not np.isin(arr, (-1, 1)).all():
        raise ValueError(f"{name} must contain only -1 and +1 (use hashlab.codes.to_codes first)")
    return arr.astype(np.int8, copy=False)


def _relevant_pairs(labels: np.ndarray, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """Pair relevance: equal label (single-label) or at least one shared label (multi-hot)."""
    if labels.ndim == 1:
        return labels[i] == labels[j]
    return (labels[i].astype(bool) & labels[j].astype(bool)).any(axis=1)


# ---------------------------------------------------------------------------------------------- confusion matrix
def confusion_matrix_plot(
    cm: Any,
    class_names: Sequence[str] | None = None,
    *,
    title: str = "Confusion Matrix",
    cmap: str = "Blues",
    figsize: tuple[float, float] | None = None,
    save: str | os.PathLike | None = None,
) -> Figure:
    """Annotated heatmap of a confusion matrix of counts (rows = true label, columns = predicted label).

    The layout follows the thesis's Figs. 18-29: title "Confusion Matrix", axes "True Label" / "Predicted Label",
    integer counts in every cell, class names as tick labels.
    """
    cm = _as_numpy(cm, "cm")
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1]:
        raise ValueError(f"cm must be a square (C, C) matrix, got shape {cm.shape}")
    n = cm.shape[0]
    names = [str(c) for c in (class_names if class_names is not None else range(n))]
    if len(names) != n:
        raise ValueError(f"{len(names)} class names given for a {n}x{n} confusion matrix")
    size = figsize or (max(4.5, 0.55 * n + 2.5), max(3.8, 0.5 * n + 2.0))
    fig = _new_figure(size)
    ax = fig.add_subplot()
    sns.heatmap(
        cm.astype(np.int64),
        annot=True,
        fmt="d",
        cmap=cmap,
        square=True,
        cbar=True,
        xticklabels=names,
        yticklabels=names,
        annot_kws={"fontsize": 8 if n > 8 else 10},
        ax=ax,
    )
    ax.set_title(title)
    ax.set_xlabel("Predicted Label")
    ax.set_ylabel("True Label")
    ax.tick_params(axis="x", labelrotation=45 if max(len(s) for s in names) > 3 else 0)
    ax.tick_params(axis="y", labelrotation=0)
    return _finish(fig, save)


# ---------------------------------------------------------------------------------------- Hamming distributions
def hamming_pair_distances(
    codes: Any, labels: Any, *, max_pairs: int = 20_000, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Hamming distances of item pairs and whether each pair is same-class (relevant).

    All ``i < j`` pairs are used when there are at most ``max_pairs`` of them; otherwise ``max_pairs`` distinct-item
    pairs are drawn uniformly with a seeded generator (same seed, same pairs). Returns ``(distances int32, same bool)``.
    """
    codes = _check_codes(codes)
    labels = _as_numpy(labels, "labels")
    n = codes.shape[0]
    if labels.shape[0] != n:
        raise ValueError(f"codes have {n} rows but labels have {labels.shape[0]}")
    if n < 2:
        raise ValueError("need at least two codes to form a pair")
    if max_pairs < 1:
        raise ValueError(f"max_pairs must be >= 1, got {max_pairs}")
    if n * (n - 1) // 2 <= max_pairs:
        i, j = np.triu_indices(n, k=1)
    else:
        rng = np.random.default_rng(seed)
        i = rng.integers(0, n, size=max_pairs)
        j = (i + rng.integers(1, n, size=max_pairs)) % n  # j != i, uniform over the other items
    dist = (codes[i] != codes[j]).sum(axis=1).astype(np.int32)
    return dist, _relevant_pairs(labels, i, j)


def hamming_distance_histogram(
    codes: Any | Mapping[int, Any],
    labels: Any,
    *,
    max_pairs: int = 20_000,
    seed: int = 0,
    title: str | None = None,
    save: str | os.PathLike | None = None,
) -> Figure:
    """Density histograms of Hamming distances for same-class vs different-class pairs.

    ``codes`` is one (N, L) ±1 array, or a mapping ``{bits: codes}`` drawn as one facet per bit length (all rows share
    ``labels``). Each pair type is normalised to density separately, so unequal pair counts do not hide the overlap.
    """
    facets = dict(codes) if isinstance(codes, Mapping) else {None: codes}
    if not facets:
        raise ValueError("codes mapping is empty")
    fig = _new_figure((4.2 * len(facets), 3.4))
    axes = fig.subplots(1, len(facets), squeeze=False)[0]
    palette = {"same class": "#2b83ba", "different class": "#fdae61"}
    for ax, (bits, c) in zip(axes, facets.items(), strict=True):
        dist, same = hamming_pair_distances(c, labels, max_pairs=max_pairs, seed=seed)
        n_bits = int(np.asarray(c).shape[1])
        frame = pd.DataFrame(
            {"Hamming distance": dist, "pair": np.where(same, "same class", "different class")}
        )
        sns.histplot(
            data=frame,
            x="Hamming distance",
            hue="pair",
            hue_order=list(palette),
            palette=palette,
            stat="density",
            common_norm=False,
            discrete=True,
            element="bars",
            alpha=0.5,
            shrink=0.9,
            ax=ax,
        )
        ax.set_xlim(-0.5, n_bits + 0.5)
        ax.set_title(f"{bits if bits is not None else n_bits} bits")
    fig.suptitle(title or "Hamming distances: same-class vs different-class pairs")
    return _finish(fig, save)


# ------------------------------------------------------------------------------------------------ metric vs bits
def _long_table(data: Any, value_name: str) -> pd.DataFrame:
    """Accept a long DataFrame (method, bits, value), a list of dicts, or ``{method: {bits: value}}``."""
    if isinstance(data, pd.DataFrame):
        frame = data.copy()
    elif isinstance(data, Mapping):
        frame = pd.DataFrame(
            [
                {"method": m, "bits": int(b), value_name: float(v)}
                for m, row in data.items()
                for b, v in row.items()
            ]
        )
    else:
        frame = pd.DataFrame(list(data))
    missing = {"method", "bits", value_name} - set(frame.columns)
    if missing:
        raise KeyError(f"results table lacks column(s) {sorted(missing)}; it has {list(frame.columns)}")
    if frame.empty:
        raise ValueError("results table is empty")
    return frame


def metric_vs_bits(
    results: Any,
    *,
    metric: str = "knn_acc",
    baseline: float | None = None,
    baseline_label: str = "raw embeddings (Euclidean KNN)",
    thesis: Any = None,
    ylabel: str | None = None,
    title: str | None = None,
    percent: bool = False,
    save: str | os.PathLike | None = None,
) -> Figure:
    """Metric against code length, one line per method (the thesis's Figs. 20, 21, 26, 27).

    ``results``: long table with columns ``method``, ``bits`` and ``metric`` (DataFrame or list of dicts), or a
    mapping ``{method: {bits: value}}``. ``baseline`` draws a horizontal line (raw-embedding KNN). ``thesis``, in the
    same formats, adds the published values as dashed lines in the same colour per method. ``percent`` multiplies
    our values by 100 (thesis tables are in %); give ``thesis`` on the same scale as the plot.
    """
    frame = _long_table(results, metric)
    frame = frame.assign(
        bits=frame["bits"].astype(int), value=frame[metric].astype(float) * (100 if percent else 1)
    )
    methods = list(dict.fromkeys(frame["method"]))
    colors = dict(zip(methods, sns.color_palette("tab10", n_colors=max(len(methods), 1)), strict=False))
    fig = _new_figure((6.4, 4.2))
    ax = fig.add_subplot()
    for method in methods:
        sub = frame[frame["method"] == method].sort_values("bits")
        ax.plot(sub["bits"], sub["value"], marker="o", color=colors[method], label=method)
    if thesis is not None:
        ref = _long_table(thesis, metric)
        for method in dict.fromkeys(ref["method"]):
            sub = ref[ref["method"] == method].sort_values("bits")
            ax.plot(
                sub["bits"].astype(int),
                sub[metric].astype(float),
                linestyle="--",
                marker="x",
                color=colors.get(method, "grey"),
                alpha=0.8,
                label=f"{method} (thesis)",
            )
    if baseline is not None:
        ax.axhline(
            float(baseline) * (100 if percent else 1), color="black", linestyle=":", label=baseline_label
        )
    ax.set_xticks(sorted(frame["bits"].unique()))
    ax.set_xlabel("Code length (bits)")
    ax.set_ylabel(ylabel or (f"{metric} (%)" if percent else metric))
    ax.set_title(title or f"{metric} vs code length")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    return _finish(fig, save)


# --------------------------------------------------------------------------------------------- precision-recall
def precision_recall_plot(
    curves: Mapping[str, tuple[Any, Any]],
    *,
    title: str = "Precision-recall (Hamming ranking)",
    save: str | os.PathLike | None = None,
) -> Figure:
    """Precision-recall curves, one per entry of ``{label: (precision, recall)}``
    (as returned by ``hashlab.metrics.precision_recall_curve``)."""
    if not curves:
        raise ValueError("no curves given")
    fig = _new_figure((5.2, 4.2))
    ax = fig.add_subplot()
    for label, (precision, recall) in curves.items():
        p, r = _as_numpy(precision, f"precision of {label!r}"), _as_numpy(recall, f"recall of {label!r}")
        if p.shape != r.shape:
            raise ValueError(f"precision and recall of {label!r} differ in shape: {p.shape} vs {r.shape}")
        ax.plot(r, p, marker=".", label=str(label))
    ax.set_xlabel("Recall")
    ax.set_ylabel("Precision")
    ax.set_xlim(0, 1.02)
    ax.set_ylim(0, 1.02)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _finish(fig, save)


# ------------------------------------------------------------------------------------------------------- images
def _show_image(ax: Any, image: np.ndarray) -> None:
    img = np.asarray(image)
    if img.ndim == 3 and img.shape[-1] == 1:
        img = img[..., 0]
    if img.ndim == 2:
        ax.imshow(img, cmap="gray", interpolation="nearest")
    elif img.ndim == 3 and img.shape[-1] in (3, 4):
        ax.imshow(img, interpolation="nearest")
    else:
        raise ValueError(
            f"cannot show an image of shape {img.shape}: expected (H, W), (H, W, 1) or (H, W, 3)"
        )
    ax.set_xticks([])
    ax.set_yticks([])


def _frame(ax: Any, color: str, width: float = 4.0) -> None:
    ax.add_patch(
        Rectangle(
            (0, 0), 1, 1, transform=ax.transAxes, fill=False, edgecolor=color, linewidth=width, clip_on=False
        )
    )


def _label_text(label: np.ndarray, class_names: Sequence[str]) -> str:
    label = np.asarray(label)
    if label.ndim == 0:
        idx = int(label)
        return class_names[idx] if 0 <= idx < len(class_names) else str(idx)
    return ",".join(class_names[k] for k in np.flatnonzero(label)) or "-"


def _get_split(bundle: DatasetBundle, name: str) -> Split:
    if name not in ("train", "val", "test"):
        raise ValueError(f"unknown split {name!r}; use 'train', 'val' or 'test'")
    return getattr(bundle, name)


def retrieval_gallery(
    bundle: DatasetBundle,
    query_ids: Sequence[int] | np.ndarray,
    neighbor_ids: Any,
    *,
    distances: Any = None,
    query_split: str = "test",
    db_split: str = "train",
    k: int | None = None,
    title: str | None = None,
    save: str | os.PathLike | None = None,
) -> Figure:
    """Query images (left column) with their top-k retrieved database images.

    ``query_ids`` index ``bundle.<query_split>``; ``neighbor_ids`` (Nq, >=k) index ``bundle.<db_split>`` (e.g. the
    ids returned by ``HammingIndex.search``). Hits (relevant: same label, or a shared label for multi-hot data) get a
    green border, misses a red one; ``distances`` (same shape) are printed under each retrieved image.
    """
    q_split, d_split = _get_split(bundle, query_split), _get_split(bundle, db_split)
    query_ids = np.asarray(query_ids, dtype=np.int64).reshape(-1)
    nbrs = np.asarray(neighbor_ids, dtype=np.int64)
    if nbrs.ndim != 2 or nbrs.shape[0] != query_ids.shape[0]:
        raise ValueError(f"neighbor_ids must be (n_queries={query_ids.shape[0]}, k), got shape {nbrs.shape}")
    k = nbrs.shape[1] if k is None else int(k)
    if not 1 <= k <= nbrs.shape[1]:
        raise ValueError(f"k must be in [1, {nbrs.shape[1]}], got {k}")
    for name, ids, split in (("query_ids", query_ids, q_split), ("neighbor_ids", nbrs[:, :k], d_split)):
        if ids.size and (ids.min() < 0 or ids.max() >= len(split.labels)):
            raise IndexError(f"{name} out of range for a split of {len(split.labels)} items")
    dist = None if distances is None else np.asarray(distances)
    names = list(bundle.class_names)
    nq = len(query_ids)
    fig = _new_figure((1.3 * (k + 1) + 0.4, 1.55 * nq + 0.5))
    axes = fig.subplots(nq, k + 1, squeeze=False)
    for r, qi in enumerate(query_ids):
        q_label = q_split.labels[qi]
        ax = axes[r, 0]
        _show_image(ax, q_split.images[qi])
        _frame(ax, "black")
        ax.set_title(f"query\n{_label_text(q_label, names)}", fontsize=8)
        for c in range(k):
            di = nbrs[r, c]
            d_label = d_split.labels[di]
            hit = bool(_relevant_pairs(np.stack([q_label, d_label]), np.array([0]), np.array([1]))[0])
            ax = axes[r, c + 1]
            _show_image(ax, d_split.images[di])
            _frame(ax, HIT_COLOR if hit else MISS_COLOR)
            caption = _label_text(d_label, names)
            if dist is not None:
                caption += f"\nd={int(dist[r, c])}"
            ax.set_title(caption, fontsize=7, color=HIT_COLOR if hit else MISS_COLOR)
    fig.suptitle(
        title or f"Top-{k} retrieval ({query_split} queries, {db_split} database): green hit, red miss"
    )
    return _finish(fig, save)


def class_sample_grid(
    bundle: DatasetBundle,
    *,
    split: str = "train",
    per_class: int = 5,
    seed: int = 0,
    title: str | None = None,
    save: str | os.PathLike | None = None,
) -> Figure:
    """Grid of random sample images, one row per class (the thesis's Fig. 17 for PathMNIST). Seeded."""
    if per_class < 1:
        raise ValueError(f"per_class must be >= 1, got {per_class}")
    data = _get_split(bundle, split)
    labels = np.asarray(data.labels)
    names = list(bundle.class_names)
    rng = np.random.default_rng(seed)
    fig = _new_figure((1.1 * per_class + 1.8, 1.1 * len(names) + 0.5))
    axes = fig.subplots(len(names), per_class, squeeze=False)
    for c, name in enumerate(names):
        members = np.flatnonzero(labels == c if labels.ndim == 1 else labels[:, c] > 0)
        chosen = rng.choice(members, size=min(per_class, len(members)), replace=False) if len(members) else []
        for col in range(per_class):
            ax = axes[c, col]
            if col < len(chosen):
                _show_image(ax, data.images[chosen[col]])
            else:
                ax.axis("off")
            if col == 0:
                ax.set_ylabel(name, rotation=0, ha="right", va="center", fontsize=8)
                ax.axis("on")
                ax.set_xticks([])
                ax.set_yticks([])
    fig.suptitle(title or f"{bundle.name}: samples per class ({split} split)")
    return _finish(fig, save)


# ------------------------------------------------------------------------------------------------------ training
def training_curves(
    history: Sequence[Mapping[str, Any]],
    *,
    keys: Sequence[str] | None = None,
    title: str = "Training curves",
    save: str | os.PathLike | None = None,
) -> Figure:
    """Per-epoch curves from a history list of dicts (``ExperimentResult.history``).

    Keys containing "loss" go on the left panel, every other numeric key (``val_map``, ``val_knn_acc`` ...) on the
    right. ``keys`` restricts what is drawn. The x axis is the ``epoch`` entry when present, else the list position.
    """
    if not history:
        raise ValueError("history is empty: nothing to plot")
    frame = pd.DataFrame(list(history))
    x = frame["epoch"] if "epoch" in frame else pd.Series(range(len(frame)))
    numeric = [c for c in frame.columns if c != "epoch" and pd.api.types.is_numeric_dtype(frame[c])]
    if keys is not None:
        unknown = set(keys) - set(frame.columns)
        if unknown:
            raise KeyError(f"history has no key(s) {sorted(unknown)}; it has {list(frame.columns)}")
        numeric = list(keys)
    if not numeric:
        raise ValueError(f"history has no numeric entries to plot; keys: {list(frame.columns)}")
    losses = [c for c in numeric if "loss" in c]
    others = [c for c in numeric if "loss" not in c]
    panels = [p for p in (losses, others) if p]
    fig = _new_figure((5.0 * len(panels), 3.6))
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, cols in zip(axes, panels, strict=True):
        for col in cols:
            ok = frame[col].notna()
            ax.plot(x[ok], frame.loc[ok, col], marker=".", label=col)
        ax.set_xlabel("epoch")
        ax.set_ylabel("loss" if cols is losses else "metric")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(title)
    return _finish(fig, save)


# --------------------------------------------------------------------------------------------- thesis vs ours
def thesis_vs_ours_table(
    ours: pd.DataFrame,
    thesis: pd.DataFrame,
    *,
    styled: bool = True,
    precision: int = 2,
) -> pd.DataFrame | Styler:
    """Side-by-side table: for every column of ``thesis`` (e.g. a bit length) the thesis value, ours and the delta.

    ``ours`` and ``thesis`` are indexed the same way (e.g. methods as rows, bit lengths as columns) on the same scale
    (both %, say). Cells missing in ``ours`` stay NaN. Returns a DataFrame with column MultiIndex
    ``(column, {"thesis", "ours", "delta"})`` where delta = ours - thesis, or (``styled=True``) a pandas ``Styler``
    that colours deltas (green above the thesis, red below).
    """
    if not isinstance(ours, pd.DataFrame) or not isinstance(thesis, pd.DataFrame):
        raise TypeError("ours and thesis must both be pandas DataFrames")
    unknown_rows = set(ours.index) - set(thesis.index)
    if unknown_rows:
        raise KeyError(f"rows {sorted(map(str, unknown_rows))} of ours are not in the thesis table")
    ours_aligned = ours.reindex(index=thesis.index, columns=thesis.columns).astype(float)
    parts = {}
    for col in thesis.columns:
        parts[(col, "thesis")] = thesis[col].astype(float)
        parts[(col, "ours")] = ours_aligned[col]
        parts[(col, "delta")] = ours_aligned[col] - thesis[col].astype(float)
    table = pd.DataFrame(parts, index=thesis.index)
    table.columns = pd.MultiIndex.from_tuples(table.columns)
    if not styled:
        return table
    delta_cols = [c for c in table.columns if c[1] == "delta"]

    def _color(v: float) -> str:
        if pd.isna(v):
            return ""
        return f"color: {HIT_COLOR}" if v >= 0 else f"color: {MISS_COLOR}"

    return table.style.format(precision=precision, na_rep="-").map(_color, subset=delta_cols)


# ------------------------------------------------------------------------------------------------------ hardware
def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def hardware_info() -> str:
    """One line describing where numbers were computed: CPU model, cores, torch version, CUDA device if any."""
    import torch

    parts = [
        f"CPU: {_cpu_model()}",
        f"{os.cpu_count()} logical cores (usable: {len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else '?'})",
        f"Python {platform.python_version()}",
        f"torch {torch.__version__}",
        f"matplotlib {matplotlib.__version__}",
    ]
    if torch.cuda.is_available():
        parts.append(f"CUDA device: {torch.cuda.get_device_name(0)} (CUDA {torch.version.cuda})")
    else:
        parts.append("CUDA: none (CPU only)")
    return "; ".join(parts)
