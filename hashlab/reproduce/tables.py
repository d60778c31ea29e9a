"""Tables 3-6: our numbers beside the thesis's values, with the deltas that are comparable, as frames, CSV and
markdown. With several seeds a (method, bits) row shows the mean, the sample standard deviation (ddof = 1) and n;
the thesis value sits beside the mean with the delta and whether it lies within 2 sd of it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from hashlab import thesis
from hashlab.files import atomic_write
from hashlab.reproduce.grid import CellResult, grid_frame, timing_cells
from hashlab.reproduce.presets import THESIS_KNN_K

DIFFERENT_DATASET = "n/a — different dataset"
ONE_SEED = "n/a — one seed"
NO_THESIS_VALUE = "n/a — no thesis value"


def seed_spread(cells: dict[tuple[Any, ...], CellResult]) -> pd.DataFrame:
    """Per (method, bits): ``n`` (seeds), mean and sample sd (ddof = 1; NaN for one seed) of every test metric
    (``knn_acc``, ``map``, ``map@k`` ...), and ``train_seconds`` (mean) with ``n_timed`` over the cells of
    :func:`~hashlab.reproduce.grid.timing_cells` only (NaN when none of them was trained in that run)."""
    frame = grid_frame(cells)
    if frame.empty:
        return pd.DataFrame(columns=["method", "bits", "n"])
    metrics = [c for c in frame.columns if c in ("knn_acc", "map") or str(c).startswith("map@")]
    grouped = frame.groupby(["method", "bits"], sort=False)
    out = grouped.size().rename("n").to_frame()
    for metric in metrics:
        out[f"{metric}_mean"] = grouped[metric].mean()
        out[f"{metric}_sd"] = grouped[metric].std(ddof=1)
    timed = grid_frame(timing_cells(cells))
    timed_groups = timed.groupby(["method", "bits"], sort=False)["train_seconds"]
    out["train_seconds"] = timed_groups.mean()
    out["n_timed"] = timed_groups.size()
    out["n_timed"] = out["n_timed"].fillna(0).astype(int)
    return out.reset_index()


def training_time_table(cells: dict[tuple[Any, ...], CellResult]) -> pd.DataFrame:
    """Training seconds per cell (training epochs alone), mean over seeds, per method (rows) and bits (columns),
    with the mean over all timed cells of the method: cells of one run only (see ``seed_spread``)."""
    timed = grid_frame(timing_cells(cells))
    if timed.empty:
        return pd.DataFrame()
    wide = timed.pivot_table(
        index="label", columns="bits", values="train_seconds", aggfunc="mean", sort=False
    )
    wide.columns = [f"{b} bits (s)" for b in wide.columns]
    wide["mean per cell (s)"] = timed.groupby("label", sort=False)["train_seconds"].mean()
    wide["cells timed"] = timed.groupby("label", sort=False).size()
    wide.index.name = "method"
    return wide.reset_index()


def _within_two_sd(mean: float, sd: float, n: int, thesis_value: float, comparable: bool) -> str:
    if not comparable:
        return DIFFERENT_DATASET
    if not np.isfinite(thesis_value):
        return NO_THESIS_VALUE
    if n < 2 or not np.isfinite(sd):
        return ONE_SEED
    return "yes" if abs(mean - thesis_value) <= 2 * sd else "no"


def thesis_dataset_for(dataset: str) -> str | None:
    """The thesis dataset our ``dataset`` is compared against directly (cifar10 / pathmnist), else None."""
    d = thesis.normalize_dataset(dataset)
    return d if d in thesis.THESIS_DATASETS else None


def table3(baseline: pd.DataFrame, dataset: str, reference: str = "pathmnist") -> pd.DataFrame:
    """Table 3: raw-embedding KNN accuracy (fraction) per k; thesis (PathMNIST) beside ours on val and test."""
    same = thesis_dataset_for(dataset) == "pathmnist"
    rows = []
    for k in sorted(baseline["k"].unique()):
        sel = baseline[baseline["k"] == k].set_index("split")["knn_acc"]
        try:
            t = thesis.thesis_value(3, "raw_knn", reference, k=int(k))
        except KeyError:
            t = float("nan")
        ours_val = float(sel.get("val", np.nan))
        rows.append(
            {
                "k": int(k),
                "thesis (pathmnist)": t,
                "ours val": ours_val,
                "ours test": float(sel.get("test", np.nan)),
                "delta val - thesis": ours_val - t if same else float("nan"),
            }
        )
    return pd.DataFrame(rows)


def table4(baseline: pd.DataFrame, dataset: str, backbone: str, k: int = THESIS_KNN_K) -> pd.DataFrame:
    """Table 4: raw-embedding KNN accuracy (%) at k on test queries; thesis rows for both of its datasets."""
    ours = baseline[(baseline["split"] == "test") & (baseline["k"] == k)]["knn_acc"]
    ours_pct = float(ours.iloc[0]) * 100 if len(ours) else float("nan")
    rows = []
    for d in thesis.THESIS_DATASETS:
        rows.append(
            {
                "dataset": d,
                "encoder": "ViT-B/16 (thesis)",
                "thesis (%)": thesis.thesis_value(4, "raw_knn", d),
                "ours (%)": ours_pct if thesis_dataset_for(dataset) == d else float("nan"),
            }
        )
    if thesis_dataset_for(dataset) is None:
        rows.append(
            {"dataset": dataset, "encoder": backbone, "thesis (%)": float("nan"), "ours (%)": ours_pct}
        )
    else:
        for r in rows:
            if r["dataset"] == thesis_dataset_for(dataset):
                r["encoder"] = f"ViT-B/16 (thesis) / {backbone} (ours)"
    frame = pd.DataFrame(rows)
    frame["delta (pp)"] = frame["ours (%)"] - frame["thesis (%)"]
    return frame


def method_table_frame(
    table: int,
    cells: dict[tuple[Any, ...], CellResult],
    dataset: str,
    raw_acc: float,
    reference: str | None = None,
) -> pd.DataFrame:
    """Table 5 (pairwise) or 6 (triplet / centre): per method and bits, the thesis (%) beside our mean (%) over
    seeds, its sd (pp, ddof = 1) and n, the delta and whether the thesis value lies within 2 sd of our mean.

    ``cells`` may hold one or several seeds per (method, bits) (``run_grid`` with ``seeds``). ``reference``: the
    thesis dataset whose column is shown (default: ``dataset`` if the thesis has it, else PathMNIST). ``delta vs
    thesis`` and ``thesis within 2 sd`` read "n/a — different dataset" when the datasets differ (never NaN), and
    the latter "n/a — one seed" for n = 1. With one seed everywhere the table is as without seeds: the sd columns
    and ``thesis within 2 sd`` are left out (n = 1 is shown). ``thesis - thesis raw`` and ``ours - ours raw`` (hashed minus
    raw-embedding KNN, in points) are comparable across datasets. ``train s``: mean training seconds over the
    cells of one run (``seed_spread``).
    """
    same = thesis_dataset_for(dataset)
    ref = reference or same or "pathmnist"
    comparable = same == ref
    thesis_raw = thesis.thesis_value(4, "raw_knn", ref)
    spread = seed_spread({k: c for k, c in cells.items() if thesis.method_table(c.method) == table})
    rows = []
    for rec in spread.to_dict("records"):
        method, b = rec["method"], int(rec["bits"])
        try:
            t = thesis.thesis_value(table, method, ref, b)
        except KeyError:
            t = float("nan")
        mean, sd = 100.0 * float(rec["knn_acc_mean"]), 100.0 * float(rec["knn_acc_sd"])
        delta: Any = (mean - t if np.isfinite(t) else NO_THESIS_VALUE) if comparable else DIFFERENT_DATASET
        rows.append(
            {
                "method": thesis.method_label(method),
                "bits": b,
                "n": int(rec["n"]),
                f"thesis {ref} (%)": t,
                "ours (%)": mean,
                "ours sd (pp)": sd,
                "delta vs thesis (pp)": delta,
                "thesis within 2 sd": _within_two_sd(mean, sd, int(rec["n"]), t, comparable),
                "thesis - thesis raw (pp)": t - thesis_raw,
                "ours - ours raw (pp)": mean - 100.0 * raw_acc,
                "ours mAP": rec.get("map_mean", float("nan")),
                "ours mAP sd": rec.get("map_sd", float("nan")),
                **{
                    f"ours {k[: -len('_mean')]}": v
                    for k, v in rec.items()
                    if str(k).startswith("map@") and str(k).endswith("_mean")
                },
                "train s": rec["train_seconds"],
            }
        )
    columns = ["method", "bits", "n", f"thesis {ref} (%)", "ours (%)", "ours sd (pp)", "delta vs thesis (pp)"]
    columns += ["thesis within 2 sd", "thesis - thesis raw (pp)", "ours - ours raw (pp)", "ours mAP"]
    columns += ["ours mAP sd", "train s"]
    frame = pd.DataFrame(rows) if rows else pd.DataFrame(columns=columns)
    if rows and (frame["n"] == 1).all():  # one seed: no spread to show
        frame = frame.drop(columns=["ours sd (pp)", "thesis within 2 sd", "ours mAP sd"])
    return frame


def to_markdown(frame: pd.DataFrame, digits: int = 2) -> str:
    """A GitHub-flavoured markdown table (NaN shown as "-")."""

    def fmt(v: Any) -> str:
        if isinstance(v, float | np.floating):
            return "-" if not np.isfinite(v) else f"{v:.{digits}f}"
        return str(v)

    header = "| " + " | ".join(str(c) for c in frame.columns) + " |"
    rule = "|" + "|".join("---" for _ in frame.columns) + "|"
    body = ["| " + " | ".join(fmt(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([header, rule, *body]) + "\n"


def _write_table(
    out: Path, name: str, frame: pd.DataFrame, title: str, note: str, digits: int = 2
) -> dict[str, str]:
    csv_path, md_path = out / f"{name}.csv", out / f"{name}.md"
    with atomic_write(csv_path) as tmp:
        frame.to_csv(tmp, index=False)
    with atomic_write(md_path) as tmp:
        tmp.write_text(f"# {title}\n\n{note}\n\n{to_markdown(frame, digits)}")
    return {"csv": str(csv_path), "md": str(md_path)}


def ours_vs_thesis(table: int, cells: dict[tuple[Any, ...], CellResult], dataset: str) -> pd.DataFrame:
    """Table 5 or 6 side by side (``hashlab.viz.thesis_vs_ours_table`` layout): thesis (%) / ours (%, mean over
    seeds) / delta per bit length we ran, methods as rows. For a non-thesis dataset the thesis column is
    PathMNIST's, for reference only, and the deltas are left empty."""
    from hashlab import viz

    ref = thesis_dataset_for(dataset) or "pathmnist"
    wide = thesis.thesis_wide(table, ref)
    ours = pd.DataFrame(
        [{"method": c.method, "bits": int(c.bits), "acc": 100 * c.metrics["knn_acc"]} for c in cells.values()]
    )
    ours = ours[ours["method"].isin(wide.index)].pivot_table(
        index="method", columns="bits", values="acc", aggfunc="mean"
    )
    wide = wide.loc[[m for m in wide.index if m in ours.index]]
    columns = sorted(ours.columns)  # the code lengths we ran
    side = viz.thesis_vs_ours_table(
        ours.reindex(columns=columns), wide.reindex(columns=columns), styled=False
    )
    if thesis_dataset_for(dataset) is None:  # other datasets: a difference would not be a reproduction error
        side.loc[:, [c for c in side.columns if c[1] == "delta"]] = np.nan
    side.index = [thesis.method_label(m) for m in side.index]
    side.index.name = f"thesis: {ref}; ours: {dataset}"
    return side
