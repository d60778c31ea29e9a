"""``hashlab reproduce``: the seed thesis's whole protocol, resumable, writing Tables 3-6 and Figs. 17-30 analogues.

Protocol (P. Mao, B.Sc. thesis, University of Bamberg, 2024, §4): frozen-encoder embeddings of every split (cached by
``hashlab.features``); Euclidean KNN on the raw embeddings for k in {3, 5, 7, 10, 15} on the validation and test
queries (Tables 3 and 4, Figs. 18/19); for every method x code length a hash head trained by
``hashlab.experiment.run`` (checkpoint selection on the validation split inside ``run``), then Hamming KNN (k = 7,
majority vote, ties by database index) of the test queries against the training database, plus mAP and mAP@k
(Tables 5 and 6, Figs. 20-29); the training wall-clock time of the triplet/centre methods (Fig. 30, for which the
thesis gives no numbers).

Each finished grid cell is one small JSON file (``cells/<method>_<bits>.json``, written atomically after its codes
file) and is never recomputed while its settings are unchanged; an interrupted run restarts where it stopped.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import hashlib
import json
import math
import platform
import time
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from hashlab import thesis
from hashlab.config import atomic_write, figures_dir

CELL_FORMAT = 1
THESIS_KNN_K = 7
SWEEP_KS: tuple[int, ...] = (3, 5, 7, 10, 15)
FULL_BITS: tuple[int, ...] = (12, 24, 36, 48)
TIMED_METHODS: tuple[str, ...] = ("dnnh", "dshgan", "tcl")

# Settings of a full run and of the CI-sized --fast run (digits, pixel features). Every value is an assumption: the
# thesis states no optimiser, learning rate, epochs, batch size, head or seed.
FULL_SETTINGS: dict[str, Any] = {
    "epochs": 30,
    "batch_size": 256,
    "lr": 1e-3,
    "hidden": (512,),
    "subsample": None,
}
FAST_SETTINGS: dict[str, Any] = {
    "dataset": "digits",
    "backbone": "pixels",
    "bits": (12, 24, 48),
    "epochs": 3,
    "batch_size": 128,
    "lr": 3e-3,
    "hidden": (128,),
    "subsample": None,
}


# ------------------------------------------------------------------------------------------------ validation
def _available_datasets() -> list[str]:
    from hashlab.data import available_datasets

    return list(available_datasets())


def _available_backbones() -> list[str]:
    from hashlab.features import available_backbones

    return list(available_backbones())


def _thesis_methods() -> list[str]:
    from hashlab.losses import THESIS_METHODS

    return list(THESIS_METHODS)


def check_choices(dataset: str, backbone: str, methods: Sequence[str], bits: Sequence[int]) -> None:
    """Raise ``ValueError`` naming the valid choices for an unknown dataset, backbone or method, or bad bits."""
    datasets = _available_datasets()
    if dataset not in datasets:
        raise ValueError(f"unknown dataset {dataset!r}; choose one of {datasets}")
    backbones = _available_backbones()
    if backbone not in backbones:
        raise ValueError(f"unknown backbone {backbone!r}; choose one of {backbones}")
    from hashlab.losses import available_losses

    losses = list(available_losses())
    unknown = [m for m in methods if m not in losses]
    if unknown:
        raise ValueError(f"unknown method(s) {unknown}; choose from {losses}")
    if not methods:
        raise ValueError("no methods given")
    if not bits or any(not isinstance(b, int | np.integer) or int(b) < 1 for b in bits):
        raise ValueError(f"bits must be positive integers, got {list(bits)}")


# ------------------------------------------------------------------------------------------------ raw baseline
def raw_knn_baseline(
    embeddings: Any, ks: Iterable[int] = SWEEP_KS, splits: Sequence[str] = ("val", "test")
) -> pd.DataFrame:
    """Euclidean KNN accuracy of raw embeddings (queries = ``split``, database = train) for every k (Tables 3-4).

    Returns a long frame with columns ``split``, ``k``, ``knn_acc`` (a fraction).
    """
    from hashlab.metrics import knn_accuracy

    db = embeddings.train
    rows = []
    for split in splits:
        q = getattr(embeddings, split)
        for k in ks:
            acc = knn_accuracy(q.features, db.features, q.labels, db.labels, k=int(k), metric="euclidean")
            rows.append({"split": split, "k": int(k), "knn_acc": float(acc)})
    return pd.DataFrame(rows)


def knn_confusion(
    query: np.ndarray, db: np.ndarray, query_labels: np.ndarray, db_labels: np.ndarray, k: int, n_classes: int
) -> np.ndarray:
    """Confusion matrix (rows true, columns predicted) of majority-vote KNN (Hamming for ±1 codes, else Euclidean)."""
    from hashlab.metrics import confusion_matrix, knn_predict

    pred = knn_predict(query, db, db_labels, k=k, metric="auto")
    return np.asarray(confusion_matrix(query_labels, pred, n_classes), dtype=np.int64)


def random_codes_baseline(
    embeddings: Any, bits: int, seed: int = 0, knn_k: int = THESIS_KNN_K, map_k: int | None = 100
) -> dict[str, float]:
    """Retrieval metrics of random ±1 codes (test queries vs train database): the floor every method must beat."""
    from hashlab.codes import to_codes
    from hashlab.metrics import retrieval_report

    rng = np.random.default_rng(seed)
    train = to_codes(rng.standard_normal((len(embeddings.train.labels), int(bits))))
    test = to_codes(rng.standard_normal((len(embeddings.test.labels), int(bits))))
    report = retrieval_report(
        test, train, embeddings.test.labels, embeddings.train.labels, k_map=map_k, knn_k=knn_k
    )
    return {k: float(v) for k, v in report.items()}


# ------------------------------------------------------------------------------------------------ grid cells
@dataclass
class CellResult:
    """One finished (method, bits) cell: test metrics, validation metrics, timing, confusion matrix, history."""

    method: str
    bits: int
    settings: dict[str, Any]
    metrics: dict[str, float]
    val_metrics: dict[str, float]
    train_seconds: float
    confusion: list[list[int]]
    history: list[dict[str, Any]]
    class_names: list[str]
    model_config: dict[str, Any] = field(default_factory=dict)
    finished_utc: str = ""
    hardware: str = ""
    codes: np.ndarray | None = None  # test-query codes (int8 ±1), when loaded or just computed
    labels: np.ndarray | None = None  # test labels
    result: Any = None  # the ExperimentResult when computed in this process

    def record(self) -> dict[str, Any]:
        """JSON-serialisable content of the cell file."""
        return {
            "format": CELL_FORMAT,
            "method": self.method,
            "bits": int(self.bits),
            "settings": self.settings,
            "metrics": self.metrics,
            "val_metrics": self.val_metrics,
            "train_seconds": float(self.train_seconds),
            "confusion": self.confusion,
            "history": self.history,
            "class_names": self.class_names,
            "model_config": self.model_config,
            "finished_utc": self.finished_utc,
            "hardware": self.hardware,
        }


def _jsonable(x: Any) -> Any:
    """Plain JSON types: numpy/torch scalars to Python, tuples to lists, non-finite floats to None."""
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_jsonable(v) for v in x]
    if hasattr(x, "item") and getattr(x, "ndim", 0) == 0:
        x = x.item()
    if isinstance(x, np.ndarray):
        return _jsonable(x.tolist())
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, bool | int | float | str) or x is None:
        return x
    return str(x)


def embeddings_fingerprint(embeddings: Any) -> dict[str, Any]:
    """Sizes, dimension and a SHA-1 of every split's features and labels: a stored cell is reused only for the
    very same embeddings (a rebuilt cache or another subsample gives other cells)."""
    digest = hashlib.sha1()
    for split in ("train", "val", "test"):
        part = getattr(embeddings, split)
        digest.update(np.ascontiguousarray(part.features).tobytes())
        digest.update(np.ascontiguousarray(part.labels).tobytes())
    return {
        "n": [int(len(getattr(embeddings, s).labels)) for s in ("train", "val", "test")],
        "dim": int(embeddings.train.features.shape[1]),
        "sha1": digest.hexdigest(),
    }


def cell_settings(
    embeddings: Any,
    method: str,
    bits: int,
    *,
    epochs: int,
    batch_size: int,
    lr: float,
    hidden: Sequence[int],
    seed: int,
    loss_kwargs: dict[str, Any] | None,
    knn_k: int,
    map_k: int | None,
    subsample: Sequence[int] | None,
) -> dict[str, Any]:
    """Everything that determines a cell's result; a stored cell is reused only when these are equal."""
    from hashlab import experiment

    fingerprint = embeddings_fingerprint(embeddings)
    return _jsonable(
        {
            "dataset": embeddings.dataset,
            "backbone": embeddings.backbone,
            "method": method,
            "bits": int(bits),
            "epochs": int(epochs),
            "batch_size": int(batch_size),
            "lr": float(lr),
            "hidden": [int(h) for h in hidden],
            "seed": int(seed),
            "loss_kwargs": dict(loss_kwargs or {}),
            "callbacks": [type(c).__name__ for c in experiment.method_callbacks(method)],
            "knn_k": int(knn_k),
            "map_k": map_k,
            "subsample": list(subsample) if subsample else None,
            "embeddings": fingerprint,
        }
    )


