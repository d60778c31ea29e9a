"""``HashingModule``: backbone + hash head + loss by name, as one LightningModule for every method.

Training batches are tuples ``(x, y, idx)``: inputs, labels and the positions of the items in the training split
(losses such as CNNH and DSDH keep per-item state indexed by ``idx``). Pairs and triplets are formed inside each
batch by the loss (all pairs ``i != j``; all valid triplets), so batches are shuffled and large enough to hold
several items per class.

Validation uses two loaders: ``0`` = validation-split queries, ``1`` = the training database (a fixed subsample).
The module logs ``val_map`` and ``val_knn_acc`` every epoch; checkpoint selection monitors ``val_map`` on the
validation split only. Test queries are never seen during training or selection.

Methods that need more than a gradient step fit in through the loss's hooks, not a copied loop:
``prepare(train_labels)`` runs once before training (CNNH stage 1, DSDH code init), ``on_epoch_end()`` after each
training epoch (DSDH's discrete B-step); DSH-GAN trains its generator in the same backward pass (gradient reversal).
Extra terms (continual-learning distillation, anchor penalties) are added through ``extra_loss_terms``.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch
from torch import nn

from hashlab.checks import check_finite
from hashlab.codes import to_codes
from hashlab.config import atomic_write
from hashlab.heads import build_head, check_bits
from hashlab.losses import get_loss
from hashlab.metrics import HammingKNNAccuracy, HammingMAP
from hashlab.settings import ExperimentConfig, defaults

_DEFAULTS = defaults()

ExtraLossTerm = Callable[["HashingModule", tuple, torch.Tensor], tuple[str, torch.Tensor]]
"""``term(module, batch, h) -> (name, value)``: an additional loss term added to the method's loss."""

FORMAT_VERSION = 1


class ModelFileError(ValueError):
    """A file given to :meth:`HashingModule.load` is not a usable hashlab model (the message names the file)."""


