"""The assumptions record (``assumptions.json``): every choice the thesis leaves open, as made by a run, with
hardware and package versions."""

from __future__ import annotations

import platform
import subprocess
from typing import Any

import numpy as np

from hashlab.reproduce.grid import (
    SELECTION_METRIC,
    CellResult,
    _jsonable,
    code_version,
    embeddings_fingerprint,
)
from hashlab.reproduce.presets import SWEEP_KS


def git_commit() -> dict[str, Any]:
    """The commit of the source checkout hashlab runs from, and whether its tracked files differ from it
    (``None`` values outside a git checkout, e.g. an installed wheel)."""
    from hashlab.config import REPO_ROOT

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(
                ["git", "-C", str(REPO_ROOT), *args], capture_output=True, text=True, timeout=10, check=True
            )
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout.strip()

    commit = git("rev-parse", "HEAD") if (REPO_ROOT / ".git").exists() else None
    dirty = git("status", "--porcelain", "--untracked-files=no", "--", "hashlab") if commit else None
    return {"commit": commit, "hashlab_sources_modified": None if dirty is None else bool(dirty)}


def _versions() -> dict[str, str]:
    import importlib.metadata as md

    out = {"python": platform.python_version()}
    for pkg in (
        "hashlab",
        "torch",
        "torchvision",
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


def extraction_preprocessing(backbone: str) -> str:
    """How images became the features a run hashes (``hashlab.features``)."""
    from hashlab.features import IMAGENET_MEAN, IMAGENET_STD, NET_INPUT

    if backbone == "pixels":
        return (
            "flattened pixels scaled to [0, 1], standardised per feature with the training split's mean and std "
            "(std below 1e-6 counts as 1); no resize"
        )
    return (
        f"resize (bilinear, antialiased) straight to {NET_INPUT}x{NET_INPUT}, no crop; grey images repeated to 3 "
        f"channels; ImageNet normalisation mean {list(IMAGENET_MEAN)}, std {list(IMAGENET_STD)}; frozen network, "
        "one forward pass per image, no augmentation"
    )


def assumptions(
    dataset: str,
    backbone: str,
    embeddings: Any,
    settings: dict[str, Any],
    cells: dict[tuple[Any, ...], CellResult],
    hardware: str,
) -> dict[str, Any]:
    """Every choice the thesis leaves open, as made by this run (cells keyed ``<method>_<bits>_seed<seed>``)."""
    model_config = next((c.model_config for c in cells.values() if c.model_config), {})
    per_cell = {f"{c.method}_{c.bits}_seed{c.seed}": c for c in cells.values()}
    seeds = list(settings.get("seeds") or [settings["seed"]])
    val_db = settings.get("val_db_size")
    return _jsonable(
        {
            "encoder": {
                "backbone": backbone,
                "embedding_meta": {
                    k: v for k, v in (embeddings.meta or {}).items() if not isinstance(v, np.ndarray)
                },
                "embedding_dim": int(embeddings.train.features.shape[1]),
                "preprocessing": extraction_preprocessing(backbone),
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
                "embeddings_fingerprint": embeddings_fingerprint(embeddings),
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
                "the divide-and-encode head; activation chosen by the loss (tanh; none for DSH; HashNet "
                "tanh(beta z); DNNH 2 sigmoid(z) - 1)",
                "in_dim": int(embeddings.train.features.shape[1]),
                "hidden": [int(h) for h in settings["hidden"]],
                **{k: model_config[k] for k in ("dropout", "weight_decay") if k in model_config},
            },
            "optimiser": {
                "name": "Adam (hashlab.module.HashingModule)",
                "lr": settings["lr"],
                "weight_decay": settings.get("weight_decay"),
                "batch_size": settings["batch_size"],
            },
            "selection": {
                "metric": SELECTION_METRIC,
                "mode": "max: the epoch with the highest value is kept",
                "queries": "the validation split",
                "database": "all training items"
                if val_db is None
                else f"a fixed, seeded subsample of {val_db} training items (all of them when fewer)",
                "val_db_size": val_db,
            },
            "chosen_epoch": {k: c.best_epoch for k, c in per_cell.items()},
            "loss_hparams": {k: c.settings.get("loss_hparams") for k, c in per_cell.items()},
            "epochs": settings["epochs"],
            "seed": settings["seed"],
            "seeds": {
                "seeds": seeds,
                "seed_bits": settings.get("seed_bits"),
                "rule": "the first seed trains every (method, bits) cell, the others only the code lengths in "
                "seed_bits (all when null); a seed sets the head's initialisation and the batch order; the "
                "subsample (if any) is drawn once with the first seed; tables: mean, sample sd (ddof = 1), n",
            },
            "loss_kwargs": settings.get("loss_kwargs")
            or "none given: library defaults of hashlab.losses (actual values in loss_hparams)",
            "map_k": settings["map_k"],
            "hashnet_continuation": "HashNetContinuation from loss.callbacks(); schedule named by the loss's "
            "'continuation' hparam (default 'authors': beta = (1 + 0.005 t)^0.5 over optimizer steps t, "
            "recomputed every 200 steps; hashlab.losses.hashnet.CONTINUATIONS)",
            "fig30_timing": "train_seconds: wall clock of the training epochs alone (validation passes and "
            "checkpointing excluded; the whole fit is fit_seconds in each cell file), after one untimed warm-up fit "
            "per process; Fig. 30 and the timing tables average over seeds the cells trained in one run only (the "
            "most recent run_id; a resumed run keeps its run_id), never reused cells of an earlier run; the thesis "
            "gives no numbers, no dataset and no hardware for Fig. 30",
            "hardware": hardware,
            "versions": _versions(),
            "code": {"version": code_version(), **git_commit()},
            "thesis_gaps": [
                "hash-head architecture, optimiser, learning rate, epochs, batch size, seeds and runs are not stated",
                "per-method loss weights and margins not stated except TCL m=5, lambda=0.01",
                "how image-space methods (CNNH, DNNH divide-and-encode, DSH-GAN generator) were adapted to embeddings",
                "Figs. 26 and 27 share the caption 'PathMNIST'; read as 26 = CIFAR-10, 27 = PathMNIST",
                "Table 3 (0.77 at k=7) vs Table 4 (75.6 %) for PathMNIST: split not stated",
            ],
        }
    )