def _cell_stem(method: str, bits: int) -> str:
    return f"{method}_{int(bits)}"


def load_cell(cells_dir: Path, method: str, bits: int, settings: dict[str, Any]) -> CellResult | None:
    """The stored cell if it exists, parses, is complete and was computed with ``settings``; else None (with a warning
    saying why a file that exists is not reused)."""
    path = cells_dir / f"{_cell_stem(method, bits)}.json"
    if not path.exists():
        return None
    try:
        rec = json.loads(path.read_text())
        if rec.get("format") != CELL_FORMAT:
            raise ValueError(f"format {rec.get('format')!r} != {CELL_FORMAT}")
        for key in ("metrics", "val_metrics", "train_seconds", "confusion", "history", "class_names"):
            if key not in rec:
                raise ValueError(f"missing '{key}'")
        acc = rec["metrics"].get("knn_acc")
        if not isinstance(acc, int | float) or not 0.0 <= acc <= 1.0:
            raise ValueError(f"knn_acc {acc!r} is not a fraction")
    except (ValueError, AttributeError, TypeError) as err:
        warnings.warn(f"cell file {path} is unreadable ({err}); recomputing it", stacklevel=2)
        return None
    if rec.get("settings") != settings:
        warnings.warn(f"cell file {path} was computed with other settings; recomputing it", stacklevel=2)
        return None
    cell = CellResult(
        method=rec["method"],
        bits=int(rec["bits"]),
        settings=rec["settings"],
        metrics=rec["metrics"],
        val_metrics=rec["val_metrics"],
        train_seconds=float(rec["train_seconds"]),
        confusion=rec["confusion"],
        history=rec["history"],
        class_names=rec["class_names"],
        model_config=rec.get("model_config", {}),
        finished_utc=rec.get("finished_utc", ""),
        hardware=rec.get("hardware", ""),
    )
    codes_path = cells_dir / f"{_cell_stem(method, bits)}.codes.npz"
    if codes_path.exists():
        try:
            with np.load(codes_path) as z:
                cell.codes = np.unpackbits(z["packed"], axis=1, count=int(z["bits"])).astype(np.int8) * 2 - 1
                cell.labels = z["labels"]
        except (OSError, ValueError, KeyError) as err:
            warnings.warn(
                f"codes file {codes_path} unreadable ({err}); Hamming plots skip this cell", stacklevel=2
            )
    return cell


