"""The resumable grid: one (method, bits) cell is trained by ``experiment.run``, evaluated, and stored as a small
JSON file (``cells/<method>_<bits>.json``, the commit marker, written atomically after its codes file); a stored cell
is reused only while everything that determines it (settings and an embeddings fingerprint) is unchanged."""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from hashlab import thesis
from hashlab.config import atomic_write
from hashlab.reproduce.baseline import knn_confusion
from hashlab.reproduce.presets import FULL_SETTINGS, THESIS_KNN_K

CELL_FORMAT = 1


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
