"""Fit a :class:`ConvAutoencoderHasher` with Lightning's ``Trainer`` (seeded: same seed, same codes)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import torch
from torch.utils.data import DataLoader, TensorDataset

from hashlab.autoencoder.model import ConvAutoencoderHasher
from hashlab.checks import check_positive_int
from hashlab.config import torch_threads
from hashlab.data.images import images_to_tensor
from hashlab.settings import preset
from hashlab.training import build_trainer, quiet_lightning

_PRESET = preset("autoencoder").to_dict()

__all__ = ["train_autoencoder"]


def train_autoencoder(
    images: Any,
    bits: int = 32,
    decoder_input: str = "latent",
    lam: float = 0.1,
    epochs: int = _PRESET["epochs"],
    batch_size: int = _PRESET["batch_size"],
    lr: float = _PRESET["lr"],
    latent_dim: int = 64,
    widths: Sequence[int] = (8, 16, 32),
    hash_norm: bool = False,
    seed: int = _PRESET["seed"],
    progress: bool = True,
    num_threads: int | None = _PRESET["threads"],
) -> ConvAutoencoderHasher:
    """Seed, build a :class:`ConvAutoencoderHasher` sized from ``images`` and fit it with Lightning's ``Trainer``.

    ``images``: training images (N, H, W, C) uint8 / float, as in a :class:`hashlab.data.Split` (labels are never
    used: the method is unsupervised). The same seed gives the same weights and codes. ``model.history`` holds the
    per-epoch mean ``total``/``rec``/``quant``; ``model.train_seconds`` the wall time of ``fit``. The defaults
    (the ``autoencoder`` preset of :mod:`hashlab.settings`: Adam 3e-3, batch 64) are tuned for minutes on a CPU; the paper's are Adam 1e-4, batch 128, 100 epochs.
    """
    from hashlab.config import seed_everything

    epochs = check_positive_int(epochs, "epochs")
    batch_size = check_positive_int(batch_size, "batch_size")
    x = images_to_tensor(images)
    if x.shape[2] != x.shape[3]:
        raise ValueError(f"images must be square, got {x.shape[2]}x{x.shape[3]}")
    with torch_threads(num_threads):
        seed_everything(seed)
        model = ConvAutoencoderHasher(
            image_size=int(x.shape[2]),
            channels=int(x.shape[1]),
            bits=bits,
            latent_dim=latent_dim,
            decoder_input=decoder_input,
            lam=lam,
            lr=lr,
            widths=widths,
            hash_norm=hash_norm,
        )
        loader = DataLoader(
            TensorDataset(x),
            batch_size=batch_size,
            shuffle=True,
            generator=torch.Generator().manual_seed(seed),
        )
        training = preset("autoencoder", epochs=epochs, batch_size=batch_size, lr=lr, seed=seed).training
        trainer = build_trainer(training, progress=progress, validate=False, deterministic=True)
        t0 = time.perf_counter()
        with quiet_lightning():
            trainer.fit(model, train_dataloaders=loader)
        model.train_seconds = time.perf_counter() - t0
    model.eval()
    return model