def _write_cell(cells_dir: Path, cell: CellResult) -> None:
    stem = _cell_stem(cell.method, cell.bits)
    if cell.codes is not None:
        from hashlab.codes import pack_codes

        with atomic_write(cells_dir / f"{stem}.codes.npz") as tmp:
            np.savez_compressed(
                tmp, packed=pack_codes(cell.codes), bits=cell.codes.shape[1], labels=cell.labels
            )
    # The JSON file is the commit marker of the cell: written last, atomically.
    with atomic_write(cells_dir / f"{stem}.json") as tmp:
        tmp.write_text(json.dumps(_jsonable(cell.record()), indent=1))


_WARMED_UP = False


def warm_up(embeddings: Any, seed: int = 0) -> None:
    """One throwaway one-epoch fit on a small subsample, once per process, before the first timed cell.

    The first Lightning fit of a process pays one-off costs (lazy imports, allocator and kernel set-up) inside its
    ``train_seconds``; without this the first method of a grid would look several times slower in Fig. 30.
    """
    global _WARMED_UP
    if _WARMED_UP:
        return
    from hashlab import experiment
    from hashlab.data import EmbeddingDataModule

    sizes = [
        min(n, len(getattr(embeddings, s).labels)) for n, s in ((256, "train"), (64, "val"), (64, "test"))
    ]
    small = embeddings.subsample(*sizes, seed=seed)
    config = experiment.ExperimentConfig(
        dataset=embeddings.dataset,
        backbone=embeddings.backbone,
        method="dpsh",
        bits=16,
        epochs=1,
        hidden=(32,),
    )
    model = experiment.build_model(config, small)
    experiment.fit(
        model, EmbeddingDataModule(small, batch_size=64, seed=seed, val_db_size=256), 1, progress=False
    )
    _WARMED_UP = True


def compute_cell(embeddings: Any, settings: dict[str, Any], progress: bool = False) -> CellResult:
    """Train one (method, bits) head with ``experiment.run`` and evaluate it (test queries vs train database)."""
    from hashlab import experiment
    from hashlab.plots import hardware_info

    config = experiment.ExperimentConfig(
        dataset=settings["dataset"],
        backbone=settings["backbone"],
        method=settings["method"],
        bits=settings["bits"],
        epochs=settings["epochs"],
        batch_size=settings["batch_size"],
        lr=settings["lr"],
        hidden=tuple(settings["hidden"]),
        seed=settings["seed"],
        loss_kwargs=dict(settings["loss_kwargs"]),
        knn_k=settings["knn_k"],
        map_k=settings["map_k"],
        subsample=None,  # the embeddings handed over are already subsampled
    )
    result = experiment.run(config, embeddings=embeddings, progress=progress)
    test_codes, train_codes = np.asarray(result.codes["test"]), np.asarray(result.codes["train"])
    test_labels, train_labels = np.asarray(result.labels["test"]), np.asarray(result.labels["train"])
    n_classes = len(result.class_names)
    confusion = knn_confusion(
        test_codes, train_codes, test_labels, train_labels, settings["knn_k"], n_classes
    )
    model_config = getattr(result.model, "config", {}) if result.model is not None else {}
    return CellResult(
        method=settings["method"],
        bits=int(settings["bits"]),
        settings=settings,
        metrics=_jsonable(dict(result.metrics)),
        val_metrics=_jsonable(dict(result.val_metrics or {})),
        train_seconds=float(result.train_seconds),
        confusion=confusion.tolist(),
        history=_jsonable(list(result.history or [])),
        class_names=[str(c) for c in result.class_names],
        model_config=_jsonable(dict(model_config)),
        finished_utc=_dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        hardware=hardware_info(),
        codes=test_codes.astype(np.int8),
        labels=test_labels,
        result=result,
    )


def _remove_stale_temporaries(folder: Path) -> None:
    """Temporary files left by a killed process (``atomic_write`` names them ``.<name>.<random>.tmp<suffix>``)."""
    if folder.is_dir():
        for tmp in folder.glob(".*.tmp*"):
            tmp.unlink(missing_ok=True)


def run_grid(
    embeddings: Any,
    methods: Sequence[str],
    bits: Sequence[int],
    *,
    cells_dir: str | Path | None = None,
    epochs: int = FULL_SETTINGS["epochs"],
    batch_size: int = FULL_SETTINGS["batch_size"],
    lr: float = FULL_SETTINGS["lr"],
    hidden: Sequence[int] = FULL_SETTINGS["hidden"],
    seed: int = 0,
    loss_kwargs: dict[str, dict[str, Any]] | None = None,
    knn_k: int = THESIS_KNN_K,
    map_k: int | None = 100,
    subsample: Sequence[int] | None = None,
    progress: bool = False,
    on_cell: Callable[[CellResult, bool], None] | None = None,
) -> dict[tuple[str, int], CellResult]:
    """Train and evaluate every method x code length on ``embeddings`` (already subsampled if wanted).

    With ``cells_dir`` each finished cell is stored there and reused on the next call (same settings only).
    ``loss_kwargs`` maps a method name to its loss hyperparameters. ``on_cell(cell, reused)`` is called after each
    cell. Returns ``{(method, bits): CellResult}`` in grid order.
    """
    folder = Path(cells_dir) if cells_dir is not None else None
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
        _remove_stale_temporaries(folder)
    out: dict[tuple[str, int], CellResult] = {}
    for method in methods:
        for b in bits:
            settings = cell_settings(
                embeddings,
                method,
                int(b),
                epochs=epochs,
                batch_size=batch_size,
                lr=lr,
                hidden=hidden,
                seed=seed,
                loss_kwargs=(loss_kwargs or {}).get(method),
                knn_k=knn_k,
                map_k=map_k,
                subsample=subsample,
            )
            cell = load_cell(folder, method, int(b), settings) if folder is not None else None
            reused = cell is not None
            if cell is None:
                warm_up(embeddings, seed)
                cell = compute_cell(embeddings, settings, progress=progress)
                if folder is not None:
                    _write_cell(folder, cell)
            out[(method, int(b))] = cell
            if on_cell is not None:
                on_cell(cell, reused)
    return out


