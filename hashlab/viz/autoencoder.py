"""Autoencoder-hashing figures (notebook 02): metrics against bits per method, reconstruction grids."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from hashlab.viz.retrieval import plot_image_rows
from hashlab.viz.style import Figure, finish, legend_below, new_figure

__all__ = ["plot_autoencoder_comparison", "plot_reconstructions"]

PANEL_NAMES = {"map": "mAP", "p@100": "precision@100", "ms_per_query": "ms per query"}


def plot_autoencoder_comparison(
    table: Any, meta: dict[str, Any] | None = None, *, save: str | os.PathLike | None = None
) -> Figure:
    """mAP, precision@100 and ms per query against bits for every method; the float KNN ceiling as a dashed line.

    ``table`` is ``ComparisonResult.table`` (columns ``method``, ``bits`` and the metrics), ``meta`` its ``meta``
    (dataset, query and database sizes, ``chance_map``). Bit lengths are spaced by powers of two and labelled as
    plain numbers; the legend sits under the panels.
    """
    from hashlab.autoencoder.comparison import METHOD_LABELS

    metrics = [c for c in PANEL_NAMES if c in table.columns]
    if not metrics:
        raise ValueError(f"table has none of the columns {list(PANEL_NAMES)}; it has {list(table.columns)}")
    fig = new_figure((4.3 * len(metrics), 3.8))
    axes = np.atleast_1d(fig.subplots(1, len(metrics)))
    ceiling = table[table["method"] == "float_knn"]
    coded = table[table["method"] != "float_knn"]
    bits = sorted(int(b) for b in coded["bits"].unique())
    for ax, metric in zip(axes, metrics, strict=True):
        for method, group in coded.groupby("method", sort=False):
            ax.plot(
                group["bits"].astype(int), group[metric], marker="o", label=METHOD_LABELS.get(method, method)
            )
        if len(ceiling):
            ax.axhline(
                float(ceiling[metric].iloc[0]), color="k", ls="--", lw=1, label=METHOD_LABELS["float_knn"]
            )
        if meta and metric == "map" and "chance_map" in meta:
            ax.axhline(meta["chance_map"], color="grey", ls=":", lw=1, label="chance")
        ax.set_xscale("log", base=2)
        ax.set_xticks(bits, [str(b) for b in bits])
        ax.minorticks_off()
        ax.set_xlabel("bits")
        ax.set_ylabel(PANEL_NAMES[metric])
        ax.set_title(PANEL_NAMES[metric], fontsize=10)
        ax.grid(alpha=0.3)
    legend_below(fig, axes)
    if meta:
        fig.suptitle(
            f"{meta.get('dataset')}: {meta.get('n_queries')} test queries vs {meta.get('n_database')} train"
        )
    return finish(fig, save)


def plot_reconstructions(
    images: Any,
    rows: dict[str, np.ndarray],
    n: int = 8,
    *,
    title: str | None = None,
    save: str | os.PathLike | None = None,
) -> Figure:
    """The first ``n`` images (top row) and one row per entry of ``rows`` (name -> reconstructions (N, H, W, C)).

    ``images`` are raw uint8 or float images in any layout :func:`hashlab.autoencoder.images_to_tensor` accepts.
    """
    from hashlab.data.images import images_to_tensor

    originals = images_to_tensor(images).permute(0, 2, 3, 1).numpy()
    return plot_image_rows(originals, rows, n=n, title=title, save=save)
