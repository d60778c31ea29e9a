"""Margin figures (notebook 05): margin schedules per step, Hamming histograms per margin, the burst simulation."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import pandas as pd

from hashlab.viz.retrieval import plot_hamming_histogram
from hashlab.viz.style import Figure, finish, integer_ticks, legend_outside, new_figure

if TYPE_CHECKING:  # pragma: no cover
    from hashlab.experiment import ExperimentResult

__all__ = ["plot_burst", "plot_margin_histograms", "plot_margin_schedules"]


def plot_margin_schedules(
    margins: pd.DataFrame, bits: int, *, title: str | None = None, save: str | os.PathLike | None = None
) -> Figure:
    """The margin each schedule used per training step, in Hamming bits (DSH units / 4)."""
    fig = new_figure((8.4, 3.4))
    ax = fig.subplots()
    for name in margins.columns:
        ax.plot(margins.index, margins[name] / 4.0, label=name, lw=1.5)
    ax.set_xlabel("training step")
    ax.set_ylabel(f"batch-mean margin (bits of {bits})")
    ax.set_title(title or "Margin schedules")
    ax.grid(alpha=0.3)
    legend_outside(ax, title="schedule")
    return finish(fig, save)


def plot_margin_histograms(
    results: Mapping[Any, ExperimentResult],
    split: str = "test",
    *,
    title: str | None = None,
    save: str | os.PathLike | None = None,
) -> Figure:
    """Same- vs different-class Hamming histograms, one panel per result, named by its key and test mAP."""
    if not results:
        raise ValueError("no results to plot")
    first = next(iter(results.values()))
    codes = {f"{k} (mAP {res.metrics['map']:.2f})": res.codes[split] for k, res in results.items()}
    return plot_hamming_histogram(codes, first.labels[split], title=title, save=save)


def plot_burst(result: Any, *, title: str | None = None, save: str | os.PathLike | None = None) -> Figure:
    """Mean database margin per cycle for each controller; burst cycles shaded, sustained change marked.

    ``result`` is a ``BurstResult`` of the burst simulation in notebook 05 (``trajectories``, ``burst``, ``shift_at``).

    The undamped per-cycle target is drawn last, as a thin black dashed line, so no controller hides it.
    """
    fig = new_figure((8.6, 3.6))
    ax = fig.subplots()
    traj = result.trajectories
    for name in [c for c in traj.columns if c != "target" and not c.startswith("moved_")]:
        ax.plot(traj.index, traj[name], marker="o", ms=3, lw=1.5, label=name)
    ax.plot(traj.index, traj["target"], color="black", lw=1, ls="--", zorder=5, label="target (per cycle)")
    a, b = result.burst
    ax.axvspan(a - 0.5, b - 0.5, color="red", alpha=0.12, label="burst of near-duplicates")
    if result.shift_at is not None:
        ax.axvline(result.shift_at - 0.5, color="purple", ls=":", lw=1.5, label="sustained change starts")
    ax.set_xlabel("update cycle")
    integer_ticks(ax, "x")
    ax.set_ylabel("mean margin of database items (x m0)")
    ax.set_title(title or "Margin trajectories under a burst and a sustained change")
    ax.grid(alpha=0.3)
    legend_outside(ax)
    return finish(fig, save)