def grid_frame(cells: dict[tuple[str, int], CellResult]) -> pd.DataFrame:
    """Long frame of a grid: method, label (thesis spelling), family table, bits, test metrics, val metrics, time."""
    rows = []
    for (method, b), cell in cells.items():
        row = {
            "method": method,
            "label": thesis.method_label(method),
            "table": thesis.method_table(method),
            "bits": b,
        }
        row.update({k: v for k, v in cell.metrics.items()})
        row.update({f"val_{k}": v for k, v in cell.val_metrics.items() if not str(k).startswith("val_")})
        row.update({k: v for k, v in cell.val_metrics.items() if str(k).startswith("val_")})
        row["train_seconds"] = cell.train_seconds
        rows.append(row)
    return pd.DataFrame(rows)


# ------------------------------------------------------------------------------------------------ tables
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


# ------------------------------------------------------------------------------------------------ figures
_FAMILIES = {
    5: ("pairwise", {"cifar10": 20, "pathmnist": 21}),
    6: ("triplet", {"cifar10": 26, "pathmnist": 27}),
}


def _fig_number(numbers: dict[str, int], dataset: str) -> str:
    """The thesis figure number for ``dataset``, or "a_b" (both datasets' numbers) for a non-thesis dataset."""
    same = thesis_dataset_for(dataset)
    return str(numbers[same]) if same else "_".join(str(v) for v in sorted(numbers.values()))


def raw_confusion_figure(
    confusion: np.ndarray,
    class_names: Sequence[str],
    dataset: str,
    backbone: str,
    k: int = THESIS_KNN_K,
    save: Any = None,
) -> Any:
    """Figs. 18/19 analogue: confusion matrix of raw-embedding Euclidean KNN, test queries vs train database."""
    from hashlab import plots

    n = _fig_number({"cifar10": 18, "pathmnist": 19}, dataset).replace("_", "/")
    title = (
        f"Confusion Matrix (Fig. {n} analogue): raw-embedding KNN k={k}, {dataset} / {backbone}, test queries"
    )
    return plots.confusion_matrix_plot(confusion, class_names, title=title, save=save)


def accuracy_vs_bits_figure(
    cells: dict[tuple[str, int], CellResult],
    table: int,
    dataset: str,
    backbone: str,
    raw_acc: float,
    save: Any = None,
) -> Any:
    """Figs. 20/21 (pairwise, ``table=5``) or 26/27 (triplet, ``table=6``) analogue: Hamming KNN accuracy (%) vs
    bits, one line per method, raw-embedding KNN as a horizontal line, the thesis's values dashed when the dataset
    is one of the thesis's."""
    from hashlab import plots

    family, numbers = _FAMILIES[table]
    frame = grid_frame(cells)
    sub = frame[frame["table"] == table]
    if sub.empty:
        raise ValueError(f"no {family} method (thesis Table {table}) in the grid: nothing to plot")
    same = thesis_dataset_for(dataset)
    ref = thesis.thesis_table(table)
    ref = ref[ref["dataset"] == (same or "")]
    ref_long = [
        {"method": thesis.method_label(m), "bits": int(b), "knn_acc": v}
        for m, b, v in zip(ref["method"], ref["bits"], ref["value"], strict=True)
        if m in set(sub["method"])
    ]
    num = _fig_number(numbers, dataset).replace("_", "/")
    return plots.metric_vs_bits(
        sub.assign(method=sub["label"]),
        metric="knn_acc",
        baseline=raw_acc,
        thesis=ref_long or None,
        percent=True,
        ylabel="Hamming KNN accuracy (%), test queries",
        title=f"Fig. {num} analogue: {family} methods, {dataset} / {backbone}",
        save=save,
    )


def method_confusion_figure(cell: CellResult, dataset: str, backbone: str, save: Any = None) -> Any:
    """Figs. 22-25, 28, 29 analogue: confusion matrix of Hamming KNN (k=7) for one method and code length."""
    from hashlab import plots

    shown = [f for f in thesis.thesis_figures() if f["kind"] == "confusion" and f["method"] == cell.method]
    ref = f" (thesis Fig. {shown[0]['number']}: {shown[0]['dataset']})" if shown else ""
    title = (
        f"Confusion Matrix: {thesis.method_label(cell.method)} {cell.bits} bits, {dataset} / {backbone}{ref}"
    )
    return plots.confusion_matrix_plot(np.asarray(cell.confusion), cell.class_names, title=title, save=save)


def training_cost_figure(
    cells: dict[tuple[str, int], CellResult], dataset: str, backbone: str, hardware: str, save: Any = None
) -> Any:
    """Fig. 30 analogue: training wall-clock seconds vs bits for DNNH, DSH-GAN and TCL (the thesis gives no numbers)."""
    from hashlab import plots

    frame = grid_frame(cells)
    short = "; ".join(p for p in hardware.split("; ") if p.startswith(("CPU", "CUDA")) or "cores" in p)
    timed = frame[frame["method"].isin(TIMED_METHODS)]
    if timed.empty:
        raise ValueError(f"none of the timed methods {list(TIMED_METHODS)} is in the grid")
    return plots.metric_vs_bits(
        timed.assign(method=timed["label"]),
        metric="train_seconds",
        ylabel="training wall-clock time (s)",
        title=f"Fig. 30 analogue (the thesis gives no numbers): training cost, {dataset} / {backbone}\n{short}",
        save=save,
    )


