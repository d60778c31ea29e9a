"""Retrieval figures: confusion matrix, Hamming-distance histograms, precision-recall, galleries, image grids."""

from __future__ import annotations

import os
import textwrap
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import seaborn as sns
from matplotlib.patches import Rectangle

from hashlab.separation import hamming_pair_distances, relevant_pairs
from hashlab.viz.style import (
    CMAP,
    HIT_COLOR,
    IMAGE_CMAP,
    MISS_COLOR,
    Figure,
    finish,
    integer_ticks,
    legend_outside,
    new_figure,
)

if TYPE_CHECKING:  # pragma: no cover
    from hashlab.data import DatasetBundle, Split

__all__ = [
    "plot_class_samples",
    "plot_confusion_matrix",
    "plot_hamming_histogram",
    "plot_image_rows",
    "plot_precision_recall",
    "plot_retrieval_gallery",
]

SAME_COLOR, DIFF_COLOR = "#2b83ba", "#fdae61"


def as_array(x: Any, name: str) -> np.ndarray:
    """``x`` (numpy or torch) as a numpy array; ``ValueError`` naming ``x`` when it is empty."""
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    arr = np.asarray(x)
    if arr.size == 0:
        raise ValueError(f"{name} is empty")
    return arr


def panel_name(text: Any, width: int = 38) -> str:
    """A readable panel title: ``"16 bits"`` for an integer key, other text wrapped at ``width`` characters."""
    if isinstance(text, int | np.integer):
        return f"{int(text)} bits"
    return textwrap.fill(str(text), width)


