"""One Trainer factory and one ``fit`` for every model hashlab trains.

Hash heads (experiments, continual updates, federated clients), the autoencoder and anything else that trains
goes through :func:`build_trainer`, so where a run executes (CPU, GPUs, DDP over several nodes, mixed precision) is
decided in one place, by a :class:`~hashlab.settings.TrainingConfig`. :func:`fit` adds hashlab's protocol on top:
per-epoch history, training time, and — with ``select_on_val`` — the weights of the epoch with the best validation
mAP restored at the end (test queries are never seen).
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
import time
import warnings
from collections.abc import Iterator, Sequence
from typing import Any, NamedTuple

import numpy as np
import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import Callback, ModelCheckpoint

from hashlab.config import torch_threads
from hashlab.settings import TrainingConfig

__all__ = ["FitResult", "History", "build_trainer", "check_resources", "fit", "fit_arrays", "quiet_lightning"]


class FitResult(NamedTuple):
    """What :func:`fit` returns: per-epoch logged metrics, training wall time and the selected (0-based) epoch."""

    history: list[dict[str, float]]
    seconds: float
    best_epoch: int


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


@contextlib.contextmanager
def quiet_lightning() -> Iterator[None]:
    """Silence Lightning's banners (accelerator, tips) and known warnings about its own internals."""
    loggers = [logging.getLogger(n) for n in ("pytorch_lightning", "lightning.pytorch", "lightning_fabric")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*LeafSpec.*")
            warnings.filterwarnings("ignore", message=".*does not have many workers.*")
            warnings.filterwarnings("ignore", message=".*isinstance.*treespec.*")
            # under DDP: val_map is synced by torchmetrics and the gathered pair loss is equal on every rank
            warnings.filterwarnings("ignore", message=".*sync_dist=True.*")
            warnings.filterwarnings("ignore", message=".*all_gather.*deprecated.*")
            yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


def check_resources(training: TrainingConfig) -> None:
    """Refuse, before any work, a strategy or device count this machine cannot run (one line naming the option)."""
    from pytorch_lightning.strategies import StrategyRegistry

    strategies = ("auto", *StrategyRegistry.available_strategies())
    if training.strategy not in strategies:
        raise ValueError(f"unknown strategy {training.strategy!r}; choose one of {', '.join(strategies)}")
    if training.devices == "auto":
        return
    wanted = int(training.devices)
    accelerator = training.accelerator
    if accelerator == "auto":
        accelerator = "gpu" if torch.cuda.is_available() else "cpu"
    if accelerator in ("gpu", "cuda"):
        have = torch.cuda.device_count()
        if wanted > have:
            raise ValueError(f"devices={wanted} but this machine has {have} CUDA GPU(s)")
    elif accelerator == "cpu":
        have = os.cpu_count() or 1
        if wanted > have:
            raise ValueError(f"devices={wanted} CPU processes but this machine has {have} cores")
        if training.precision in ("16-mixed", "16-true"):
            raise ValueError(
                f"precision={training.precision!r} needs a GPU; on the CPU use 'bf16-mixed' or '32-true'"
            )
    if wanted > 1 and training.strategy == "auto":
        return  # Lightning picks DDP for several devices


def build_trainer(
    training: TrainingConfig,
    *,
    epochs: int | None = None,
    callbacks: Sequence[Callback] = (),
    progress: bool = True,
    validate: bool = True,
    **overrides: Any,
) -> pl.Trainer:
    """The Lightning ``Trainer`` for ``training``: where it runs, how long, and quiet (no logger, no summary).

    ``validate=False`` turns validation and checkpointing off (fits without a validation split); ``overrides`` go
    to ``Trainer`` unchanged (e.g. ``deterministic=True``).
    """
    check_resources(training)
    kwargs: dict[str, Any] = {
        "max_epochs": int(epochs if epochs is not None else training.epochs),
        "accelerator": training.accelerator,
        "devices": training.devices,
        "num_nodes": training.num_nodes,
        "strategy": training.strategy,
        "precision": training.precision,
        "logger": False,
        "enable_progress_bar": progress,
        "enable_model_summary": False,
        "num_sanity_val_steps": 0,
        "log_every_n_steps": 1,
        "callbacks": list(callbacks),
    }
    if not validate:
        kwargs.update(limit_val_batches=0, enable_checkpointing=False)
    kwargs.update(overrides)
    return pl.Trainer(**kwargs)


def fit(
    model: pl.LightningModule,
    datamodule: pl.LightningDataModule,
    training: TrainingConfig,
    *,
    epochs: int | None = None,
    callbacks: Sequence[Callback] = (),
    progress: bool = True,
    select_on_val: bool = True,
    monitor: str = "val_map",
    **trainer_overrides: Any,
) -> FitResult:
    """Train ``model`` on ``datamodule`` as ``training`` says; with ``select_on_val``, restore the weights of the
    epoch with the best ``monitor`` (validation mAP) at the end.

    The loss's own callbacks (``model.loss.callbacks()``, e.g. HashNet's continuation) are added here, so every
    caller runs a method the same way.
    """
    history = History()
    loss = getattr(model, "loss", None)
    own = list(loss.callbacks()) if hasattr(loss, "callbacks") else []
    # The best checkpoint is written by rank 0 and read by every rank: across nodes it must lie on a shared folder
    # (the data folder, as on a cluster), on one node a private temporary folder will do.
    shared = None
    if training.num_nodes > 1:
        from hashlab.config import data_dir

        shared = data_dir() / "checkpoints"
        shared.mkdir(parents=True, exist_ok=True)
    with (
        tempfile.TemporaryDirectory(prefix="hashlab-ckpt-", dir=shared) as ckpt_dir,
        quiet_lightning(),
        torch_threads(training.threads),
    ):
        checkpoint = ModelCheckpoint(dirpath=ckpt_dir, monitor=monitor, mode="max", save_weights_only=True)
        trainer = build_trainer(
            training,
            epochs=epochs,
            callbacks=[history, *([checkpoint] if select_on_val else []), *own, *callbacks],
            progress=progress,
            validate=select_on_val,
            **trainer_overrides,
        )
        start = time.perf_counter()
        trainer.fit(model, datamodule=datamodule)
        seconds = time.perf_counter() - start
        best_epoch = len(history.history) - 1
        if select_on_val and checkpoint.best_model_path:
            state = torch.load(checkpoint.best_model_path, map_location=model.device, weights_only=False)
            model.load_state_dict(state["state_dict"])
            trainer.strategy.barrier()  # every rank has read rank 0's checkpoint before its folder goes
            scores = [row.get(monitor, -np.inf) for row in history.history]
            best_epoch = int(np.argmax(scores))
    return FitResult(history.history, seconds, best_epoch)


def fit_arrays(
    model: pl.LightningModule,
    features: np.ndarray,
    labels: np.ndarray,
    training: TrainingConfig,
    *,
    epochs: int | None = None,
    callbacks: Sequence[Callback] = (),
    progress: bool = False,
    class_names: Sequence[str] | None = None,
) -> FitResult:
    """:func:`fit` without validation on in-memory ``(features, labels)`` (continual updates, federated clients).

    Batches are drawn exactly as :class:`~hashlab.data.EmbeddingDataModule` draws them (seeded by
    ``training.seed``); a batch never exceeds the number of items. The last epoch's weights are kept.
    """
    from hashlab.data import EmbeddingDataModule
    from hashlab.features import EmbeddingSet, FeatureSplit

    features, labels = np.asarray(features), np.asarray(labels)
    if len(features) == 0:
        raise ValueError("no training items to fit on")
    n_cls = int(np.max(labels)) + 1 if labels.ndim == 1 else labels.shape[1]
    names = list(class_names) if class_names is not None else [str(c) for c in range(n_cls)]
    split = FeatureSplit(features, labels)
    data = EmbeddingSet("arrays", "given", split, split, split, class_names=names)
    datamodule = EmbeddingDataModule(
        data, batch_size=min(training.batch_size, len(features)), seed=training.seed, val_db_size=None
    )
    return fit(
        model,
        datamodule,
        training,
        epochs=epochs,
        callbacks=callbacks,
        progress=progress,
        select_on_val=False,
    )