def ours_vs_thesis(table: int, cells: dict[tuple[str, int], CellResult], dataset: str) -> pd.DataFrame:
    """Table 5 or 6 side by side (``hashlab.plots.thesis_vs_ours_table`` layout): thesis (%) / ours (%) / delta per
    bit length we ran, methods as rows. For a non-thesis dataset the thesis column is PathMNIST's, for reference
    only, and the deltas are left empty."""
    from hashlab import plots

    ref = thesis_dataset_for(dataset) or "pathmnist"
    wide = thesis.thesis_wide(table, ref)
    ours = pd.DataFrame(
        [{"method": m, "bits": b, "acc": 100 * c.metrics["knn_acc"]} for (m, b), c in cells.items()]
    )
    ours = ours[ours["method"].isin(wide.index)].pivot(index="method", columns="bits", values="acc")
    wide = wide.loc[[m for m in wide.index if m in ours.index]]
    columns = sorted(ours.columns)  # the code lengths we ran
    side = plots.thesis_vs_ours_table(
        ours.reindex(columns=columns), wide.reindex(columns=columns), styled=False
    )
    if thesis_dataset_for(dataset) is None:  # other datasets: a difference would not be a reproduction error
        side.loc[:, [c for c in side.columns if c[1] == "delta"]] = np.nan
    side.index = [thesis.method_label(m) for m in side.index]
    side.index.name = f"thesis: {ref}; ours: {dataset}"
    return side


def write_figures(
    out: Path,
    dataset: str,
    backbone: str,
    cells: dict[tuple[str, int], CellResult],
    raw_confusion: np.ndarray,
    class_names: Sequence[str],
    raw_acc: float,
    hardware: str,
    bundle: Any = None,
) -> dict[str, str]:
    """Every result figure as PNG under ``out`` (file names start with the thesis figure they stand for)."""
    import matplotlib.pyplot as plt

    from hashlab import plots

    written: dict[str, str] = {}

    def keep(name: str, filename: str, make: Callable[[Path], Any]) -> None:
        path = out / filename
        fig = make(path)
        plt.close(fig)
        written[name] = str(path)

    if bundle is not None:
        keep(
            "fig17",
            f"fig17_class_samples_{dataset}.png",
            lambda p: plots.class_sample_grid(
                bundle, per_class=6, title=f"Fig. 17 analogue: {dataset}", save=p
            ),
        )
    n = _fig_number({"cifar10": 18, "pathmnist": 19}, dataset)
    keep(
        f"fig{n}",
        f"fig{n}_confusion_raw_knn_{dataset}.png",
        lambda p: raw_confusion_figure(raw_confusion, class_names, dataset, backbone, save=p),
    )
    frame = grid_frame(cells)
    for table, (family, numbers) in _FAMILIES.items():
        if (frame["table"] == table).any():
            num = _fig_number(numbers, dataset)
            keep(
                f"fig{num}",
                f"fig{num}_accuracy_vs_bits_{family}_{dataset}.png",
                lambda p, t=table: accuracy_vs_bits_figure(cells, t, dataset, backbone, raw_acc, save=p),
            )
    top = max(b for (_, b) in cells) if cells else None
    for info in thesis.thesis_figures():
        cell = cells.get((info["method"], top)) if info["kind"] == "confusion" else None
        if cell is not None:
            keep(
                f"fig{info['number']}",
                f"fig{info['number']}_confusion_{cell.method}_{top}bits_{dataset}.png",
                lambda p, c=cell: method_confusion_figure(c, dataset, backbone, save=p),
            )
    if frame["method"].isin(TIMED_METHODS).any():
        keep(
            "fig30",
            f"fig30_training_cost_{dataset}.png",
            lambda p: training_cost_figure(cells, dataset, backbone, hardware, save=p),
        )
    if "map" in frame:
        keep(
            "extra_map",
            f"extra_map_vs_bits_{dataset}.png",
            lambda p: plots.metric_vs_bits(
                frame.assign(method=frame["label"]),
                metric="map",
                title=f"mAP vs code length (not in the thesis), {dataset} / {backbone}, test queries",
                save=p,
            ),
        )
    for (method, b), cell in cells.items():
        if b == top and cell.codes is not None:
            keep(
                f"extra_hamming_{method}",
                f"extra_hamming_{method}_{top}bits_{dataset}.png",
                lambda p, c=cell: plots.hamming_distance_histogram(
                    c.codes,
                    c.labels,
                    title=f"Hamming distances, {thesis.method_label(c.method)} {top} bits, {dataset} test split",
                    save=p,
                ),
            )
    return written


