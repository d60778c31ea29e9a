"""One experiment path for every entry point: notebooks, widgets, ``hashlab train`` and ``hashlab reproduce``.

``run(ExperimentConfig(...))`` loads (or reuses) cached embeddings, trains a :class:`~hashlab.module.HashingModule`
with Lightning, selects the epoch with the best **validation** mAP, encodes every split and evaluates test queries
against the training database (the thesis's protocol: database = train split, queries = test split).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import tempfile
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import Callback, ModelCheckpoint

from hashlab.config import seed_everything
from hashlab.data import EmbeddingDataModule
from hashlab.features import EmbeddingSet, get_embeddings
from hashlab.heads import check_bits
from hashlab.losses import available_losses
from hashlab.metrics import retrieval_report
from hashlab.module import HashingModule, check_features

SPLITS = ("train", "val", "test")


@dataclass
class ExperimentConfig:
    """Everything that defines one training run; the CLI parses it, widgets edit it, ``reproduce`` iterates it."""

    dataset: str = "digits"
    backbone: str = "pixels"
    method: str = "dpsh"
    bits: int = 32
    epochs: int = 30
    batch_size: int = 128
    lr: float = 1e-3
    weight_decay: float = 1e-5
    hidden: tuple[int, ...] = (512,)
    seed: int = 0
    loss_kwargs: dict[str, Any] = field(default_factory=dict)
    knn_k: int = 7
    map_k: int | None = None
    subsample: tuple[int, int, int] | None = None
    size: int = 28
    val_db_size: int = 5000

    def __post_init__(self) -> None:
        self.bits = check_bits(self.bits)
        self.hidden = tuple(int(h) for h in self.hidden)
        if self.method not in available_losses():
            raise KeyError(f"unknown method {self.method!r}; available: {', '.join(available_losses())}")
        for name in ("epochs", "batch_size", "knn_k"):
            if int(getattr(self, name)) <= 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if self.lr <= 0 or not np.isfinite(self.lr):
            raise ValueError(f"learning rate must be positive and finite, got {self.lr}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def replace(self, **changes: Any) -> ExperimentConfig:
        return dataclasses.replace(self, **changes)


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
        return row


class History(Callback):
    """Keeps the logged metrics of every epoch in memory (``history[epoch] = {name: value}``).

    A row is recorded when the next epoch starts (and when training ends): by then Lightning has reduced both the
    training and the validation metrics of the finished epoch.
    """

    def __init__(self) -> None:
        self.history: list[dict[str, float]] = []

    def _record(self, trainer: pl.Trainer) -> None:
        row = {"epoch": len(self.history)}
        row.update(
            {k: float(v) for k, v in trainer.callback_metrics.items() if torch.as_tensor(v).numel() == 1}
        )
        self.history.append(row)

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.current_epoch > 0:
            self._record(trainer)

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._record(trainer)


def method_callbacks(method: str) -> list[Callback]:
    """Callbacks that are part of a method itself (HashNet's continuation schedule of ``beta``)."""
    if method == "hashnet":
        from hashlab.callbacks import HashNetContinuation

        return [HashNetContinuation()]
    return []


def load_embeddings(config: ExperimentConfig) -> EmbeddingSet:
    """The cached embeddings a config names (subsampled, stratified and seeded, when ``config.subsample`` is set)."""
    embeddings = get_embeddings(config.dataset, config.backbone, size=config.size)
    if config.subsample is not None:
        embeddings = embeddings.subsample(*config.subsample, seed=config.seed)
    return embeddings


def build_model(config: ExperimentConfig, embeddings: EmbeddingSet) -> HashingModule:
    """A fresh, seeded ``HashingModule`` sized for ``embeddings``."""
    seed_everything(config.seed)
    return HashingModule(
        in_dim=embeddings.in_dim,
        bits=config.bits,
        n_classes=len(embeddings.class_names),
        method=config.method,
        hidden=config.hidden,
        lr=config.lr,
        weight_decay=config.weight_decay,
        loss_kwargs=config.loss_kwargs,
        knn_k=config.knn_k,
        map_k=config.map_k,
    )


@contextlib.contextmanager
def quiet_lightning():
    """Silence Lightning's banners (accelerator, tips) and a known deprecation warning of its own internals."""
    loggers = [logging.getLogger(n) for n in ("pytorch_lightning", "lightning.pytorch", "lightning_fabric")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*LeafSpec.*")
            warnings.filterwarnings("ignore", message=".*does not have many workers.*")
            yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


def fit(
    model: HashingModule,
    datamodule: pl.LightningDataModule,
    epochs: int,
    callbacks: Sequence[Callback] = (),
    progress: bool = True,
    select_on_val: bool = True,
    **trainer_kwargs: Any,
) -> tuple[list[dict[str, float]], float, int]:
    """Train with Lightning; restore the weights of the epoch with the best validation mAP.

    Returns (per-epoch history, training seconds, best epoch).
    """
    history = History()
    with tempfile.TemporaryDirectory(prefix="hashlab-ckpt-") as ckpt_dir, quiet_lightning():
        checkpoint = ModelCheckpoint(dirpath=ckpt_dir, monitor="val_map", mode="max", save_weights_only=True)
        trainer = pl.Trainer(
            max_epochs=epochs,
            accelerator="auto",
            devices=1,
            logger=False,
            enable_progress_bar=progress,
            enable_model_summary=False,
            num_sanity_val_steps=0,
            log_every_n_steps=1,
            callbacks=[history, *([checkpoint] if select_on_val else []), *callbacks],
            **trainer_kwargs,
        )
        start = time.perf_counter()
        trainer.fit(model, datamodule=datamodule)
        seconds = time.perf_counter() - start
        best_epoch = len(history.history) - 1
        if select_on_val and checkpoint.best_model_path:
            state = torch.load(checkpoint.best_model_path, map_location=model.device, weights_only=False)
            model.load_state_dict(state["state_dict"])
            scores = [row.get("val_map", -np.inf) for row in history.history]
            best_epoch = int(np.argmax(scores))
    return history.history, seconds, best_epoch


def evaluate(
    model: HashingModule, embeddings: EmbeddingSet, knn_k: int = 7, map_k: int | None = None
) -> tuple[dict[str, np.ndarray], dict[str, float], dict[str, float]]:
    """Encode every split; metrics of test queries and of validation queries against the training database."""
    codes = {split: model.encode(getattr(embeddings, split).features) for split in SPLITS}
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
    **trainer_kwargs: Any,
) -> ExperimentResult:
    """Train one hash head as ``config`` says and evaluate it; see the module docstring for the protocol."""
    if embeddings is None:
        embeddings = load_embeddings(config)
    for split in SPLITS:
        part = getattr(embeddings, split)
        check_features(part.features, f"{split} embeddings")
        if len(part.features) != len(part.labels):
            raise ValueError(
                f"{split} split has {len(part.features)} feature rows but {len(part.labels)} labels"
            )
    model = build_model(config, embeddings)
    datamodule = EmbeddingDataModule(
        embeddings, batch_size=config.batch_size, seed=config.seed, val_db_size=config.val_db_size
    )
    history, seconds, best_epoch = fit(
        model, datamodule, config.epochs, callbacks, progress, **trainer_kwargs
    )
    model = model.cpu()
    codes, metrics, val_metrics = evaluate(model, embeddings, config.knn_k, config.map_k)
    return ExperimentResult(
        config=config,
        model=model,
        codes=codes,
        labels={split: getattr(embeddings, split).labels for split in SPLITS},
        metrics=metrics,
        val_metrics=val_metrics,
        history=history,
        train_seconds=seconds,
        best_epoch=best_epoch,
        class_names=list(embeddings.class_names),
        embeddings=embeddings,
    )
