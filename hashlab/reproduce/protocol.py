"""``reproduce()``: the whole protocol in one call (baseline, grid, tables, figures, assumptions, README).

The output folder is locked for the run (a second concurrent run is refused), marked ``INCOMPLETE`` (a file, and a
banner on an existing README) until every output is written, and records the run's settings in ``hashlab-run.json``:
resuming in a folder whose recorded settings differ is refused with the differing settings named, unless
``force_restart``."""

from __future__ import annotations

import datetime as _dt
import json
import os
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from hashlab import thesis
from hashlab.errors import UserError
from hashlab.files import atomic_write, check_output_dir, lock_folder, remove_own_temporaries
from hashlab.reproduce.baseline import knn_confusion, raw_knn_baseline
from hashlab.reproduce.cells import CellResult, _jsonable, grid_frame, run_grid, settings_difference
from hashlab.reproduce.figures import write_figures
from hashlab.reproduce.presets import (
    FAST_SETTINGS,
    FULL_BITS,
    FULL_SETTINGS,
    SWEEP_KS,
    THESIS_KNN_K,
    _thesis_methods,
    check_choices,
)
from hashlab.reproduce.provenance import assumptions
from hashlab.reproduce.tables import (
    _write_table,
    method_table_frame,
    table3,
    table4,
    thesis_dataset_for,
    to_markdown,
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


def _mark_incomplete(out: Path, run_settings: dict[str, Any], started: str) -> None:
    """Record the run (state 'running'), write ``INCOMPLETE`` and put a banner on an existing README."""
    record = {"state": "running", "pid": os.getpid(), "started_utc": started, "settings": run_settings}
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


def _mark_finished(out: Path, run_settings: dict[str, Any], started: str) -> None:
    finished = _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")
    record = {"state": "finished", "started_utc": started, "finished_utc": finished, "settings": run_settings}
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
    cells: dict[tuple[str, int], CellResult] | None = None,
    differences: Sequence[str] = (),
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
    flagged = [f"- {c.method} {c.bits} bits: {w}" for c in (cells or {}).values() for w in c.warnings]
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
    weight_decay: float | None = None,
    val_db_size: int | None | str = "default",
    figures: bool = True,
    progress: bool = False,
    bar: bool = True,
    force_restart: bool = False,
    log: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Run the thesis protocol on ``dataset`` / ``backbone`` and write tables, figures and assumptions to ``out_dir``.

    ``methods`` defaults to ``hashlab.losses.THESIS_METHODS``, ``bits`` to (12, 24, 36, 48) (``--fast``: 12, 24, 48). ``fast=True`` uses ``FAST_SETTINGS`` for every knob
    left at None (epochs, batch size, lr, head, subsample); ``epochs`` etc. override either preset. Finished grid
    cells in ``out_dir/cells`` are reused when every setting that made them matches (else recomputed, the reason
    logged). ``weight_decay`` and ``val_db_size`` default to ``ExperimentConfig``'s. ``bar`` shows one progress bar
    over the grid, ``progress`` Lightning's per-epoch bars. The folder is locked, marked ``INCOMPLETE`` until done,
    and a rerun with other settings is refused (``SettingsChangedError`` naming them) unless ``force_restart``.
    Returns a dict with ``tables`` ({3,4,5,6: DataFrame}), ``baseline``,
    ``cells``, ``figures`` (name -> path), ``assumptions``, ``computed`` and ``reused`` (cell counts) and ``out_dir``.
    """
    preset = FAST_SETTINGS if fast else FULL_SETTINGS
    methods = list(methods) if methods is not None else _thesis_methods()
    bits = [int(b) for b in (bits if bits is not None else preset.get("bits", FULL_BITS))]
    check_choices(dataset, backbone, methods, bits)
    out = check_output_dir(out_dir, "--out")
    from hashlab.experiment import ExperimentConfig

    defaults = ExperimentConfig()
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
        "weight_decay": float(defaults.weight_decay if weight_decay is None else weight_decay),
        "val_db_size": defaults.val_db_size if val_db_size == "default" else val_db_size,
    }
    run_settings = _jsonable({"dataset": dataset, "backbone": backbone, "size": int(size), **settings})
    say = log or (lambda _msg: None)
    with lock_folder(out, "hashlab reproduce run"):
        previous = _check_resume(out, run_settings, force_restart)
        if previous is not None and previous.get("state") != "finished":
            say(f"resuming the unfinished run in {out} (started {previous.get('started_utc', '?')} UTC)")
        remove_own_temporaries(out)
        started_utc = _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")
        _mark_incomplete(out, run_settings, started_utc)
        result = _reproduce_locked(
            dataset, backbone, out, methods, bits, fast, settings, size, figures, progress, bar, say, log
        )
        _mark_finished(out, run_settings, started_utc)
    return result


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
        for line in cell.warnings:
            say(f"WARNING: {cell.method} {cell.bits} bits: {line}")

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
        weight_decay=settings["weight_decay"],
        val_db_size=settings["val_db_size"],
        progress=progress,
        bar=bar,
        log=log,
        on_cell=_progress,
    )

    tables = {
        3: table3(baseline, dataset),
        4: table4(baseline, dataset, backbone, knn_k),
        5: method_table_frame(5, cells, dataset, raw_acc),
        6: method_table_frame(6, cells, dataset, raw_acc),
    }
    differences = protocol_differences(dataset, n_database, settings, fast)
    note = (
        f"Ours: {dataset} / {backbone}, queries = test, database = train, KNN k = {knn_k}; "
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
    assume["protocol_differences"] = differences
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
                cells,
                differences,
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
