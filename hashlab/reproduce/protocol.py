"""``reproduce()``: the whole protocol in one call (baseline, grid, tables, figures, assumptions, README).

The output folder is locked for the run (a second concurrent run is refused), marked ``INCOMPLETE`` (a file, and a
banner on an existing README) until every output is written, and records the run's settings in ``hashlab-run.json``:
resuming in a folder whose recorded settings differ is refused with the differing settings named, unless
``force_restart``. The run prints its resolved settings first, one line per cell, then the tables of mean ± sd over
seeds and the training time per method, and its total wall time (also in README)."""

from __future__ import annotations

import datetime as _dt
import json
import os
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from hashlab import thesis
from hashlab.errors import UserError
from hashlab.files import atomic_write, check_output_dir, lock_folder, remove_own_temporaries
from hashlab.reproduce.baseline import knn_confusion, raw_knn_baseline
from hashlab.reproduce.figures import write_figures
from hashlab.reproduce.grid import CellResult, _jsonable, grid_frame, run_grid, settings_difference
from hashlab.reproduce.presets import (
    FAST_SETTINGS,
    FULL_BITS,
    FULL_SETTINGS,
    SWEEP_KS,
    THESIS_KNN_K,
    _thesis_methods,
    check_choices,
    check_seeds,
)
from hashlab.reproduce.provenance import assumptions
from hashlab.reproduce.tables import (
    _write_table,
    method_table_frame,
    seed_spread,
    table3,
    table4,
    thesis_dataset_for,
    to_markdown,
    training_time_table,
)

RUN_RECORD = "hashlab-run.json"
INCOMPLETE = "INCOMPLETE"
_BANNER = "> **INCOMPLETE**"


class SettingsChangedError(UserError):
    """The output folder holds a run made with other settings."""


def _check_resume(out: Path, run_settings: dict[str, Any], force_restart: bool) -> dict[str, Any] | None:
    """The folder's previous run record, after refusing (unless ``force_restart``) one with other settings."""
    path = out / RUN_RECORD
    if not path.exists():
        return None
    try:
        previous = json.loads(path.read_text())
        old = previous["settings"]
    except (OSError, ValueError, KeyError, TypeError):
        return None  # unreadable record: the cells' own settings still decide what is reused
    diff = settings_difference(old, run_settings)
    if diff and not force_restart:
        state = "an unfinished" if previous.get("state") != "finished" else "a finished"
        raise SettingsChangedError(
            f"{out} holds {state} run made with other settings ({'; '.join(diff)}); use a new --out folder, or "
            "--force-restart (force_restart=True) to recompute here"
        )
    return previous


def _mark_incomplete(out: Path, run_settings: dict[str, Any], started: str, run_id: str) -> None:
    """Record the run (state 'running'), write ``INCOMPLETE`` and put a banner on an existing README."""
    record = {
        "state": "running",
        "pid": os.getpid(),
        "started_utc": started,
        "run_id": run_id,
        "settings": run_settings,
    }
    with atomic_write(out / RUN_RECORD) as tmp:
        tmp.write_text(json.dumps(record, indent=1))
    text = (
        f"A hashlab reproduce run (pid {os.getpid()}, started {started} UTC) is writing this folder, or was "
        "interrupted: tables, figures, README and assumptions.json may come from different runs until it finishes. "
        "Rerun the same command to finish it.\n"
    )
    with atomic_write(out / INCOMPLETE) as tmp:
        tmp.write_text(text)
    readme = out / "README.md"
    if readme.exists():
        old = readme.read_text()
        if not old.startswith(_BANNER):
            with atomic_write(readme) as tmp:
                tmp.write_text(f"{_BANNER}: {text}\n{old}")


def _mark_finished(
    out: Path, run_settings: dict[str, Any], started: str, run_id: str, seconds: float
) -> None:
    finished = _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")
    record = {
        "state": "finished",
        "started_utc": started,
        "finished_utc": finished,
        "run_id": run_id,
        "wall_seconds": round(seconds, 1),
        "settings": run_settings,
    }
    with atomic_write(out / RUN_RECORD) as tmp:
        tmp.write_text(json.dumps(record, indent=1))
    (out / INCOMPLETE).unlink(missing_ok=True)


