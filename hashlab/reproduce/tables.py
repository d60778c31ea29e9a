"""Tables 3-6: our numbers beside the thesis's values, with the deltas that are comparable, as frames, CSV and
markdown."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from hashlab import thesis
from hashlab.files import atomic_write
from hashlab.reproduce.cells import CellResult
from hashlab.reproduce.presets import THESIS_KNN_K


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
    cells: dict[tuple[str, int], CellResult],
    dataset: str,
    raw_acc: float,
    reference: str | None = None,
) -> pd.DataFrame:
    """Table 5 (pairwise) or 6 (triplet / centre): per method and bits, thesis (%) beside ours (%), with deltas.

    ``reference``: the thesis dataset whose column is shown (default: ``dataset`` if the thesis has it, else
    PathMNIST). ``delta vs thesis`` is only filled when the datasets agree; ``thesis - thesis raw`` and ``ours - ours
    raw`` (hashed minus raw-embedding KNN, in points) are comparable across datasets.
    """
    same = thesis_dataset_for(dataset)
    ref = reference or same or "pathmnist"
    thesis_raw = thesis.thesis_value(4, "raw_knn", ref)
    rows = []
    for (method, b), cell in cells.items():
        if thesis.method_table(method) != table:
            continue
        try:
            t = thesis.thesis_value(table, method, ref, b)
        except KeyError:
            t = float("nan")
        ours = 100.0 * float(cell.metrics["knn_acc"])
        rows.append(
            {
                "method": thesis.method_label(method),
                "bits": int(b),
                f"thesis {ref} (%)": t,
                "ours (%)": ours,
                "delta vs thesis (pp)": ours - t if same == ref else float("nan"),
                "thesis - thesis raw (pp)": t - thesis_raw,
                "ours - ours raw (pp)": ours - 100.0 * raw_acc,
                "ours mAP": cell.metrics.get("map", float("nan")),
                **{f"ours {k}": v for k, v in cell.metrics.items() if str(k).startswith("map@")},
                "train s": cell.train_seconds,
            }
        )
    columns = ["method", "bits", f"thesis {ref} (%)", "ours (%)", "delta vs thesis (pp)"]
    columns += ["thesis - thesis raw (pp)", "ours - ours raw (pp)", "ours mAP", "train s"]
    return pd.DataFrame(rows) if rows else pd.DataFrame(columns=columns)


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


def ours_vs_thesis(table: int, cells: dict[tuple[str, int], CellResult], dataset: str) -> pd.DataFrame:
    """Table 5 or 6 side by side (``hashlab.viz.thesis_vs_ours_table`` layout): thesis (%) / ours (%) / delta per
    bit length we ran, methods as rows. For a non-thesis dataset the thesis column is PathMNIST's, for reference
    only, and the deltas are left empty."""
    from hashlab import viz

    ref = thesis_dataset_for(dataset) or "pathmnist"
    wide = thesis.thesis_wide(table, ref)
    ours = pd.DataFrame(
        [{"method": m, "bits": b, "acc": 100 * c.metrics["knn_acc"]} for (m, b), c in cells.items()]
    )
    ours = ours[ours["method"].isin(wide.index)].pivot(index="method", columns="bits", values="acc")
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
