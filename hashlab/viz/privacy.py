"""Privacy figures (notebook 08): what an inversion attack recovers from codes, against bits and references."""

from __future__ import annotations

import os

import pandas as pd

from hashlab.viz.style import Figure, finish, integer_ticks, legend_below, new_figure

__all__ = ["plot_leakage"]

_REFERENCE_LINES = {
    "reid": [("class mean", "tab:green", ":", "label only (class mean)")],
    "cosine": [("class mean", "tab:green", ":", "label only (class mean)")],
    "label_acc": [("mean", "grey", "-.", "majority class")],
}


def plot_leakage(
    frame: pd.DataFrame, *, title: str | None = None, save: str | os.PathLike | None = None
) -> Figure:
    """Re-identification, cosine similarity and label accuracy vs bits, with the raw, random and chance references.

    ``frame`` is ``hashlab.privacy.attack_frame`` of an attack sweep. With an ``epochs`` column (sweeps of heads
    trained for different lengths, concatenated), the codes get one line per value; the references, which do not
    depend on the heads, are drawn from the first group. One legend under the three panels.
    """
    needed = {"attack", "bits", "reid", "cosine", "label_acc", "chance"}
    if not needed <= set(frame.columns):
        raise ValueError(f"plot_leakage needs columns {sorted(needed)}, got {sorted(frame.columns)}")
    groups = list(frame.groupby("epochs", sort=True)) if "epochs" in frame.columns else [(None, frame)]
    first = groups[0][1]
    refs = first.set_index("attack")
    fig = new_figure((12, 3.9))
    axes = fig.subplots(1, 3)
    for ax, metric, label in zip(
        axes,
        ("reid", "cosine", "label_acc"),
        ("re-identification rate", "cosine(reconstruction, input)", "label accuracy from codes"),
        strict=True,
    ):
        for epochs, part in groups:
            codes = part[part["attack"] == "codes"].sort_values("bits")
            name = "codes" if epochs is None else f"codes, {epochs} epochs"
            ax.plot(codes["bits"], codes[metric], "o-", label=name)
        rand = first[first["attack"] == "random codes"].sort_values("bits")
        ax.plot(rand["bits"], rand[metric], "s--", color="tab:red", label="random codes")
        if "raw" in refs.index and pd.notna(refs.loc["raw", metric]):
            ax.axhline(refs.loc["raw", metric], color="black", ls=":", label="raw features (upper bound)")
        if metric == "reid":
            ax.axhline(float(first["chance"].iloc[0]), color="grey", ls="-.", label="chance 1/N")
        for attack, color, style, text in _REFERENCE_LINES[metric]:
            if attack in refs.index and pd.notna(refs.loc[attack, metric]):
                ax.axhline(refs.loc[attack, metric], color=color, ls=style, label=text)
        ax.set_xlabel("code length L (bits)")
        integer_ticks(ax, "x")
        ax.set_ylabel(label)
        ax.set_title(label, fontsize=10)
        ax.grid(alpha=0.3)
    legend_below(fig, axes)
    if title:
        fig.suptitle(title)
    return finish(fig, save)