# ------------------------------------------------------------------------------------------------ assumptions
def _versions() -> dict[str, str]:
    import importlib.metadata as md

    out = {"python": platform.python_version()}
    for pkg in (
        "hashlab",
        "torch",
        "pytorch-lightning",
        "torchmetrics",
        "numpy",
        "scikit-learn",
        "faiss-cpu",
        "pandas",
    ):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def assumptions(
    dataset: str,
    backbone: str,
    embeddings: Any,
    settings: dict[str, Any],
    cells: dict[tuple[str, int], CellResult],
    hardware: str,
) -> dict[str, Any]:
    """Every choice the thesis leaves open, as made by this run."""
    model_config = next((c.model_config for c in cells.values() if c.model_config), {})
    return _jsonable(
        {
            "encoder": {
                "backbone": backbone,
                "embedding_meta": {
                    k: v for k, v in (embeddings.meta or {}).items() if not isinstance(v, np.ndarray)
                },
                "embedding_dim": int(embeddings.train.features.shape[1]),
                "thesis_says": "'ViT-B/16 image encoder' and, in §3.1, DINOv2 (which has no /16 variant); checkpoint, "
                "resolution, pooling and normalisation are not stated",
                "frozen": True,
            },
            "data": {
                "dataset": dataset,
                "n_train_val_test": [
                    int(len(getattr(embeddings, s).labels)) for s in ("train", "val", "test")
                ],
                "subsample": settings.get("subsample"),
                "protocol": "queries = test split, database = train split; model selection (checkpoint on val_map) "
                "on the validation split only; Table 3's k sweep reported on val and test (the thesis does not say which)",
            },
            "knn": {
                "k": settings["knn_k"],
                "k_sweep": list(SWEEP_KS),
                "vote": "unweighted majority (thesis Algorithm 1)",
                "distance": "Euclidean on raw embeddings, Hamming on ±1 codes",
                "ties": "neighbours ordered by distance then database index (stable); vote ties per hashlab.metrics.knn_predict",
            },
            "head": {
                "architecture": "MLP in_dim -> hidden (ReLU) -> L linear units (hashlab.heads.MLPHead); DNNH uses "
                "the divide-and-encode head; activation chosen by the loss (tanh; HashNet tanh(beta z))",
                "in_dim": int(embeddings.train.features.shape[1]),
                "hidden": [int(h) for h in settings["hidden"]],
                **{k: model_config[k] for k in ("dropout", "weight_decay") if k in model_config},
            },
            "optimiser": {
                "name": "Adam (hashlab.module.HashingModule)",
                "lr": settings["lr"],
                "batch_size": settings["batch_size"],
            },
            "epochs": settings["epochs"],
            "seed": settings["seed"],
            "loss_kwargs": settings.get("loss_kwargs")
            or "library defaults of hashlab.losses (see each loss's docstring)",
            "map_k": settings["map_k"],
            "hashnet_continuation": "HashNetContinuation callback, beta_t = (1 + epoch)^0.5 (set per epoch)",
            "fig30_timing": "train_seconds of experiment.run (wall clock of the whole Lightning fit, per-epoch "
            "validation included, one run per cell, after one untimed warm-up fit per process); the thesis gives no "
            "numbers, no dataset and no hardware for Fig. 30",
            "hardware": hardware,
            "versions": _versions(),
            "thesis_gaps": [
                "hash-head architecture, optimiser, learning rate, epochs, batch size, seeds and runs are not stated",
                "per-method loss weights and margins not stated except TCL m=5, lambda=0.01",
                "how image-space methods (CNNH, DNNH divide-and-encode, DSH-GAN generator) were adapted to embeddings",
                "Figs. 26 and 27 share the caption 'PathMNIST'; read as 26 = CIFAR-10, 27 = PathMNIST",
                "Table 3 (0.77 at k=7) vs Table 4 (75.6 %) for PathMNIST: split not stated",
            ],
        }
    )


