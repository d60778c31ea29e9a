"""Plots for notebook 02: metrics against bits per method, and reconstruction grids."""

from __future__ import annotations

from typing import Any

import numpy as np

from hashlab.autoencoder.comparison import METHOD_LABELS
from hashlab.autoencoder.images import images_to_tensor

__all__ = ["plot_comparison", "plot_reconstructions"]


def plot_comparison(table: Any, meta: dict[str, Any] | None = None) -> Any:
    """mAP, P@100 and ms per query against bits for every method; the float KNN ceiling as a dashed line."""
    from matplotlib.figure import Figure

    metrics = [c for c in ("map", "p@100", "ms_per_query") if c in table.columns]
    fig = Figure(figsize=(4.8 * len(metrics), 4.4))
    axes = np.atleast_1d(fig.subplots(1, len(metrics)))
    ceiling = table[table["method"] == "float_knn"]
    for ax, metric in zip(axes, metrics, strict=True):
        for method, group in table[table["method"] != "float_knn"].groupby("method", sort=False):
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
        ax.set_xlabel("bits")
        ax.set_ylabel(metric)
        ax.set_title(metric)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=4, fontsize=8, frameon=False)
    if meta:
        fig.suptitle(
            f"{meta.get('dataset')}: {meta.get('n_queries')} test queries vs {meta.get('n_database')} train"
        )
    fig.tight_layout(rect=(0, 0.14, 1, 1))
    return fig


def plot_reconstructions(images: Any, rows: dict[str, np.ndarray], n: int = 8) -> Any:
    """Grid: the first ``n`` images (top row) and one row per entry of ``rows`` (name -> reconstructions)."""
    from matplotlib.figure import Figure

    x = images_to_tensor(images).permute(0, 2, 3, 1).numpy()
    n = min(n, len(x))
    all_rows = {"original": x, **rows}
    fig = Figure(figsize=(1.1 * n + 2.0, 1.2 * len(all_rows)))
    axes = fig.subplots(len(all_rows), n, squeeze=False)
    for r, (name, imgs) in enumerate(all_rows.items()):
        for c in range(n):
            img = np.clip(imgs[c], 0, 1)
            axes[r, c].imshow(img[..., 0] if img.shape[-1] == 1 else img, cmap="gray", vmin=0, vmax=1)
            axes[r, c].set_xticks([])
            axes[r, c].set_yticks([])
        axes[r, 0].set_ylabel(name, rotation=0, ha="right", va="center", fontsize=8)
    fig.tight_layout()
    return fig
