"""The assumptions record (``assumptions.json``): every choice the thesis leaves open, as made by a run, with
hardware and package versions."""

from __future__ import annotations

import platform
from typing import Any

import numpy as np

from hashlab.reproduce.cells import CellResult, _jsonable
from hashlab.reproduce.presets import SWEEP_KS


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
