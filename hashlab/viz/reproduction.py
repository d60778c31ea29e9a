"""Reproduction figures and tables: a metric against code length per method, thesis values beside ours."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import pandas as pd
import seaborn as sns

from hashlab.viz.style import (
    HIT_COLOR,
    MISS_COLOR,
    PALETTE,
    Figure,
    finish,
    legend_below,
    legend_outside,
    new_figure,
)

if TYPE_CHECKING:  # pragma: no cover
    from pandas.io.formats.style import Styler

__all__ = ["plot_metric_vs_bits", "thesis_vs_ours_table"]


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


def plot_metric_vs_bits(
    results: Any,
    *,
    metric: str = "knn_acc",
    baseline: float | None = None,
    baseline_label: str = "raw embeddings (Euclidean KNN)",
    thesis: Any = None,
    thesis_panel: bool = False,
    thesis_label: str = "thesis",
    ylabel: str | None = None,
    title: str | None = None,
    percent: bool = False,
    save: str | os.PathLike | None = None,
) -> Figure:
    """Metric against code length, one line per method (the thesis's Figs. 20, 21, 26, 27).

    ``results``: long table with columns ``method``, ``bits`` and ``metric`` (DataFrame or list of dicts), or a
    mapping ``{method: {bits: value}}``. Several rows per (method, bits) (seeds, repeats) are drawn as their mean with
    ±1 sample sd (ddof = 1) error bars; a single row as a plain point. ``baseline`` draws a horizontal line (raw-embedding KNN). ``thesis``, in the
    same formats, adds the published values as dashed lines in the same colour per method: on the same panel, or
    (``thesis_panel=True``, for results on another dataset, which are not comparable point by point) on a panel of
    their own named ``thesis_label``. ``percent`` multiplies our values by 100 (thesis tables are in %); give
    ``thesis`` on the same scale as the plot.
    """
    frame = _long_table(results, metric)
    frame = frame.assign(
        bits=frame["bits"].astype(int), value=frame[metric].astype(float) * (100 if percent else 1)
    )
    ref = _long_table(thesis, metric) if thesis is not None else None
    methods = list(dict.fromkeys([*frame["method"], *(ref["method"] if ref is not None else [])]))
    colors = dict(zip(methods, sns.color_palette(PALETTE, n_colors=max(len(methods), 1)), strict=False))
    two = ref is not None and thesis_panel
    fig = new_figure((10.4 if two else 6.8, 4.0))
    axes = fig.subplots(1, 2 if two else 1, squeeze=False, sharey=two)[0]
    ax = axes[0]
    spread = frame.groupby(["method", "bits"], sort=False)["value"].agg(["mean", "std", "size"]).reset_index()
    for method in dict.fromkeys(frame["method"]):
        sub = spread[spread["method"] == method].sort_values("bits")
        if (sub["size"] > 1).any():
            ax.errorbar(
                sub["bits"],
                sub["mean"],
                yerr=sub["std"].fillna(0.0),
                marker="o",
                capsize=3,
                color=colors[method],
                label=f"{method} (mean ± sd)",
            )
        else:
            ax.plot(sub["bits"], sub["mean"], marker="o", color=colors[method], label=method)
    if ref is not None:
        target = axes[1] if two else ax
        for method in dict.fromkeys(ref["method"]):
            sub = ref[ref["method"] == method].sort_values("bits")
            target.plot(
                sub["bits"].astype(int),
                sub[metric].astype(float),
                linestyle="--",
                marker="x",
                color=colors.get(method, "grey"),
                alpha=0.8,
                label=method if two else f"{method} (thesis)",
            )
        if two:
            target.set_xticks(sorted(ref["bits"].astype(int).unique()))
            target.set_title(f"{thesis_label} (dashed, same colour per method)", fontsize=10)
    if baseline is not None:
        ax.axhline(
            float(baseline) * (100 if percent else 1), color="black", linestyle=":", label=baseline_label
        )
    ax.set_xticks(sorted(frame["bits"].unique()))
    label = ylabel or (f"{metric} (%)" if percent else metric)
    for a in axes:
        a.set_xlabel("Code length (bits)")
        a.grid(alpha=0.3)
    ax.set_ylabel(label)
    if two:
        ax.set_title("measured here", fontsize=10)
        fig.suptitle(title or f"{label} vs code length")
    else:
        ax.set_title(title or f"{label} vs code length")
    if two:  # one legend under both panels: a method has the same colour in each
        legend_below(fig, [ax])
    else:
        legend_outside(ax)
    return finish(fig, save)


def thesis_vs_ours_table(
    ours: pd.DataFrame,
    thesis: pd.DataFrame,
    *,
    styled: bool = True,
    precision: int = 2,
    na_rep: str = "n/a",
) -> pd.DataFrame | Styler:
    """Side-by-side table: for every column of ``thesis`` (e.g. a bit length) the thesis value, ours and the delta.

    ``ours`` and ``thesis`` are indexed the same way (e.g. methods as rows, bit lengths as columns) on the same scale
    (both %, say). Cells missing in ``ours`` stay NaN. Returns a DataFrame with column MultiIndex
    ``(column, {"thesis", "ours", "delta"})`` where delta = ours - thesis, or (``styled=True``) a pandas ``Styler``
    that rounds to ``precision`` decimals, shows missing cells as ``na_rep`` and colours deltas (green above the
    thesis, red below).
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

    return table.style.format(precision=precision, na_rep=na_rep).map(_color, subset=delta_cols)
