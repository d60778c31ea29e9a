"""Continual-hashing figures (notebook 06): R[t, j] heatmaps, cost vs mAP, code stability, drift, chunk sweep."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from matplotlib.lines import Line2D

from hashlab.viz.style import CMAP, Figure, finish, integer_ticks, legend_outside, new_figure

if TYPE_CHECKING:  # pragma: no cover
    from hashlab.continual.learner import ContinualResult

__all__ = ["plot_chunk_sweep", "plot_code_stability", "plot_cost_vs_map", "plot_drift", "plot_map_matrices"]


def plot_map_matrices(
    results: Mapping[str, ContinualResult], *, save: str | os.PathLike | None = None
) -> Figure:
    """One heatmap per strategy of ``R[t, j]`` (rows: after task t; columns: queries of task j), one colour bar."""
    if not results:
        raise ValueError("no results to plot")
    n = len(results)
    cols = min(4, n)
    rows = int(np.ceil(n / cols))
    fig = new_figure((3.1 * cols + 0.8, 2.9 * rows))
    axes = fig.subplots(rows, cols, squeeze=False)
    for ax, res in zip(axes.ravel(), results.values(), strict=False):
        r = res.R
        im = ax.imshow(np.ma.masked_invalid(r), vmin=0, vmax=1, cmap=CMAP)
        for t, j in zip(*np.where(np.isfinite(r)), strict=True):
            ax.text(
                j,
                t,
                f"{r[t, j]:.2f}",
                ha="center",
                va="center",
                fontsize=8,
                color="white" if r[t, j] < 0.6 else "black",
            )
        names = ["-".join(map(str, (min(c), max(c)))) if len(c) > 1 else str(c[0]) for c in res.tasks]
        ax.set_xticks(range(len(names)), names, fontsize=8)
        ax.set_yticks(range(len(names)), [f"after {x}" for x in names], fontsize=8)
        ax.set_title(f"{res.strategy}\nF={res.forgetting:.2f} BWT={res.bwt:+.2f}", fontsize=9)
        ax.set_xlabel("queries of task", fontsize=8)
    for ax in axes.ravel()[n:]:
        ax.set_visible(False)
    fig.colorbar(im, ax=axes, shrink=0.7, label="mAP")
    return finish(fig, save)


def plot_cost_vs_map(table: pd.DataFrame, *, save: str | os.PathLike | None = None) -> Figure:
    """Update training time (relative to full retrain) against final all-class and old-class mAP.

    One colour per strategy (named in the legend, never written over the points); a circle is the all-class mAP,
    a triangle the old-class mAP of the same strategy.
    """
    need = {"time_vs_full", "final_all_map", "final_old_map"}
    if not need <= set(table.columns):
        raise ValueError(f"the summary table lacks columns {sorted(need - set(table.columns))}")
    fig = new_figure((7.4, 4.0))
    ax = fig.subplots()
    handles = []
    for i, (name, row) in enumerate(table.iterrows()):
        color = f"C{i % 10}"
        ax.scatter(row["time_vs_full"], row["final_all_map"], s=60, color=color, zorder=3)
        ax.scatter(row["time_vs_full"], row["final_old_map"], s=45, marker="^", color=color, zorder=3)
        ax.plot(
            [row["time_vs_full"]] * 2,
            [row["final_old_map"], row["final_all_map"]],
            color=color,
            lw=0.8,
            alpha=0.6,
        )
        handles.append(Line2D([], [], color=color, marker="s", ls="", label=str(name)))
    handles += [
        Line2D([], [], color="grey", marker="o", ls="", label="all classes"),
        Line2D([], [], color="grey", marker="^", ls="", label="old classes"),
    ]
    ax.set_xlabel("update training time / full retrain")
    ax.set_ylabel("mAP after the last task")
    ax.set_ylim(0, 1.02)
    ax.set_title("Cost against retrieval quality")
    ax.grid(alpha=0.3)
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=8, frameon=False)
    return finish(fig, save)


def plot_code_stability(
    results: Mapping[str, ContinualResult], *, save: str | os.PathLike | None = None
) -> Figure:
    """Per strategy and update: fraction of stored codes the updated model would change, and mean bit flips."""
    if not results:
        raise ValueError("no results to plot")
    names = list(results)
    updates = len(next(iter(results.values())).stability) - 1
    fig = new_figure((10.0, 3.8))
    ax1, ax2 = fig.subplots(1, 2)
    width = 0.8 / max(updates, 1)
    x = np.arange(len(names))
    for u in range(1, updates + 1):
        frac = [results[n].stability[u]["fraction_changed"] for n in names]
        ax1.bar(x + (u - 1) * width, frac, width, label=f"update {u}")
        ax2.bar(
            x + (u - 1) * width,
            [results[n].stability[u]["mean_bit_flips"] for n in names],
            width,
            label=f"update {u}",
        )
    for ax, title in ((ax1, "stored codes that re-encoding would change"), (ax2, "mean bit flips per item")):
        ax.set_xticks(
            x + width * (updates - 1) / 2,
            [results[n].strategy for n in names],
            rotation=35,
            ha="right",
            fontsize=8,
        )
        ax.set_title(title, fontsize=10)
        ax.grid(axis="y", alpha=0.3)
    ax1.set_ylim(0, 1.02)
    legend_outside(ax2)
    return finish(fig, save)


def plot_drift(monitor: pd.DataFrame, *, save: str | os.PathLike | None = None) -> Figure:
    """MMD² per window with the permutation threshold, alarms marked, shifted windows shaded."""
    fig = new_figure((7.6, 3.4))
    ax = fig.subplots()
    ax.plot(monitor["window"], monitor["mmd2"], "o-", label="MMD² vs reference")
    ax.plot(monitor["window"], monitor["threshold"], "k--", label="threshold (1-α null quantile)")
    alarms = monitor[monitor["alarm"]]
    ax.scatter(alarms["window"], alarms["mmd2"], s=140, facecolors="none", edgecolors="red", label="alarm")
    for k, w in enumerate(monitor.loc[monitor["shifted"], "window"]):
        ax.axvspan(w - 0.5, w + 0.5, color="orange", alpha=0.15, label="inputs shifted" if k == 0 else None)
    ax.set_xlabel("window")
    integer_ticks(ax, "x")
    ax.set_ylabel("MMD²")
    ax.set_title("Drift monitor")
    legend_outside(ax)
    ax.grid(alpha=0.3)
    return finish(fig, save)


def plot_chunk_sweep(sweep: pd.DataFrame, *, save: str | os.PathLike | None = None) -> Figure:
    """Training-time and gradient savings of the lifelong update vs chunk share, with the 80 % saving claimed by
    Xu et al. (2023, Deep Lifelong Cross-modal Hashing) and the equal-epoch expectation ``1 - chunk share``."""
    fig = new_figure((7.6, 3.6))
    ax = fig.subplots()
    share = sweep["chunk_share"]
    ax.plot(share, sweep["time_saving"], "o-", label="wall-time saving")
    ax.plot(share, sweep["gradient_saving"], "s-", label="sample-gradient saving")
    grid = np.linspace(0, max(0.6, float(share.max()) + 0.05), 50)
    ax.plot(grid, 1 - grid, ":", color="grey", label="1 - chunk share")
    ax.axhline(0.8, color="red", lw=1, label="claimed: 80 % (Xu et al. 2023)")
    ax.set_xlabel("new chunk / accumulated training data")
    ax.set_ylabel("saving vs full retrain")
    ax.set_ylim(0, 1)
    ax.set_title("Savings of the lifelong update")
    legend_outside(ax)
    ax.grid(alpha=0.3)
    return finish(fig, save)
