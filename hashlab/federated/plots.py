"""Figures for federated hashing: label histogram per client, mAP against rounds with reference lines.

Each function returns a matplotlib ``Figure`` (rendered inline in notebooks through ``hashlab.plots``) and can save
it atomically with ``save=path``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from hashlab.plots import save_figure

__all__ = ["plot_map_vs_rounds", "plot_partition"]


def _finish(fig: Figure, save: str | os.PathLike | None) -> Figure:
    if save is not None:
        save_figure(fig, save)
    return fig


def plot_partition(
    counts: Mapping[str, np.ndarray],
    class_names: Sequence[str],
    save: str | os.PathLike | None = None,
) -> Figure:
    """One panel per partition: stacked bars of each client's items by class (``counts[name]``: clients × classes)."""
    if not counts:
        raise ValueError("no partitions to plot")
    fig = Figure(figsize=(3.6 * len(counts), 3.0), layout="constrained")
    axes = fig.subplots(1, len(counts), squeeze=False)[0]
    colors = [f"C{c % 10}" for c in range(len(class_names))]
    for ax, (name, table) in zip(axes, counts.items(), strict=True):
        table = np.asarray(table)
        if table.ndim != 2 or table.shape[1] != len(class_names):
            raise ValueError(f"{name}: counts must be (clients, {len(class_names)}), got {table.shape}")
        bottom = np.zeros(table.shape[0])
        clients = np.arange(table.shape[0])
        for c, label in enumerate(class_names):
            ax.bar(clients, table[:, c], bottom=bottom, color=colors[c], label=str(label), width=0.8)
            bottom += table[:, c]
        ax.set_xticks(clients)
        ax.set_xlabel("client")
        ax.set_title(name)
    axes[0].set_ylabel("training items")
    axes[-1].legend(title="class", fontsize=7, bbox_to_anchor=(1.02, 1), loc="upper left")
    return _finish(fig, save)


def plot_map_vs_rounds(
    histories: Mapping[str, pd.DataFrame],
    references: Mapping[str, float] | None = None,
    metric: str = "map",
    title: str | None = None,
    save: str | os.PathLike | None = None,
) -> Figure:
    """``metric`` of the server model per round, one line per run; ``references`` as horizontal dashed lines."""
    if not histories:
        raise ValueError("no histories to plot")
    fig = Figure(figsize=(6.4, 3.6), layout="constrained")
    ax = fig.subplots()
    for name, frame in histories.items():
        if metric not in frame or "round" not in frame:
            raise KeyError(f"{name}: history has no {metric!r} or 'round' column")
        ax.plot(frame["round"], frame[metric], marker="o", ms=3, label=name)
    for i, (name, value) in enumerate((references or {}).items()):
        ax.axhline(value, ls="--", color=f"C{len(histories) + i}", label=name)
    ax.set_xlabel("round")
    ax.set_ylabel(metric + " (test queries vs train database)")
    ax.set_title(title or f"{metric} against communication rounds")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return _finish(fig, save)