class HashingModule(pl.LightningModule):
    """A hash head on a backbone, trained by any registered loss.

    Args:
        in_dim: dimension of the backbone output (the embedding size for cached embeddings).
        bits: code length L.
        n_classes: number of classes (label width for multi-hot labels).
        method: registered loss name (``hashlab.losses.available_losses()``).
        hidden: hidden widths of the MLP head.
        lr, weight_decay: Adam settings.
        loss_kwargs: hyperparameters for the loss (margin, weights, ...).
        backbone: any ``nn.Module`` in front of the head; ``None`` means identity (cached embeddings).
        knn_k, map_k: validation KNN k and mAP cut-off (``None``: whole database).
    """

    def __init__(
        self,
        in_dim: int,
        bits: int,
        n_classes: int,
        method: str = _DEFAULTS["method"],
        hidden: Sequence[int] = _DEFAULTS["hidden"],
        dropout: float = 0.0,
        lr: float = _DEFAULTS["lr"],
        weight_decay: float = _DEFAULTS["weight_decay"],
        loss_kwargs: dict[str, Any] | None = None,
        backbone: nn.Module | None = None,
        knn_k: int = _DEFAULTS["knn_k"],
        map_k: int | None = _DEFAULTS["map_k"],
    ):
        super().__init__()
        bits = check_bits(bits)
        self.save_hyperparameters(ignore=["backbone"])
        self.config: dict[str, Any] = {
            "in_dim": int(in_dim),
            "bits": bits,
            "n_classes": int(n_classes),
            "method": method,
            "hidden": [int(h) for h in hidden],
            "dropout": float(dropout),
            "lr": float(lr),
            "weight_decay": float(weight_decay),
            "loss_kwargs": dict(loss_kwargs or {}),
            "knn_k": int(knn_k),
            "map_k": map_k,
        }
        self.backbone = backbone if backbone is not None else nn.Identity()
        self.loss = get_loss(method, bits=bits, n_classes=n_classes, **self.config["loss_kwargs"])
        self.head = build_head(getattr(self.loss, "head", "mlp"), in_dim, bits, hidden, dropout)
        if self.loss.needs_input_dim:  # e.g. DSH-GAN's generator is sized by the embedding
            self.loss.bind_input_dim(int(in_dim))
        self.val_map = HammingMAP(k=map_k)
        self.val_knn = HammingKNNAccuracy(k=knn_k)
        self.extra_loss_terms: list[ExtraLossTerm] = []
        self._prepared = False

    @classmethod
    def from_config(
        cls,
        config: ExperimentConfig,
        in_dim: int,
        n_classes: int,
        backbone: nn.Module | None = None,
        **changes: Any,
    ) -> HashingModule:
        """The module an :class:`~hashlab.settings.ExperimentConfig` describes, for inputs of width ``in_dim``.

        ``changes`` override single arguments (e.g. ``map_k`` clipped to a small validation database).
        """
        kwargs: dict[str, Any] = {
            "method": config.method,
            "bits": config.bits,
            "hidden": config.hidden,
            "lr": config.lr,
            "weight_decay": config.weight_decay,
            "loss_kwargs": config.loss_kwargs,
            "knn_k": config.knn_k,
            "map_k": config.map_k,
        }
        kwargs.update(changes)
        from hashlab.losses.base import _accepted_hparams, loss_class

        if "seed" in _accepted_hparams(loss_class(config.method)) and "seed" not in kwargs["loss_kwargs"]:
            # losses that sample (triplets) follow the run's seed, so a seed spread includes their randomness
            kwargs["loss_kwargs"] = {**kwargs["loss_kwargs"], "seed": config.seed}
        return cls(in_dim=in_dim, n_classes=n_classes, backbone=backbone, **kwargs)

    # ----------------------------------------------------------------------------------------- forward / encode
    @property
    def bits(self) -> int:
        return self.config["bits"]

    def relax(self, features: torch.Tensor) -> torch.Tensor:
        """Head + the loss's activation on backbone features: the relaxed codes ``h``."""
        return self.loss.activation(self.head(features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relax(self.backbone(x))

    @torch.no_grad()
    def encode(self, x: np.ndarray | torch.Tensor, batch_size: int = 4096) -> np.ndarray:
        """±1 ``int8`` codes (``sign(0) = +1``) for inputs ``x``, computed in eval mode in batches."""
        check_finite(x, "inputs")
        was_training = self.training
        self.eval()
        xt = torch.as_tensor(np.asarray(x) if not isinstance(x, torch.Tensor) else x, dtype=torch.float32)
        out = [self(xt[i : i + batch_size].to(self.device)).cpu() for i in range(0, len(xt), batch_size)]
        self.train(was_training)
        return to_codes(torch.cat(out) if out else torch.empty(0, self.bits))

    # ----------------------------------------------------------------------------------------- training
    def _train_labels(self) -> torch.Tensor:
        """All training labels in index order: the datamodule's ``train_labels`` (hashlab data modules have it)."""
        datamodule = getattr(self.trainer, "datamodule", None)
        labels = getattr(datamodule, "train_labels", None)
        if labels is None:
            tensors = getattr(self.trainer.train_dataloader.dataset, "tensors", None)
            if tensors is None or len(tensors) < 2:
                raise TypeError(
                    "HashingModule needs the training labels before training: fit it with a hashlab data module "
                    "(EmbeddingDataModule / ImageDataModule) or a TensorDataset of (x, y, idx)"
                )
            labels = tensors[1]
        return torch.as_tensor(labels)

    def reset_prepared(self) -> None:
        """Make the loss run ``prepare(train_labels)`` again at the next fit (the training set has changed)."""
        self._prepared = False

    def on_train_start(self) -> None:
        if not self._prepared:
            self.loss.prepare(self._train_labels().to(self.device))
            self._prepared = True

    def global_batch(
        self, h: torch.Tensor, y: torch.Tensor, idx: torch.Tensor, features: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Under DDP, every rank's batch (relaxed codes with their gradient, labels, positions, head inputs).

        Pairs and triplets then span the global batch, exactly as one process with ``world_size`` times the batch;
        each rank computes the same loss, and ``all_gather``'s backward (a sum over ranks) followed by DDP's gradient
        average gives the global-batch gradient. Per-item state (CNNH targets, DSDH's memory bank) is indexed by the
        gathered positions, so it stays identical on every rank. See docs/distributed.md. One process: unchanged.
        """
        trainer = self._trainer
        if trainer is None or trainer.world_size == 1:
            return h, y, idx, features

        def gather(t: torch.Tensor, grad: bool) -> torch.Tensor:
            return self.all_gather(t, sync_grads=grad).flatten(0, 1)

        return gather(h, True), gather(y, False), gather(idx, False), gather(features, features.requires_grad)

    def training_step(self, batch: tuple, batch_idx: int) -> torch.Tensor:
        x, y, idx = batch
        features = self.backbone(x)
        h = self.relax(features)
        h_all, y_all, idx_all, features_all = self.global_batch(h, y, idx, features)
        out = self.loss(h_all, y_all, index=idx_all, features=features_all, encoder=self.relax)
        total, parts = out.total, dict(out.parts)
        for term in self.extra_loss_terms:
            name, value = term(self, batch, h)
            parts[name] = value
            total = total + value
        if not torch.isfinite(total):
            raise FloatingPointError(
                f"{self.config['method']} loss became {total.item()} at batch {batch_idx}"
            )
        self.log("train_loss", total, prog_bar=True, on_step=False, on_epoch=True, batch_size=len(x))
        for name, value in parts.items():
            self.log(f"train_{name}", value, on_step=False, on_epoch=True, batch_size=len(x))
        return total

    def on_train_epoch_end(self) -> None:
        self.loss.on_epoch_end()

    # ----------------------------------------------------------------------------------------- validation
    def validation_step(self, batch: tuple, batch_idx: int, dataloader_idx: int = 0) -> None:
        x, y, _ = batch
        codes = torch.where(self(x) >= 0, 1, -1).to(torch.int8)
        role = "query" if dataloader_idx == 0 else "database"
        self.val_map.update(codes, y, role=role)
        self.val_knn.update(codes, y, role=role)

    def on_validation_epoch_end(self) -> None:
        self.log("val_map", self.val_map.compute(), prog_bar=True)
        self.log("val_knn_acc", self.val_knn.compute(), prog_bar=True)
        self.val_map.reset()
        self.val_knn.reset()

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(
            self.parameters(), lr=self.config["lr"], weight_decay=self.config["weight_decay"]
        )

    # ----------------------------------------------------------------------------------------- persistence
    def save(self, path: str | Path) -> Path:
        """Save config (JSON) and state dict in one file, loadable with ``torch.load(weights_only=True)``."""
        path = Path(path)
        payload = {
            "format": "hashlab.HashingModule",
            "format_version": FORMAT_VERSION,
            "config": json.dumps(self.config),
            "state_dict": {k: v.detach().cpu() for k, v in self.state_dict().items()},
        }
        with atomic_write(path) as tmp:
            torch.save(payload, tmp)
        return path

    @classmethod
    def load(cls, path: str | Path, backbone: nn.Module | None = None) -> HashingModule:
        """Load a model written by :meth:`save` (no pickled code is executed)."""
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"no saved model at {path}")
        if path.is_dir():
            raise ModelFileError(f"{path} is a folder, not a hashlab model file")
        try:
            payload = torch.load(io.BytesIO(path.read_bytes()), map_location="cpu", weights_only=True)
        except Exception as err:
            raise ModelFileError(
                f"{path} is not a readable hashlab model file (corrupt or truncated): {type(err).__name__}"
            ) from err
        if not isinstance(payload, dict) or payload.get("format") != "hashlab.HashingModule":
            raise ModelFileError(f"{path} is not a hashlab HashingModule file (no 'format' marker)")
        missing = [key for key in ("config", "state_dict") if key not in payload]
        if missing:
            raise ModelFileError(f"{path} lacks {', '.join(missing)}: not a complete hashlab model file")
        if payload.get("format_version", FORMAT_VERSION) > FORMAT_VERSION:
            raise ModelFileError(
                f"{path} was written by a newer hashlab (format {payload['format_version']} > {FORMAT_VERSION})"
            )
        try:
            config = json.loads(payload["config"])
            if not isinstance(config, dict):
                raise TypeError("config is not a JSON object")
            model = cls(**config, backbone=backbone)
        except (json.JSONDecodeError, TypeError, KeyError, ValueError) as err:
            raise ModelFileError(f"{path} has an unusable model configuration: {err}") from err
        try:
            model.load_state_dict(payload["state_dict"])
        except (RuntimeError, KeyError, TypeError, AttributeError) as err:
            first = str(err).strip().splitlines()[0][:160]
            raise ModelFileError(f"{path}: its weights do not fit its configuration ({first})") from err
        model._prepared = True
        return model