# ---------------------------------------------------------------------------------------------- confusion matrix
def plot_confusion_matrix(
    cm: Any,
    class_names: Sequence[str] | None = None,
    *,
    title: str = "Confusion Matrix",
    figsize: tuple[float, float] | None = None,
    save: str | os.PathLike | None = None,
) -> Figure:
    """Annotated heatmap of a confusion matrix of counts (rows = true label, columns = predicted label).

    The layout follows the thesis's Figs. 18-29: title "Confusion Matrix", axes "True Label" / "Predicted Label",
    integer counts in every cell, class names as tick labels.
    """
    cm = as_array(cm, "cm")
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1]:
        raise ValueError(f"cm must be a square (C, C) matrix, got shape {cm.shape}")
    n = cm.shape[0]
    names = [str(c) for c in (class_names if class_names is not None else range(n))]
    if len(names) != n:
        raise ValueError(f"{len(names)} class names given for a {n}x{n} confusion matrix")
    fig = new_figure(figsize or (max(4.5, 0.55 * n + 2.5), max(3.8, 0.5 * n + 2.0)))
    ax = fig.add_subplot()
    sns.heatmap(
        cm.astype(np.int64),
        annot=True,
        fmt="d",
        cmap=CMAP,
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
    return finish(fig, save)


# ---------------------------------------------------------------------------------------- Hamming distributions
def plot_hamming_histogram(
    codes: Any | Mapping[Any, Any],
    labels: Any,
    *,
    max_pairs: int = 20_000,
    seed: int = 0,
    title: str | None = None,
    save: str | os.PathLike | None = None,
) -> Figure:
    """Density histograms of Hamming distances for same-class vs different-class pairs.

    ``codes`` is one (N, L) ±1 array, or a mapping ``{key: codes}`` drawn as one panel per key (an integer key is a
    bit length, named "16 bits"; other keys are panel names). All share ``labels``. Each pair type is normalised to
    density separately (its bars sum to 1), so unequal pair counts do not hide the overlap. The legend sits right of
    the last panel; distances get integer ticks.
    """
    facets = dict(codes) if isinstance(codes, Mapping) else {None: codes}
    if not facets:
        raise ValueError("codes mapping is empty")
    fig = new_figure((3.6 * len(facets) + 1.6, 3.3))
    axes = fig.subplots(1, len(facets), squeeze=False)[0]
    for ax, (key, c) in zip(axes, facets.items(), strict=True):
        dist, same = hamming_pair_distances(c, labels, max_pairs=max_pairs, seed=seed)
        n_bits = int(np.asarray(c).shape[1])
        support = np.arange(n_bits + 1)
        for mask, name, color in ((~same, "different class", DIFF_COLOR), (same, "same class", SAME_COLOR)):
            if mask.any():
                density = np.bincount(dist[mask], minlength=n_bits + 1) / mask.sum()
                ax.bar(support, density, width=0.9, alpha=0.55, color=color, label=name)
        ax.set_xlim(-0.5, n_bits + 0.5)
        ax.set_xlabel("Hamming distance (bits)")
        integer_ticks(ax, "x")
        if len(facets) > 1 or key is not None:
            ax.set_title(panel_name(key if key is not None else n_bits), fontsize=10)
    axes[0].set_ylabel("fraction of pairs")
    legend_outside(axes[-1], title="pair")
    default = "Hamming distances: same-class vs different-class pairs"
    if len(facets) == 1 and next(iter(facets)) is None:
        axes[0].set_title(title or f"{default} ({int(np.asarray(codes).shape[1])} bits)", fontsize=10)
    else:
        fig.suptitle(title or default)
    return finish(fig, save)


# --------------------------------------------------------------------------------------------- precision-recall
def plot_precision_recall(
    curves: Mapping[str, tuple[Any, Any]],
    *,
    title: str = "Precision-recall (Hamming ranking)",
    save: str | os.PathLike | None = None,
) -> Figure:
    """Precision-recall curves, one per entry of ``{label: (precision, recall)}``
    (as returned by ``hashlab.metrics.precision_recall_curve``)."""
    if not curves:
        raise ValueError("no curves given")
    fig = new_figure((6.2, 4.0))
    ax = fig.add_subplot()
    for label, (precision, recall) in curves.items():
        p, r = as_array(precision, f"precision of {label!r}"), as_array(recall, f"recall of {label!r}")
        if p.shape != r.shape:
            raise ValueError(f"precision and recall of {label!r} differ in shape: {p.shape} vs {r.shape}")
        ax.plot(r, p, marker=".", label=str(label))
    ax.set_xlabel("Recall")
    ax.set_ylabel("Precision")
    ax.set_xlim(0, 1.02)
    ax.set_ylim(0, 1.02)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    legend_outside(ax)
    return finish(fig, save)


# ------------------------------------------------------------------------------------------------------- images
def show_image(ax: Any, image: np.ndarray) -> None:
    """Draw one (H, W), (H, W, 1) or (H, W, 3|4) image without ticks; grey levels in :data:`IMAGE_CMAP`."""
    img = np.asarray(image)
    if img.ndim == 3 and img.shape[-1] == 1:
        img = img[..., 0]
    if img.ndim == 2:
        vmax = 1.0 if np.issubdtype(img.dtype, np.floating) else 255
        ax.imshow(img, cmap=IMAGE_CMAP, vmin=0, vmax=vmax, interpolation="nearest")
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


def plot_retrieval_gallery(
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
    fig = new_figure((1.3 * (k + 1) + 0.4, 1.55 * nq + 0.5))
    axes = fig.subplots(nq, k + 1, squeeze=False)
    for r, qi in enumerate(query_ids):
        q_label = q_split.labels[qi]
        ax = axes[r, 0]
        show_image(ax, q_split.images[qi])
        _frame(ax, "black")
        ax.set_title(f"query\n{_label_text(q_label, names)}", fontsize=8)
        for c in range(k):
            di = nbrs[r, c]
            d_label = d_split.labels[di]
            hit = bool(relevant_pairs(np.stack([q_label, d_label]), np.array([0]), np.array([1]))[0])
            ax = axes[r, c + 1]
            show_image(ax, d_split.images[di])
            _frame(ax, HIT_COLOR if hit else MISS_COLOR)
            caption = _label_text(d_label, names)
            if dist is not None:
                caption += f"\nd={int(dist[r, c])}"
            ax.set_title(caption, fontsize=7, color=HIT_COLOR if hit else MISS_COLOR)
    fig.suptitle(
        title or f"Top-{k} retrieval ({query_split} queries, {db_split} database): green hit, red miss"
    )
    return finish(fig, save)


def plot_class_samples(
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
    fig = new_figure((1.1 * per_class + 1.8, 1.1 * len(names) + 0.5))
    axes = fig.subplots(len(names), per_class, squeeze=False)
    for c, name in enumerate(names):
        members = np.flatnonzero(labels == c if labels.ndim == 1 else labels[:, c] > 0)
        chosen = rng.choice(members, size=min(per_class, len(members)), replace=False) if len(members) else []
        for col in range(per_class):
            ax = axes[c, col]
            if col < len(chosen):
                show_image(ax, data.images[chosen[col]])
            else:
                ax.axis("off")
            if col == 0:
                ax.set_ylabel(textwrap.fill(name, 18), rotation=0, ha="right", va="center", fontsize=8)
                ax.axis("on")
                ax.set_xticks([])
                ax.set_yticks([])
    fig.suptitle(title or f"{bundle.name}: samples per class ({split} split)")
    return finish(fig, save)


def plot_image_rows(
    originals: Any,
    rows: Mapping[str, Any],
    *,
    n: int | None = None,
    title: str | None = None,
    save: str | os.PathLike | None = None,
) -> Figure:
    """The first ``n`` originals in the top row and one named row per entry of ``rows`` (e.g. reconstructions).

    Images are (N, H, W) or (N, H, W, C) floats in [0, 1] (values outside are clipped) or uint8; every row must have
    the originals' image shape. Grey-level images use :data:`IMAGE_CMAP` (0 black).
    """
    named = {"original": np.asarray(originals), **{k: np.asarray(v) for k, v in rows.items()}}
    first = named["original"]
    if first.ndim not in (3, 4) or len(first) == 0:
        raise ValueError(f"originals must be a non-empty (N, H, W[, C]) image array, got shape {first.shape}")
    n = len(first) if n is None else min(int(n), len(first))
    for label, images in named.items():
        if images.ndim != first.ndim or images.shape[1:] != first.shape[1:] or len(images) < n:
            raise ValueError(
                f"{label!r} images must have the originals' image shape {first.shape[1:]} and at least {n} "
                f"images, got shape {images.shape}"
            )
    fig = new_figure((0.8 * n + 1.8, 0.85 * len(named) + 0.4))
    axes = fig.subplots(len(named), n, squeeze=False)
    for r, (label, images) in enumerate(named.items()):
        for c in range(n):
            image = images[c]
            if np.issubdtype(image.dtype, np.floating):
                image = np.clip(image, 0.0, 1.0)
            show_image(axes[r, c], image)
        axes[r, 0].set_ylabel(textwrap.fill(label, 22), rotation=0, ha="right", va="center", fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    return finish(fig, save)
