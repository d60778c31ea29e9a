"""The resumable grid: one (method, bits, seed) cell is trained by ``experiment.run``, evaluated, and stored as a
small JSON file (``cells/<method>_<bits>_seed<seed>.json``, the commit marker, written atomically after its codes
file). With several seeds (:func:`grid_plan`), the first seed runs at every code length and the others at the code
lengths asked for (e.g. 3 seeds at 24 and 48 bits, 1 elsewhere), so a table can show mean ± sd over seeds.

A stored cell is reused only while everything that determines it is unchanged: the training settings (epochs, batch
size, lr, weight decay, head, seed), the loss's actual hyperparameters (defaults included, so a changed default
recomputes), the evaluation settings (KNN k, mAP cut-off, validation database size), an embeddings fingerprint, the
code version (a hash of hashlab's training and evaluation sources) and the hardware; otherwise it is recomputed and
the reason (which settings differ) is reported. ``train_seconds`` times the training epochs alone (validation and
checkpointing excluded), so Fig. 30 compares training cost; every cell records the ``run_id`` of the run that
trained it, and timing summaries use the cells of one run only (:func:`timing_cells`), never mixing in reused cells
of another run."""

from __future__ import annotations

import contextlib
import datetime as _dt
import functools
import hashlib
import json
import math
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pytorch_lightning.callbacks import Callback

from hashlab import thesis
from hashlab.files import atomic_write, lock_folder, remove_own_temporaries
from hashlab.reproduce.baseline import knn_confusion
from hashlab.reproduce.presets import FULL_SETTINGS, THESIS_KNN_K

CELL_FORMAT = 2
SELECTION_METRIC = "val_map"
"""The validation metric whose best epoch is kept (``experiment.run`` selects on it; mode max)."""

# Modules that cannot change a cell's numbers (presentation, other studies, file and CLI plumbing); every other
# ``hashlab/**/*.py`` file is part of the code version, so a new module counts until it is listed here.
_NOT_CODE_VERSION = (
    "autoencoder/",
    "continual/",
    "federated/",
    "privacy/",
    "studies/",
    "viz/",
    "widgets/",
    "reproduce/",
    "baselines.py",
    "cli.py",
    "errors.py",
    "files.py",
    "hardware.py",
    "jupyter_lab.py",
    "privacy/",
    "separation.py",
    "studies/",
    "thesis.py",
    "widgets/",
)


@functools.lru_cache(maxsize=1)
def code_version() -> str:
    """SHA-1 (12 hex digits) of the hashlab sources that train and evaluate a cell, plus this grid module.

    Computed once per process, so files edited while a grid runs do not change it halfway.
    """
    import hashlab

    root = Path(hashlab.__file__).parent
    digest = hashlib.sha1(str(getattr(hashlab, "__version__", "")).encode())
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root).as_posix()
        if rel.startswith(_NOT_CODE_VERSION):
            continue
        digest.update(rel.encode() + b"\0" + path.read_bytes())
    digest.update(Path(__file__).read_bytes())
    return digest.hexdigest()[:12]