def _readme(
    dataset: str,
    backbone: str,
    fast: bool,
    tables: dict[int, pd.DataFrame],
    figs: dict[str, str],
    assume: dict[str, Any],
    out: Path,
    seconds: float,
    reused: int,
    computed: int,
) -> str:
    lines = [
        f"# Thesis reproduction: {dataset} / {backbone}{' (--fast)' if fast else ''}",
        "",
        "Source: P. Mao, *Exploring and Evaluating Deep Hashing Methods within Vision Foundation Model Feature Spaces "
        "for Similarity Search and Privacy Preservation*, B.Sc. thesis, University of Bamberg, 2024.",
        "",
        f"- Split protocol: {assume['data']['protocol']}.",
        f"- Sizes (train/val/test): {assume['data']['n_train_val_test']}; KNN k = {assume['knn']['k']}.",
        f"- Head: {assume['head']}; optimiser {assume['optimiser']}; epochs {assume['epochs']}; seed {assume['seed']}.",
        f"- Hardware: {assume['hardware']}.",
        f"- Grid cells computed this run: {computed}, reused from `cells/`: {reused}; wall time {seconds:.1f} s.",
        "- Every assumption is in `assumptions.json`.",
    ]
    if thesis_dataset_for(dataset) is None:
        lines += [
            "",
            f"**{dataset} is not a thesis dataset**: the thesis columns show its numbers for reference only; compare "
            "the 'minus raw' columns (hashed KNN minus raw-embedding KNN), not the absolute values.",
        ]
    lines += [
        "",
        "Fig. 30: the thesis gives no numbers for training cost; ours are measured on the hardware above.",
        "",
    ]
    for n, frame in tables.items():
        info = thesis.thesis_table_info(n)
        lines += [f"## Table {n}: {info['caption']}", "", to_markdown(frame, 4 if n == 3 else 2)]
    lines += ["## Figures", ""] + [f"- `{Path(p).relative_to(out)}`" for p in figs.values()]
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------------------------ entry point
def reproduce(
    dataset: str,
    backbone: str,
    out_dir: str | Path,
    methods: Sequence[str] | None = None,
    bits: Sequence[int] | None = None,
    fast: bool = False,
    seed: int = 0,
    epochs: int | None = None,
    batch_size: int | None = None,
    lr: float | None = None,
    hidden: Sequence[int] | None = None,
    subsample: Sequence[int] | None = None,
    size: int = 28,
    knn_k: int = THESIS_KNN_K,
    map_k: int | None = 100,
    loss_kwargs: dict[str, dict[str, Any]] | None = None,
    figures: bool = True,
    progress: bool = False,
    log: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Run the thesis protocol on ``dataset`` / ``backbone`` and write tables, figures and assumptions to ``out_dir``.

    ``methods`` defaults to ``hashlab.losses.THESIS_METHODS``, ``bits`` to (12, 24, 36, 48) (``--fast``: 12, 24, 48). ``fast=True`` uses ``FAST_SETTINGS`` for every knob
    left at None (epochs, batch size, lr, head, subsample); ``epochs`` etc. override either preset. Finished grid
    cells in ``out_dir/cells`` are reused. Returns a dict with ``tables`` ({3,4,5,6: DataFrame}), ``baseline``,
    ``cells``, ``figures`` (name -> path), ``assumptions``, ``computed`` and ``reused`` (cell counts) and ``out_dir``.
    """
    preset = FAST_SETTINGS if fast else FULL_SETTINGS
    methods = list(methods) if methods is not None else _thesis_methods()
    bits = [int(b) for b in (bits if bits is not None else preset.get("bits", FULL_BITS))]
    check_choices(dataset, backbone, methods, bits)
    settings = {
        "epochs": int(epochs if epochs is not None else preset["epochs"]),
        "batch_size": int(batch_size if batch_size is not None else preset["batch_size"]),
        "lr": float(lr if lr is not None else preset["lr"]),
        "hidden": tuple(hidden if hidden is not None else preset["hidden"]),
        "subsample": tuple(subsample) if subsample is not None else preset["subsample"],
        "seed": int(seed),
        "knn_k": int(knn_k),
        "map_k": map_k,
        "loss_kwargs": loss_kwargs or {},
    }
    say = log or (lambda _msg: None)
    started = time.perf_counter()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    _remove_stale_temporaries(out)

    from hashlab.features import get_embeddings
    from hashlab.plots import hardware_info

    say(f"embeddings: {dataset} / {backbone} (cached)")
    emb = get_embeddings(dataset, backbone, size=size)
    if settings["subsample"]:
        n_tr, n_va, n_te = settings["subsample"]
        emb = emb.subsample(n_tr, n_va, n_te, seed=seed)
    hardware = hardware_info()

    say("raw-embedding KNN baseline (Tables 3-4)")
    baseline = raw_knn_baseline(emb, SWEEP_KS, ("val", "test"))
    raw_acc = float(baseline[(baseline["split"] == "test") & (baseline["k"] == knn_k)]["knn_acc"].iloc[0])
    n_classes = len(emb.class_names)
    raw_cm = knn_confusion(
        emb.test.features, emb.train.features, emb.test.labels, emb.train.labels, knn_k, n_classes
    )

    counts = {"computed": 0, "reused": 0}

    def _progress(cell: CellResult, reused: bool) -> None:
        counts["reused" if reused else "computed"] += 1
        state = "reused" if reused else f"trained in {cell.train_seconds:.1f} s"
        say(f"{cell.method:>8} {cell.bits:>3} bits: knn_acc {100 * cell.metrics['knn_acc']:.2f} % ({state})")

    cells = run_grid(
        emb,
        methods,
        bits,
        cells_dir=out / "cells",
        epochs=settings["epochs"],
        batch_size=settings["batch_size"],
        lr=settings["lr"],
        hidden=settings["hidden"],
        seed=seed,
        loss_kwargs=settings["loss_kwargs"],
        knn_k=knn_k,
        map_k=map_k,
        subsample=settings["subsample"],
        progress=progress,
        on_cell=_progress,
    )

    tables = {
        3: table3(baseline, dataset),
        4: table4(baseline, dataset, backbone, knn_k),
        5: method_table_frame(5, cells, dataset, raw_acc),
        6: method_table_frame(6, cells, dataset, raw_acc),
    }
    note = (
        f"Ours: {dataset} / {backbone}, queries = test, database = train, KNN k = {knn_k}; "
        f"thesis values from hashlab/data_files/thesis_results.json."
    )
    table_files = {}
    for n, frame in tables.items():
        info = thesis.thesis_table_info(n)
        table_files[n] = _write_table(
            out,
            f"table{n}",
            frame,
            f"Table {n}: {info['caption']}",
            f"{note} {info['note']}",
            4 if n == 3 else 2,
        )
    with atomic_write(out / "baseline_knn.csv") as tmp:
        baseline.to_csv(tmp, index=False)
    with atomic_write(out / "grid.csv") as tmp:
        grid_frame(cells).to_csv(tmp, index=False)

    figs: dict[str, str] = {}
    if figures:
        say("figures")
        bundle = None
        try:
            from hashlab.data import load_dataset

            bundle = load_dataset(dataset, size=size, download=False)
        except (FileNotFoundError, ValueError) as err:  # embeddings cached but images absent: no Fig. 17
            warnings.warn(f"Fig. 17 skipped: images of {dataset} unavailable ({err})", stacklevel=2)
        figs = write_figures(
            out, dataset, backbone, cells, raw_cm, emb.class_names, raw_acc, hardware, bundle
        )

    assume = assumptions(dataset, backbone, emb, settings, cells, hardware)
    assume["command"] = {
        "dataset": dataset,
        "backbone": backbone,
        "fast": fast,
        "methods": methods,
        "bits": bits,
    }
    with atomic_write(out / "assumptions.json") as tmp:
        tmp.write_text(json.dumps(assume, indent=1))
    seconds = time.perf_counter() - started
    with atomic_write(out / "README.md") as tmp:
        tmp.write_text(
            _readme(
                dataset,
                backbone,
                fast,
                tables,
                figs,
                assume,
                out,
                seconds,
                counts["reused"],
                counts["computed"],
            )
        )
    return {
        "out_dir": str(out),
        "tables": tables,
        "table_files": table_files,
        "baseline": baseline,
        "raw_confusion": raw_cm,
        "cells": cells,
        "figures": figs,
        "assumptions": assume,
        "computed": counts["computed"],
        "reused": counts["reused"],
        "seconds": seconds,
    }


# ------------------------------------------------------------------------------------------------ CLI
def add_reproduce_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Options of ``hashlab reproduce`` (wired by ``hashlab.cli``)."""
    parser.add_argument(
        "--dataset", default=None, help="dataset name (default: pathmnist; digits with --fast)"
    )
    parser.add_argument(
        "--backbone", default=None, help="embedding backbone (default: vit_b_16; pixels with --fast)"
    )
    parser.add_argument("--out", default=None, help="output folder (default: <figures_dir>/reproduce[_fast])")
    parser.add_argument(
        "--methods", nargs="+", default=None, help="methods to run (default: the thesis's nine)"
    )
    parser.add_argument(
        "--bits", nargs="+", type=int, default=None, help="code lengths (default: 12 24 36 48)"
    )
    parser.add_argument("--fast", action="store_true", help="CI-sized run: digits + pixels, few epochs")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--lr", type=float, default=None)
    parser.add_argument(
        "--hidden", nargs="+", type=int, default=None, help="hidden widths of the hash head MLP"
    )
    parser.add_argument(
        "--subsample", nargs=3, type=int, default=None, metavar=("N_TRAIN", "N_VAL", "N_TEST")
    )
    parser.add_argument("--size", type=int, default=28, help="image size the embeddings are computed from")
    parser.add_argument("--map-k", type=int, default=100, help="cut-off of mAP@k (0: whole database only)")
    parser.add_argument("--no-figures", action="store_true", help="tables and assumptions only")
    parser.add_argument("--progress", action="store_true", help="show Lightning progress bars")
    return parser


def run_reproduce(args: argparse.Namespace) -> int:
    """Run ``reproduce`` from parsed arguments; print where the results are. Returns the exit status (0)."""
    fast = bool(args.fast)
    dataset = args.dataset or (FAST_SETTINGS["dataset"] if fast else "pathmnist")
    backbone = args.backbone or (FAST_SETTINGS["backbone"] if fast else "vit_b_16")
    bits = args.bits or (FAST_SETTINGS["bits"] if fast else FULL_BITS)
    out = args.out or figures_dir() / ("reproduce_fast" if fast else "reproduce")
    result = reproduce(
        dataset,
        backbone,
        out,
        methods=args.methods,
        bits=bits,
        fast=fast,
        seed=args.seed,
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        hidden=args.hidden,
        subsample=args.subsample,
        size=args.size,
        map_k=args.map_k or None,
        figures=not args.no_figures,
        progress=args.progress,
        log=print,
    )
    print(
        f"wrote Tables 3-6, {len(result['figures'])} figures and assumptions to {result['out_dir']} "
        f"({result['computed']} cells computed, {result['reused']} reused, {result['seconds']:.1f} s)"
    )
    return 0


# ------------------------------------------------------------------------------------------------ notebooks
def embeddings_available(dataset: str, backbone: str, size: int = 28) -> bool:
    """True when ``get_embeddings(dataset, backbone, size)`` can answer without network or hours of CPU work:
    every split's cache file exists, or (pixel features) the dataset's images are on disk."""
    from hashlab.data import native_size
    from hashlab.features import cache_path

    size = native_size(dataset, size)
    if all(cache_path(dataset, backbone, size, "default", s).exists() for s in ("train", "val", "test")):
        return True
    if backbone != "pixels":
        return False
    if dataset == "digits":
        return True
    from hashlab.config import data_dir

    name = f"{dataset}.npz" if size == 28 else f"{dataset}_{size}.npz"
    return (data_dir() / "medmnist" / name).exists() or (
        data_dir() / "cifar10" / "cifar-10-batches-py"
    ).is_dir()


def choose_setting(
    fast: bool,
    preferred: Sequence[tuple[str, str]] = (("pathmnist", "vit_b_16"), ("cifar10", "vit_b_16")),
    size: int = 28,
) -> tuple[str, str, str]:
    """(dataset, backbone, reason): the first thesis setting whose embeddings are available here, unless ``fast``;
    else the offline stand-in digits + pixels. Notebooks print the reason next to their numbers."""
    if not fast:
        for dataset, backbone in preferred:
            if embeddings_available(dataset, backbone, size):
                return (
                    dataset,
                    backbone,
                    f"thesis setting: {dataset} embeddings from {backbone} are available here",
                )
        reason = "no cached thesis embeddings (pathmnist/cifar10 with vit_b_16) found, so the offline stand-in is used"
    else:
        reason = "FAST mode (HASHLAB_FAST=1): the offline stand-in is used"
    return "digits", "pixels", f"{reason}: scikit-learn's 8x8 digits with standardised pixel features"


def distance_counts(batch_labels: np.ndarray, n_classes: int) -> dict[str, int]:
    """Distances one training batch needs (the thesis's §4.3.4 argument for TCL's efficiency, counted, not timed).

    ``pairwise matrix``: all ``B (B - 1) / 2`` code pairs (what a batch-all triplet loss such as DNNH's evaluates);
    ``valid triplets``: (anchor, positive, negative) triples of distinct items with ``y_a = y_p != y_n``, each of which
    compares two distances; ``tcl``: ``B * C`` sample-to-centre distances; ``dshgan``: ``2 B`` real-to-synthetic
    distances (one synthetic positive and one negative per real item). Single-label ``batch_labels`` only.
    """
    y = np.asarray(batch_labels)
    if y.ndim != 1:
        raise ValueError("distance_counts needs single-label (B,) labels")
    b = len(y)
    counts = np.bincount(y, minlength=n_classes).astype(np.int64)
    triplets = int(sum(c * (c - 1) * (b - c) for c in counts))
    return {
        "batch": b,
        "pairwise matrix": b * (b - 1) // 2,
        "valid triplets": triplets,
        "tcl": b * n_classes,
        "dshgan": 2 * b,
    }
