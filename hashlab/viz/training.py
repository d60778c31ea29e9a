"""Training figures: loss and validation metrics per epoch."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from hashlab.viz.style import Figure, finish, integer_ticks, legend_outside, new_figure

__all__ = ["plot_training_curves"]


def plot_training_curves(
    history: Sequence[Mapping[str, Any]],
    *,
    keys: Sequence[str] | None = None,
    title: str = "Training curves",
    save: str | os.PathLike | None = None,
) -> Figure:
    """Per-epoch curves from a history list of dicts (``ExperimentResult.history``).

    Keys containing "loss" go on the left panel ("loss"), every other numeric key (``val_map``, ``val_knn_acc`` ...)
    on the right ("validation metric"). ``keys`` restricts what is drawn. The x axis is the ``epoch`` entry when
    present, else the list position.
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
    fig = new_figure((5.2 * len(panels) + 0.6, 3.4))
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, cols in zip(axes, panels, strict=True):
        for col in cols:
            ok = frame[col].notna()
            ax.plot(x[ok], frame.loc[ok, col], marker=".", label=col)
        ax.set_xlabel("epoch")
        integer_ticks(ax, "x")
        name = "loss" if cols is losses else "validation metric"
        ax.set_ylabel(name)
        ax.set_title(name, fontsize=10)
        ax.grid(alpha=0.3)
        legend_outside(ax)
    fig.suptitle(title)
    return finish(fig, save)
