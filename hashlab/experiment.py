"""One experiment path for every entry point: notebooks, widgets, ``hashlab train`` and ``hashlab reproduce``.

``run(ExperimentConfig(...))`` loads (or reuses) cached embeddings, trains a :class:`~hashlab.module.HashingModule`
with Lightning, selects the epoch with the best **validation** mAP, encodes every split and evaluates test queries
against the training database (the thesis's protocol: database = train split, queries = test split).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from pytorch_lightning.callbacks import Callback

from hashlab.checks import check_finite
from hashlab.config import seed_everything
from hashlab.data import EmbeddingDataModule, check_splits
from hashlab.diagnostics import check_trainable, warn_if_degenerate
from hashlab.features import EmbeddingSet, get_embeddings
from hashlab.metrics import retrieval_report
from hashlab.module import HashingModule
from hashlab.settings import ExperimentConfig, preset
from hashlab.training import fit, quiet_lightning

SPLITS = ("train", "val", "test")

__all__ = [
    "ExperimentConfig",
    "ExperimentResult",
    "build_model",
    "evaluate",
    "fit",
    "load_embeddings",
    "preset",
    "quiet_lightning",
    "run",
]


@dataclass
class ExperimentResult:
    """Codes, metrics (test queries vs training database), validation metrics, history and timings of a run."""

    config: ExperimentConfig
    model: HashingModule
    codes: dict[str, np.ndarray]
    labels: dict[str, np.ndarray]
    metrics: dict[str, float]
    val_metrics: dict[str, float]
    history: list[dict[str, float]]
    train_seconds: float
    best_epoch: int
    class_names: list[str]
    embeddings: EmbeddingSet
    warnings: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """One flat row: the config's main fields, test metrics and training time."""
        c = self.config
        row: dict[str, Any] = {
            "dataset": c.dataset,
            "backbone": c.backbone,
            "method": c.method,
            "bits": c.bits,
        }
        row.update({k: round(v, 4) for k, v in self.metrics.items()})
        row["best_epoch"] = self.best_epoch
        row["train_s"] = round(self.train_seconds, 2)
        row["warnings"] = "; ".join(self.warnings) if self.warnings else "none"
        return row


def load_embeddings(config: ExperimentConfig) -> EmbeddingSet:
    """The cached embeddings a config names (subsampled, stratified and seeded, when ``config.subsample`` is set)."""
    embeddings = get_embeddings(config.dataset, config.backbone, size=config.size)
    if config.subsample is not None:
        embeddings = embeddings.subsample(*config.subsample, seed=config.seed)
    return embeddings


def build_model(config: ExperimentConfig, embeddings: EmbeddingSet) -> HashingModule:
    """A fresh, seeded ``HashingModule`` sized for ``embeddings``."""
    seed_everything(config.seed)
    # validation mAP@k with a database smaller than k is clipped by the metric itself (HammingMAP)
    return HashingModule.from_config(config, in_dim=embeddings.in_dim, n_classes=len(embeddings.class_names))


def evaluate(
    model: HashingModule, embeddings: EmbeddingSet, knn_k: int = 7, map_k: int | None = None
) -> tuple[dict[str, np.ndarray], dict[str, float], dict[str, float]]:
    """Encode every split; metrics of test queries and of validation queries against the training database.

    ``map_k`` larger than the training database is clipped to it.
    """
    codes = {split: model.encode(getattr(embeddings, split).features) for split in SPLITS}
    if map_k is not None:
        map_k = min(int(map_k), len(codes["train"]))
    labels = {split: getattr(embeddings, split).labels for split in SPLITS}
    test = retrieval_report(
        codes["test"], codes["train"], labels["test"], labels["train"], k_map=map_k, knn_k=knn_k
    )
    val = retrieval_report(
        codes["val"], codes["train"], labels["val"], labels["train"], k_map=map_k, knn_k=knn_k
    )
    return codes, test, val


def run(
    config: ExperimentConfig,
    embeddings: EmbeddingSet | None = None,
    callbacks: Sequence[Callback] = (),
    progress: bool = True,
    **trainer_overrides: Any,
) -> ExperimentResult:
    """Train one hash head as ``config`` says and evaluate it; see the module docstring for the protocol."""
    from hashlab.training import check_resources

    check_resources(config.training)
    if embeddings is None:
        embeddings = load_embeddings(config)
    check_splits(embeddings)
    for split in SPLITS:
        part = getattr(embeddings, split)
        check_finite(part.features, f"{split} embeddings")
        if len(part.features) != len(part.labels):
            raise ValueError(
                f"{split} split has {len(part.features)} feature rows but {len(part.labels)} labels"
            )
    check_trainable(config.batch_size, embeddings.train.labels, config.method)
    model = build_model(config, embeddings)
    datamodule = EmbeddingDataModule(
        embeddings, batch_size=config.batch_size, seed=config.seed, val_db_size=config.val_db_size
    )
    history, seconds, best_epoch = fit(
        model, datamodule, config.training, callbacks=callbacks, progress=progress, **trainer_overrides
    )
    model = model.cpu()
    codes, metrics, val_metrics = evaluate(model, embeddings, config.knn_k, config.map_k)
    labels = {split: getattr(embeddings, split).labels for split in SPLITS}
    return ExperimentResult(
        config=config,
        model=model,
        codes=codes,
        labels=labels,
        metrics=metrics,
        val_metrics=val_metrics,
        history=history,
        train_seconds=seconds,
        best_epoch=best_epoch,
        class_names=list(embeddings.class_names),
        embeddings=embeddings,
        warnings=warn_if_degenerate(codes, labels),
    )