class TrainingTimer(Callback):
    """Wall-clock seconds of the training epochs alone: from each training epoch's start to the start of its
    validation pass (or to its end when there is none), summed; validation and checkpointing are excluded."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._start: float | None = None

    def _stop(self) -> None:
        if self._start is not None:
            self.seconds += time.perf_counter() - self._start
            self._start = None

    def on_train_epoch_start(self, trainer: Any, pl_module: Any) -> None:
        self._start = time.perf_counter()

    def on_validation_start(self, trainer: Any, pl_module: Any) -> None:
        self._stop()

    def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
        self._stop()


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
    best_epoch: int = -1  # the epoch kept (best SELECTION_METRIC), 0-based
    fit_seconds: float = float("nan")  # the whole Lightning fit, validation included
    warnings: list[str] = field(default_factory=list)  # hashlab.diagnostics lines: then it is not a result
    run_id: str = ""  # the run that trained it (reproduce: its start time; a resumed run keeps it)
    codes: np.ndarray | None = None  # test-query codes (int8 ±1), when loaded or just computed
    labels: np.ndarray | None = None  # test labels
    result: Any = None  # the ExperimentResult when computed in this process

    @property
    def seed(self) -> int:
        """The training seed (from ``settings``)."""
        return int(self.settings.get("seed", 0))

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
            "best_epoch": int(self.best_epoch),
            "selection_metric": SELECTION_METRIC,
            "fit_seconds": float(self.fit_seconds),
            "timing": "training epochs only (validation and checkpointing excluded)",
            "warnings": list(self.warnings),
            "run_id": self.run_id,
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
    weight_decay: float | None = None,
    val_db_size: int | None | str = "default",
) -> dict[str, Any]:
    """Everything that determines a cell's result; a stored cell is reused only when these are equal.

    ``weight_decay`` and ``val_db_size`` default to ``ExperimentConfig``'s. ``loss_hparams`` records the loss's
    actual hyperparameters (its defaults filled in), ``code_version`` and ``hardware`` where it runs.
    """
    from hashlab.experiment import ExperimentConfig
    from hashlab.hardware import hardware_info
    from hashlab.losses import get_loss

    defaults = ExperimentConfig()
    loss = get_loss(method, int(bits), max(2, len(embeddings.class_names)), **dict(loss_kwargs or {}))
    own_callbacks = loss.callbacks() if hasattr(loss, "callbacks") else []
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
            "weight_decay": float(defaults.weight_decay if weight_decay is None else weight_decay),
            "hidden": [int(h) for h in hidden],
            "seed": int(seed),
            "loss_kwargs": dict(loss_kwargs or {}),
            "loss_hparams": loss.hparams(),
            "loss_callbacks": [type(c).__name__ for c in own_callbacks],
            "knn_k": int(knn_k),
            "map_k": map_k,
            "val_db_size": defaults.val_db_size if val_db_size == "default" else val_db_size,
            "selection_metric": SELECTION_METRIC,
            "subsample": list(subsample) if subsample else None,
            "embeddings": fingerprint,
            "code_version": code_version(),
            "hardware": hardware_info(),
        }
    )


def settings_difference(stored: dict[str, Any], wanted: dict[str, Any]) -> list[str]:
    """Human-readable differences ``"epochs 2 -> 3"`` between two settings dicts (long values just 'changed')."""

    def show(value: Any) -> str | None:
        text = json.dumps(value, sort_keys=True) if value is not None else "none"
        return text if len(text) <= 40 else None

    out = []
    for key in list(wanted) + [k for k in stored if k not in wanted]:
        old, new = stored.get(key, "<absent>"), wanted.get(key, "<absent>")
        if old == new:
            continue
        a, b = show(old), show(new)
        out.append(f"{key} {a} -> {b}" if a is not None and b is not None else f"{key} changed")
    return out


def _cell_stem(method: str, bits: int, seed: int) -> str:
    return f"{method}_{int(bits)}_seed{int(seed)}"


def grid_plan(
    methods: Sequence[str],
    bits: Sequence[int],
    seeds: Sequence[int] = (0,),
    seed_bits: Sequence[int] | None = None,
) -> list[tuple[str, int, int]]:
    """The (method, bits, seed) cells of a grid, in run order: the first seed at every code length (so the one-seed
    grid is complete first), then each further seed at the code lengths in ``seed_bits`` (default: all)."""
    seeds = [int(s) for s in seeds]
    extra_bits = [int(b) for b in bits if seed_bits is None or int(b) in {int(x) for x in seed_bits}]
    plan = [(m, int(b), seeds[0]) for m in methods for b in bits]
    plan += [(m, b, s) for s in seeds[1:] for m in methods for b in extra_bits]
    return plan


def load_cell(cells_dir: Path, method: str, bits: int, settings: dict[str, Any]) -> CellResult | None:
    """The stored cell if it exists, parses, is complete and was computed with ``settings``; else None (with a warning
    saying why a file that exists is not reused)."""
    cell, reason = stored_cell(cells_dir, method, bits, settings)
    if reason is not None:
        warnings.warn(reason, stacklevel=2)
    return cell


def stored_cell(
    cells_dir: Path, method: str, bits: int, settings: dict[str, Any]
) -> tuple[CellResult | None, str | None]:
    """(cell, None) for a reusable stored cell; (None, reason) when a stored file is not reused; (None, None) when
    there is none."""
    stem = _cell_stem(method, bits, settings.get("seed", 0))
    path = Path(cells_dir) / f"{stem}.json"
    if not path.exists():
        return None, None
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
        return None, f"cell file {path} is unreadable ({err}); recomputing it"
    if rec.get("settings") != settings:
        diff = settings_difference(rec.get("settings") or {}, settings)
        return None, f"cell file {path} was computed with other settings ({'; '.join(diff)}); recomputing it"
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
        best_epoch=int(rec.get("best_epoch", -1)),
        fit_seconds=float(rec.get("fit_seconds", float("nan"))),
        warnings=[str(w) for w in rec.get("warnings", [])],
        run_id=str(rec.get("run_id", "")),
    )
    codes_path = Path(cells_dir) / f"{stem}.codes.npz"
    if codes_path.exists():
        try:
            with np.load(codes_path) as z:
                cell.codes = np.unpackbits(z["packed"], axis=1, count=int(z["bits"])).astype(np.int8) * 2 - 1
                cell.labels = z["labels"]
        except (OSError, ValueError, KeyError) as err:
            warnings.warn(
                f"codes file {codes_path} unreadable ({err}); Hamming plots skip this cell", stacklevel=2
            )
    return cell, None


def _write_cell(cells_dir: Path, cell: CellResult) -> None:
    stem = _cell_stem(cell.method, cell.bits, cell.seed)
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
    from hashlab.data import EmbeddingDataModule

    model = experiment.build_model(config, small)
    datamodule = EmbeddingDataModule(small, batch_size=64, seed=seed, val_db_size=256)
    experiment.fit(model, datamodule, config.training, epochs=1, progress=False)
    _WARMED_UP = True


def compute_cell(
    embeddings: Any,
    settings: dict[str, Any],
    progress: bool = False,
    run_id: str = "",
    placement: dict[str, Any] | None = None,
) -> CellResult:
    """Train one (method, bits, seed) head with ``experiment.run`` and evaluate it (test queries vs train
    database); ``run_id`` names the run that trains it."""
    from hashlab import experiment
    from hashlab.hardware import hardware_info

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
        weight_decay=settings["weight_decay"],
        val_db_size=settings["val_db_size"],
        subsample=None,  # the embeddings handed over are already subsampled
        **dict(
            placement or {}
        ),  # where Lightning trains (accelerator, precision); not part of the cell's identity
    )
    timer = TrainingTimer()
    result = experiment.run(config, embeddings=embeddings, callbacks=[timer], progress=progress)
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
        train_seconds=float(timer.seconds),
        confusion=confusion.tolist(),
        history=_jsonable(list(result.history or [])),
        class_names=[str(c) for c in result.class_names],
        model_config=_jsonable(dict(model_config)),
        finished_utc=_dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        hardware=hardware_info(),
        best_epoch=int(result.best_epoch),
        fit_seconds=float(result.train_seconds),
        warnings=[str(w) for w in getattr(result, "warnings", [])],
        run_id=run_id,
        codes=test_codes.astype(np.int8),
        labels=test_labels,
        result=result,
    )


def _remove_stale_temporaries(folder: Path) -> None:
    """Temporary files hashlab's ``atomic_write`` left behind in ``folder`` when its process was killed; nothing
    else (``hashlab.files.remove_own_temporaries``)."""
    remove_own_temporaries(folder)


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
    seeds: Sequence[int] | None = None,
    seed_bits: Sequence[int] | None = None,
    loss_kwargs: dict[str, dict[str, Any]] | None = None,
    knn_k: int = THESIS_KNN_K,
    map_k: int | None = 100,
    subsample: Sequence[int] | None = None,
    weight_decay: float | None = None,
    val_db_size: int | None | str = "default",
    progress: bool = False,
    bar: bool = False,
    log: Callable[[str], None] | None = None,
    on_cell: Callable[[CellResult, bool], None] | None = None,
    run_id: str = "",
    placement: dict[str, Any] | None = None,
) -> dict[tuple[Any, ...], CellResult]:
    """Train and evaluate every method x code length (x seed) on ``embeddings`` (already subsampled if wanted).

    One seed (``seed``; ``seeds=None``): returns ``{(method, bits): CellResult}`` in grid order. ``seeds``: the cells
    of :func:`grid_plan` (``seed_bits``: the code lengths of the seeds after the first; default all), returned as
    ``{(method, bits, seed): CellResult}``. ``run_id`` is stored in every cell trained here (see
    :func:`timing_cells`).

    With ``cells_dir`` each finished cell is stored there and reused on the next call (same settings only; a stored
    cell that is not reused is reported through ``log``, or as a warning without it). ``cells_dir`` is locked for
    the call: a second process on the same folder is refused. ``loss_kwargs`` maps a method name to its loss
    hyperparameters. ``bar`` shows one progress bar over the grid (cells done, current cell, elapsed, estimate
    left); ``progress`` shows Lightning's per-epoch bars. ``on_cell(cell, reused)`` is called after each cell.
    """
    from tqdm.auto import tqdm

    folder = Path(cells_dir) if cells_dir is not None else None
    lock = lock_folder(folder, "hashlab run using these cells") if folder is not None else _no_lock()
    grid = grid_plan(methods, bits, [seed] if seeds is None else list(seeds), seed_bits)
    out: dict[tuple[Any, ...], CellResult] = {}
    with lock:
        if folder is not None:
            remove_own_temporaries(folder)
        with tqdm(total=len(grid), desc="grid", unit="cell", disable=not bar, dynamic_ncols=True) as pbar:

            def report(message: str) -> None:
                if log is None:
                    warnings.warn(message, stacklevel=3)
                else:
                    with tqdm.external_write_mode():
                        log(message)

            for method, b, s in grid:
                pbar.set_description(f"{method} {b} bits" + ("" if seeds is None else f" seed {s}"))
                settings = cell_settings(
                    embeddings,
                    method,
                    b,
                    epochs=epochs,
                    batch_size=batch_size,
                    lr=lr,
                    hidden=hidden,
                    seed=s,
                    loss_kwargs=(loss_kwargs or {}).get(method),
                    knn_k=knn_k,
                    map_k=map_k,
                    subsample=subsample,
                    weight_decay=weight_decay,
                    val_db_size=val_db_size,
                )
                cell, reason = (
                    stored_cell(folder, method, b, settings) if folder is not None else (None, None)
                )
                if reason is not None:
                    report(reason)
                reused = cell is not None
                if cell is None:
                    warm_up(embeddings, s)
                    cell = compute_cell(
                        embeddings, settings, progress=progress, run_id=run_id, placement=placement
                    )
                    if folder is not None:
                        _write_cell(folder, cell)
                out[(method, b) if seeds is None else (method, b, s)] = cell
                pbar.update(1)
                if on_cell is not None:
                    with tqdm.external_write_mode():
                        on_cell(cell, reused)
    return out


@contextlib.contextmanager
def _no_lock() -> Any:
    yield None


def grid_frame(cells: dict[tuple[Any, ...], CellResult]) -> pd.DataFrame:
    """Long frame of a grid, one row per cell: method, label (thesis spelling), family table, bits, seed, test
    metrics, val metrics, training time, chosen epoch and the run that trained it."""
    rows = []
    for cell in cells.values():
        row = {
            "method": cell.method,
            "label": thesis.method_label(cell.method),
            "table": thesis.method_table(cell.method),
            "bits": int(cell.bits),
            "seed": cell.seed,
        }
        row.update({k: v for k, v in cell.metrics.items()})
        row.update({f"val_{k}": v for k, v in cell.val_metrics.items() if not str(k).startswith("val_")})
        row.update({k: v for k, v in cell.val_metrics.items() if str(k).startswith("val_")})
        row["train_seconds"] = cell.train_seconds
        row["best_epoch"] = cell.best_epoch
        row["run_id"] = cell.run_id
        rows.append(row)
    return pd.DataFrame(rows)


def timing_cells(cells: dict[tuple[Any, ...], CellResult]) -> dict[tuple[Any, ...], CellResult]:
    """The cells whose training times may be compared: those of one run, the most recent one (the current run's
    when it trained any; an interrupted run that resumed counts as one run). Reused cells of an earlier run are
    left out, so one machine state and one code version time every cell shown (Fig. 30, the timing tables)."""
    latest = max((c.run_id for c in cells.values()), default="")
    return {k: c for k, c in cells.items() if c.run_id == latest}