# The thesis's databases (its training splits): CIFAR-10's 50,000 training images; PathMNIST's official train split.
THESIS_DATABASE_SIZE = {"cifar10": 50_000, "pathmnist": 89_996}


def protocol_differences(dataset: str, n_train: int, settings: dict[str, Any], fast: bool) -> list[str]:
    """Where this run's protocol departs from the thesis's, one line each (shown beside the tables)."""
    found = []
    thesis_n = THESIS_DATABASE_SIZE.get(dataset)
    if thesis_n is not None and n_train != thesis_n:
        why = (
            " (5,000 training images are held out as the validation split)"
            if dataset == "cifar10" and n_train == 45_000
            else ""
        )
        found.append(
            f"database = {n_train:,} training items here{why}; the thesis's database has {thesis_n:,}"
        )
    if settings.get("subsample"):
        found.append(
            f"stratified subsample {list(settings['subsample'])} (train, val, test), not the full splits"
        )
    if fast:
        found.append("--fast: few epochs and a small head, for a quick check, not for comparison")
    if thesis_dataset_for(dataset) is None:
        found.append(f"{dataset} is not a thesis dataset: thesis columns are for reference only")
    return found


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
    cells: dict[tuple[Any, ...], CellResult] | None = None,
    differences: Sequence[str] = (),
    timing: pd.DataFrame | None = None,
) -> str:
    seeds = assume["seeds"]
    extra = seeds["seed_bits"] if seeds["seed_bits"] is not None else "every code length"
    dups = assume["data"].get("split_duplicates")
    lines = [
        f"# Thesis reproduction: {dataset} / {backbone}{' (--fast)' if fast else ''}",
        "",
        "Source: P. Mao, *Exploring and Evaluating Deep Hashing Methods within Vision Foundation Model Feature Spaces "
        "for Similarity Search and Privacy Preservation*, B.Sc. thesis, University of Bamberg, 2024.",
        "",
        f"- Split protocol: {assume['data']['protocol']}.",
        f"- Sizes (train/val/test): {assume['data']['n_train_val_test']}; KNN k = {assume['knn']['k']}.",
        "- Split duplicates (exact pixel copies of an earlier split's image, full splits, reported and kept): "
        + (
            ", ".join(f"{k} {v}/{dups['sizes'][k.split('-')[1]]}" for k, v in dups["counts"].items())
            if dups
            else "not checked (the images are not available here)"
        )
        + ".",
        f"- Head: {assume['head']}; optimiser {assume['optimiser']}; epochs {assume['epochs']}.",
        f"- Seeds: {seeds['seeds']} (the first at every code length, the others at {extra}); tables give the mean, "
        "the sample sd (ddof = 1) and n per method and code length.",
        f"- Hardware: {assume['hardware']}.",
        f"- Grid cells computed this run: {computed}, reused from `cells/`: {reused}; "
        f"total wall time {_duration(seconds)}.",
        "- Every assumption is in `assumptions.json`.",
        *[f"- **Protocol difference from the thesis:** {d}." for d in differences],
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
    if timing is not None and not timing.empty:
        lines += [
            "## Training time per method",
            "",
            "Seconds of the training epochs alone (validation and checkpointing excluded) per cell, mean over seeds, "
            "for the cells trained in one run (reused cells of an earlier run are not mixed in).",
            "",
            to_markdown(timing, 2),
        ]
    flagged = [
        f"- {c.method} {c.bits} bits seed {c.seed}: {w}" for c in (cells or {}).values() for w in c.warnings
    ]
    if flagged:
        lines += [
            "## Warnings",
            "",
            "These cells finished but their numbers do not measure retrieval; do not read them as results.",
            "",
            *flagged,
            "",
        ]
    lines += ["## Figures", ""] + [f"- `{Path(p).relative_to(out)}`" for p in figs.values()]
    return "\n".join(lines) + "\n"


def _duration(seconds: float) -> str:
    """``'3725.0 s (1 h 02 min 05 s)'``."""
    whole = int(round(seconds))
    h, rest = divmod(whole, 3600)
    m, sec = divmod(rest, 60)
    return f"{seconds:.1f} s ({h} h {m:02d} min {sec:02d} s)"


def _dataset_provenance(dataset: str, size: int) -> tuple[Any, dict[str, Any], str]:
    """(bundle or None, record, one-line summary): the images' split duplicates (``hashlab.data.split_duplicates``) and the dataset
    file checksums (Fashion-MNIST: SHA-256 of the decompressed IDX files; MedMNIST: the published MD5)."""
    from hashlab.data import available_offline, load_dataset, medmnist_flags, split_duplicates

    if not available_offline(dataset, size):
        return None, {"split_duplicates": None, "checksums": None, "images": "not available here"}, ""
    try:
        bundle = load_dataset(dataset, size=size, download=False)
    except (FileNotFoundError, ValueError) as err:  # embeddings cached but images absent or unreadable
        warnings.warn(
            f"images of {dataset} unavailable ({err}): no Fig. 17, no duplicate counts", stacklevel=3
        )
        return None, {"split_duplicates": None, "checksums": None, "images": str(err)}, ""
    checksums: Any = None
    if bundle.meta.get("sha256"):
        checksums = {"sha256 (decompressed IDX)": bundle.meta["sha256"]}
    elif dataset in medmnist_flags():
        from hashlab.data import medmnist_md5

        checksums = {
            "md5 (published MedMNIST file)": medmnist_md5(dataset, bundle.meta.get("size", size)),
            "verified": bundle.meta.get("md5_verified"),
        }
    dups = split_duplicates(bundle)
    record = {
        "split_duplicates": dups.as_dict(),
        "checksums": checksums,
        "images": {k: v for k, v in bundle.meta.items() if isinstance(v, str | int | float | bool)},
    }
    return bundle, record, dups.summary()


def _check_placement(placement: dict[str, Any] | None) -> dict[str, Any]:
    """Where each cell trains (``accelerator``, ``precision``, ``devices``...), checked before any work.

    ``reproduce`` trains its cells one after another in this process and writes its folder from it, so a placement
    with several processes (``devices`` > 1, ``num_nodes`` > 1) is refused: run ``hashlab train`` under DDP for one
    large cell, or one ``reproduce`` per GPU on disjoint ``--methods`` (docs/distributed.md).
    """
    from hashlab.settings import TrainingConfig
    from hashlab.training import check_resources

    placement = {k: v for k, v in dict(placement or {}).items() if v is not None}
    unknown = set(placement) - {"accelerator", "devices", "num_nodes", "strategy", "precision"}
    if unknown:
        raise ValueError(f"unknown placement option(s) {sorted(unknown)}")
    training = TrainingConfig(**placement)
    if training.distributed:
        raise ValueError(
            "reproduce trains its cells in one process: --devices and --num-nodes must be 1 "
            "(use hashlab train under DDP for one large run, or one reproduce per GPU on disjoint --methods)"
        )
    check_resources(training)
    return placement


def reproduce(
    dataset: str,
    backbone: str,
    out_dir: str | Path,
    methods: Sequence[str] | None = None,
    bits: Sequence[int] | None = None,
    fast: bool = False,
    seed: int = 0,
    seeds: Sequence[int] | None = None,
    seed_bits: Sequence[int] | None = None,
    epochs: int | None = None,
    batch_size: int | None = None,
    lr: float | None = None,
    hidden: Sequence[int] | None = None,
    subsample: Sequence[int] | None = None,
    size: int = 28,
    knn_k: int = THESIS_KNN_K,
    map_k: int | None = 100,
    loss_kwargs: dict[str, dict[str, Any]] | None = None,
    weight_decay: float | None = None,
    val_db_size: int | None | str = "default",
    figures: bool = True,
    progress: bool = False,
    bar: bool = True,
    force_restart: bool = False,
    log: Callable[[str], None] | None = None,
    placement: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Run the thesis protocol on ``dataset`` / ``backbone`` and write tables, figures and assumptions to ``out_dir``.

    ``methods`` defaults to ``hashlab.losses.THESIS_METHODS``, ``bits`` to (12, 24, 36, 48) (``--fast``: 12, 24, 48). ``fast=True`` uses ``FAST_SETTINGS`` for every knob
    left at None (epochs, batch size, lr, head, subsample); ``epochs`` etc. override either preset. Finished grid
    cells in ``out_dir/cells`` are reused when every setting that made them matches (else recomputed, the reason
    logged). ``weight_decay`` and ``val_db_size`` default to ``ExperimentConfig``'s. ``bar`` shows one progress bar
    over the grid, ``progress`` Lightning's per-epoch bars. The folder is locked, marked ``INCOMPLETE`` until done,
    and a rerun with other settings is refused (``SettingsChangedError`` naming them) unless ``force_restart``.

    ``seeds`` (default ``[seed]``): training seeds; the first runs at every code length, the others only at
    ``seed_bits`` (default: every code length), and tables and figures show mean ± sd (ddof = 1) and n per (method,
    bits). The subsample, if any, is drawn with the first seed, so the seeds differ only in training.
    Returns a dict with ``tables`` ({3,4,5,6: DataFrame}), ``baseline``, ``cells`` (``{(method, bits, seed):
    CellResult}``), ``spread`` (``seed_spread``), ``timing`` (``training_time_table``), ``figures`` (name -> path),
    ``assumptions``, ``computed`` and ``reused`` (cell counts), ``seconds`` and ``out_dir``.
    """
    preset = FAST_SETTINGS if fast else FULL_SETTINGS
    methods = list(methods) if methods is not None else _thesis_methods()
    bits = [int(b) for b in (bits if bits is not None else preset.get("bits", FULL_BITS))]
    dataset = check_choices(dataset, backbone, methods, bits)
    seeds = [int(seed)] if seeds is None else list(seeds)
    check_seeds(seeds, seed_bits, bits)
    seeds = [int(x) for x in seeds]
    extra_bits = None if seed_bits is None or len(seeds) == 1 else sorted({int(b) for b in seed_bits})
    out = check_output_dir(out_dir, "--out")
    placement = _check_placement(placement)
    from hashlab.experiment import ExperimentConfig

    defaults = ExperimentConfig()
    settings = {
        "epochs": int(epochs if epochs is not None else preset["epochs"]),
        "batch_size": int(batch_size if batch_size is not None else preset["batch_size"]),
        "lr": float(lr if lr is not None else preset["lr"]),
        "hidden": tuple(hidden if hidden is not None else preset["hidden"]),
        "subsample": tuple(subsample) if subsample is not None else preset["subsample"],
        "seed": seeds[0],
        "seeds": seeds,
        "seed_bits": extra_bits,
        "knn_k": int(knn_k),
        "map_k": map_k,
        "loss_kwargs": loss_kwargs or {},
        "weight_decay": float(defaults.weight_decay if weight_decay is None else weight_decay),
        "val_db_size": defaults.val_db_size if val_db_size == "default" else val_db_size,
    }
    # The grid's extent (methods, bits, the seeds after the first) may grow between runs in one folder, as cells are
    # kept per (method, bits, seed); every other setting must match to resume.
    grid_extent = ("seeds", "seed_bits", "placement")
    settings["placement"] = placement
    run_settings = _jsonable(
        {
            "dataset": dataset,
            "backbone": backbone,
            "size": int(size),
            **{k: v for k, v in settings.items() if k not in grid_extent},
        }
    )
    say = log or (lambda _msg: None)
    started = time.perf_counter()
    with lock_folder(out, "hashlab reproduce run"):
        previous = _check_resume(out, run_settings, force_restart)
        started_utc = _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")
        run_id = started_utc
        if previous is not None and previous.get("state") != "finished":
            say(f"resuming the unfinished run in {out} (started {previous.get('started_utc', '?')} UTC)")
            if not settings_difference(previous.get("settings", {}), run_settings):
                run_id = str(previous.get("run_id") or previous.get("started_utc") or started_utc)
        say(_settings_line(dataset, backbone, out, fast, size, methods, bits, settings))
        remove_own_temporaries(out)
        _mark_incomplete(out, run_settings, started_utc, run_id)
        result = _reproduce_locked(
            dataset,
            backbone,
            out,
            methods,
            bits,
            fast,
            settings,
            size,
            figures,
            progress,
            bar,
            say,
            log,
            run_id,
        )
        seconds = time.perf_counter() - started
        result["seconds"] = seconds
        _mark_finished(out, run_settings, started_utc, run_id, seconds)
    return result


def _settings_line(
    dataset: str,
    backbone: str,
    out: Path,
    fast: bool,
    size: int,
    methods: Sequence[str],
    bits: Sequence[int],
    settings: dict[str, Any],
) -> str:
    """The resolved settings of a run, printed at its start (what a frozen reference run is launched with)."""
    extra = settings["seed_bits"] if settings["seed_bits"] is not None else "all bits"
    shown = {
        "dataset": dataset,
        "backbone": backbone,
        "size": size,
        "fast": fast,
        "methods": list(methods),
        "bits": list(bits),
        "seeds": f"{settings['seeds']} (first seed at every code length; the others at {extra})",
        **{k: v for k, v in settings.items() if k not in ("seed", "seeds", "seed_bits")},
        "out": str(out),
    }
    return "settings: " + "; ".join(f"{k}={v}" for k, v in shown.items())


def _reproduce_locked(
    dataset: str,
    backbone: str,
    out: Path,
    methods: list[str],
    bits: list[int],
    fast: bool,
    settings: dict[str, Any],
    size: int,
    figures: bool,
    progress: bool,
    bar: bool,
    say: Callable[[str], None],
    log: Callable[[str], None] | None,
    run_id: str = "",
) -> dict[str, Any]:
    """The work of :func:`reproduce` once the folder is locked and marked incomplete."""
    started = time.perf_counter()
    seed, knn_k, map_k = settings["seed"], settings["knn_k"], settings["map_k"]

    from hashlab.features import get_embeddings
    from hashlab.hardware import hardware_info

    say(f"embeddings: {dataset} / {backbone} (cached)")
    emb = get_embeddings(dataset, backbone, size=size)
    if settings["subsample"]:
        n_tr, n_va, n_te = settings["subsample"]
        emb = emb.subsample(n_tr, n_va, n_te, seed=seed)
    n_database = len(emb.train.labels)
    if map_k is not None and map_k > n_database:
        say(
            f"note: --map-k {map_k}{' (its default)' if map_k == 100 else ''} exceeds the {n_database}-item "
            "training database (the database of every "
            f"query): mAP@k ranks all {n_database} items"
        )
    hardware = hardware_info()
    bundle, data_record, duplicates_line = _dataset_provenance(dataset, size)
    if duplicates_line:
        say(duplicates_line)

    say("raw-embedding KNN baseline (Tables 3-4)")
    baseline = raw_knn_baseline(emb, SWEEP_KS, ("val", "test"))
    raw_acc = float(baseline[(baseline["split"] == "test") & (baseline["k"] == knn_k)]["knn_acc"].iloc[0])
    n_classes = len(emb.class_names)
    raw_cm = knn_confusion(
        emb.test.features, emb.train.features, emb.test.labels, emb.train.labels, knn_k, n_classes
    )

    counts = {"computed": 0, "reused": 0}
    several = len(settings["seeds"]) > 1

    def _progress(cell: CellResult, reused: bool) -> None:
        counts["reused" if reused else "computed"] += 1
        state = "reused" if reused else f"trained in {cell.train_seconds:.1f} s"
        which = f"{cell.method:>8} {cell.bits:>3} bits" + (f" seed {cell.seed}" if several else "")
        say(f"{which}: knn_acc {100 * cell.metrics['knn_acc']:.2f} % ({state})")
        for line in cell.warnings:
            say(f"WARNING: {cell.method} {cell.bits} bits seed {cell.seed}: {line}")

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
        seeds=settings["seeds"],
        seed_bits=settings["seed_bits"],
        loss_kwargs=settings["loss_kwargs"],
        knn_k=knn_k,
        map_k=map_k,
        subsample=settings["subsample"],
        weight_decay=settings["weight_decay"],
        val_db_size=settings["val_db_size"],
        progress=progress,
        bar=bar,
        log=log,
        on_cell=_progress,
        run_id=run_id,
        placement=settings.get("placement"),
    )

    tables = {
        3: table3(baseline, dataset),
        4: table4(baseline, dataset, backbone, knn_k),
        5: method_table_frame(5, cells, dataset, raw_acc),
        6: method_table_frame(6, cells, dataset, raw_acc),
    }
    spread = seed_spread(cells)
    timing = training_time_table(cells)
    differences = protocol_differences(dataset, n_database, settings, fast)
    note = (
        f"Ours: {dataset} / {backbone}, queries = test, database = train, KNN k = {knn_k}; seeds "
        f"{settings['seeds']}: ours (%) is the mean over n seeds, sd the sample standard deviation (ddof = 1); "
        f"thesis values from hashlab/data_files/thesis_results.json."
        + "".join(f" Protocol difference: {d}." for d in differences)
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
    with atomic_write(out / "seed_spread.csv") as tmp:
        spread.to_csv(tmp, index=False)
    if not timing.empty:
        with atomic_write(out / "training_time.csv") as tmp:
            timing.to_csv(tmp, index=False)
    say(_summary(spread, timing))

    figs: dict[str, str] = {}
    if figures:
        say("figures")
        if bundle is None:
            warnings.warn(f"Fig. 17 skipped: images of {dataset} unavailable", stacklevel=2)
        figs = write_figures(
            out, dataset, backbone, cells, raw_cm, emb.class_names, raw_acc, hardware, bundle
        )

    assume = assumptions(dataset, backbone, emb, settings, cells, hardware)
    assume["data"].update(data_record)
    assume["protocol_differences"] = differences
    assume["command"] = {
        "dataset": dataset,
        "backbone": backbone,
        "fast": fast,
        "methods": methods,
        "bits": bits,
        "seeds": settings["seeds"],
        "seed_bits": settings["seed_bits"],
    }
    assume["run_id"] = run_id
    seconds = time.perf_counter() - started
    with atomic_write(out / "assumptions.json") as tmp:
        tmp.write_text(json.dumps(_jsonable(assume), indent=1))
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
                cells,
                differences,
                timing,
            )
        )
    return {
        "out_dir": str(out),
        "tables": tables,
        "table_files": table_files,
        "baseline": baseline,
        "raw_confusion": raw_cm,
        "cells": cells,
        "spread": spread,
        "timing": timing,
        "figures": figs,
        "assumptions": assume,
        "computed": counts["computed"],
        "reused": counts["reused"],
        "seconds": seconds,
    }


def _summary(spread: pd.DataFrame, timing: pd.DataFrame) -> str:
    """The run's output table: per method and bits n, KNN accuracy and mAP as mean ± sd, training seconds; then
    the training time per method (mean over seeds)."""

    def pm(mean: float, sd: float, scale: float = 1.0, digits: int = 2) -> str:
        text = f"{scale * mean:.{digits}f}"
        return text if not np.isfinite(sd) else f"{text} ± {scale * sd:.{digits}f}"

    rows = [
        {
            "method": thesis.method_label(r["method"]),
            "bits": int(r["bits"]),
            "n": int(r["n"]),
            "knn_acc (%)": pm(r["knn_acc_mean"], r["knn_acc_sd"], 100.0),
            "mAP": pm(r.get("map_mean", np.nan), r.get("map_sd", np.nan), digits=4),
            "train s": "-" if not np.isfinite(r["train_seconds"]) else f"{r['train_seconds']:.2f}",
        }
        for r in spread.to_dict("records")
    ]
    text = "results (mean ± sd over seeds, ddof = 1):\n" + pd.DataFrame(rows).to_string(index=False)
    if not timing.empty:
        text += (
            "\ntraining seconds per cell (training epochs alone, mean over seeds; cells trained in one run):\n"
            + timing.round(2).to_string(index=False)
        )
    return text
