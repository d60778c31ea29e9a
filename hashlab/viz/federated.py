"""Federated-hashing figures (notebook 07): label histogram per client, mAP against rounds with reference lines."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from hashlab.viz.style import Figure, finish, integer_ticks, legend_outside, new_figure

__all__ = ["plot_map_vs_rounds", "plot_partition"]


def plot_partition(
    counts: Mapping[str, np.ndarray],
    class_names: Sequence[str],
    *,
    save: str | os.PathLike | None = None,
) -> Figure:
    """One panel per partition: stacked bars of each client's items by class (``counts[name]``: clients × classes)."""
    if not counts:
        raise ValueError("no partitions to plot")
    fig = new_figure((3.4 * len(counts) + 1.4, 3.0))
    axes = fig.subplots(1, len(counts), squeeze=False, sharey=True)[0]
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
        ax.set_title(str(name), fontsize=10)
    axes[0].set_ylabel("training items")
    legend_outside(axes[-1], title="class", fontsize=7)
    return finish(fig, save)


def plot_map_vs_rounds(
    histories: Mapping[str, pd.DataFrame],
    references: Mapping[str, float] | None = None,
    metric: str = "map",
    title: str | None = None,
    *,
    save: str | os.PathLike | None = None,
) -> Figure:
    """``metric`` of the server model per round, one line per run; ``references`` as horizontal dashed lines."""
    if not histories:
        raise ValueError("no histories to plot")
    fig = new_figure((7.4, 3.6))
    ax = fig.subplots()
    for name, frame in histories.items():
        if metric not in frame or "round" not in frame:
            raise KeyError(f"{name}: history has no {metric!r} or 'round' column")
        ax.plot(frame["round"], frame[metric], marker="o", ms=3, label=name)
    for i, (name, value) in enumerate((references or {}).items()):
        ax.axhline(value, ls="--", color=f"C{len(histories) + i}", label=name)
    ax.set_xlabel("round")
    integer_ticks(ax, "x")
    ax.set_ylabel(metric + " (test queries vs train database)")
    ax.set_title(title or f"{metric} against communication rounds")
    legend_outside(ax)
    ax.grid(alpha=0.3)
    return finish(fig, save)
