"""The convolutional autoencoder hasher of Alsoufi (undated; ``decoder_input="latent"``) and its code-bottleneck variant."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch
from torch import nn

from hashlab.checks import check_positive_int
from hashlab.codes import to_codes
from hashlab.config import torch_threads
from hashlab.data.images import images_to_tensor

__all__ = ["DECODER_INPUTS", "ConvAutoencoderHasher"]

DECODER_INPUTS = ("latent", "code")


def _bn_relu(conv: nn.Conv2d | nn.ConvTranspose2d) -> tuple[nn.Module, nn.Module, nn.Module]:
    """One stage of the encoder or decoder: ``conv``, then BatchNorm over its output channels, then ReLU."""
    return conv, nn.BatchNorm2d(conv.out_channels), nn.ReLU()


class ConvAutoencoderHasher(pl.LightningModule):
    """Convolutional autoencoder with a tanh hash layer (Alsoufi, Eqs. 1–7 and Algorithm 2).

    Encoder: three 3×3 convolutions (stride 1, 2, 2) and a dense layer to ``z ∈ R^d`` (Eq. 1).
    Hash layer: ``y = tanh(W z + b)`` (Eq. 4), ``h = sign(y)`` with ``sign(0) = +1`` (Eq. 5).
    Decoder: a dense layer and two stride-2 transposed convolutions and a 3×3 convolution with a sigmoid, reading
    ``z`` (``decoder_input="latent"``, the paper's Eq. 2) or the relaxed code ``y`` (``decoder_input="code"``).

    Loss (Algorithm 2, steps 11–13, written as per-element means so λ does not depend on image size or bits):

        L = L_rec + λ · L_quant,
        L_rec   = 1/(B·H·W·C) Σ_i ||x_i − x̂_i||²₂,
        L_quant = 1/(B·k)     Σ_i ||sign(y_i) − y_i||²₂.

    (The paper's sums are 1/B Σ; the constant factors 1/(HWC) and 1/k are absorbed into λ, whose value the paper
    never gives. Its Eq. 6 variant ``||h − tanh(z)||²`` needs k = d and is not implemented.)

    ``hash_norm=True`` (a workbench addition, not in the paper) standardises each hash pre-activation over the batch,
    ``y = tanh(BN(W z + b))`` (BatchNorm1d without affine parameters; running statistics at inference), so no bit
    can drift to a constant sign. With the paper's layer and Adam, the hash layer's only gradient is λ·∇L_quant, whose
    scale Adam removes; in our runs the pre-activations then saturate to one sign per bit and every image gets the
    same code (notebook 02 shows it).
    Images must be square with a side divisible by 4 (8×8 digits, 28×28 MedMNIST, 32×32 CIFAR-10).
    """

    def __init__(
        self,
        image_size: int = 8,
        channels: int = 1,
        bits: int = 32,
        latent_dim: int = 64,
        decoder_input: str = "latent",
        lam: float = 0.1,
        lr: float = 3e-3,
        widths: Sequence[int] = (8, 16, 32),
        weight_decay: float = 0.0,
        hash_norm: bool = False,
    ) -> None:
        super().__init__()
        image_size = check_positive_int(image_size, "image_size")
        channels = check_positive_int(channels, "channels")
        bits = check_positive_int(bits, "bits")
        latent_dim = check_positive_int(latent_dim, "latent_dim")
        if image_size % 4:
            raise ValueError(f"image_size must be divisible by 4 (two stride-2 stages), got {image_size}")
        if decoder_input not in DECODER_INPUTS:
            raise ValueError(f"decoder_input must be one of {DECODER_INPUTS}, got {decoder_input!r}")
        if not np.isfinite(lam) or lam < 0:
            raise ValueError(f"lam (the quantization weight λ) must be a finite number >= 0, got {lam!r}")
        if not lr > 0:
            raise ValueError(f"lr must be positive, got {lr!r}")
        widths = tuple(check_positive_int(w, "widths[i]") for w in widths)
        if len(widths) != 3:
            raise ValueError(f"widths must have three entries (one per conv layer), got {widths}")
        self.save_hyperparameters()
        self.image_size, self.channels, self.bits = image_size, channels, bits
        self.latent_dim, self.decoder_input, self.lam, self.lr = (
            latent_dim,
            decoder_input,
            float(lam),
            float(lr),
        )
        self.weight_decay = float(weight_decay)
        c1, c2, c3 = widths
        s = image_size // 4
        self.encoder = nn.Sequential(
            *_bn_relu(nn.Conv2d(channels, c1, 3, 1, 1)),
            *_bn_relu(nn.Conv2d(c1, c2, 3, 2, 1)),
            *_bn_relu(nn.Conv2d(c2, c3, 3, 2, 1)),
            nn.Flatten(),
            nn.Linear(c3 * s * s, latent_dim),
        )
        self.hash_layer = nn.Sequential(nn.Linear(latent_dim, bits))
        if hash_norm:
            self.hash_layer.append(nn.BatchNorm1d(bits, affine=False))
        dec_in = latent_dim if decoder_input == "latent" else bits
        self.decoder = nn.Sequential(
            nn.Linear(dec_in, c3 * s * s),
            nn.ReLU(),
            nn.Unflatten(1, (c3, s, s)),
            *_bn_relu(nn.ConvTranspose2d(c3, c2, 4, 2, 1)),
            *_bn_relu(nn.ConvTranspose2d(c2, c1, 4, 2, 1)),
            nn.Conv2d(c1, channels, 3, 1, 1),
            nn.Sigmoid(),
        )
        self.history: list[dict[str, float]] = []
        self.train_seconds = float("nan")
        self._epoch_sums: dict[str, float] = {}
        self._epoch_count = 0

    # ----- model -------------------------------------------------------------------------------------------------
    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """``x`` (B, C, H, W) in [0, 1] -> dict with ``z`` (B, d), ``y`` (B, k) relaxed code, ``x_hat``."""
        z = self.encoder(x)
        y = torch.tanh(self.hash_layer(z))
        x_hat = self.decoder(z if self.decoder_input == "latent" else y)
        return {"z": z, "y": y, "x_hat": x_hat}

    def loss(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """``{"total", "rec", "quant"}`` for a batch: ``rec + λ·quant`` as in the class docstring."""
        out = self(x)
        y = out["y"]
        h = torch.where(y >= 0, 1.0, -1.0).detach()
        rec = torch.mean((x - out["x_hat"]) ** 2)
        quant = torch.mean((h - y) ** 2)
        return {"total": rec + self.lam * quant, "rec": rec, "quant": quant}

    # ----- Lightning ---------------------------------------------------------------------------------------------
    def _batch_images(self, batch: Any) -> torch.Tensor:
        return batch[0] if isinstance(batch, list | tuple) else batch

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        x = self._batch_images(batch)
        parts = self.loss(x)
        n = x.shape[0]
        for key, value in parts.items():
            self._epoch_sums[key] = self._epoch_sums.get(key, 0.0) + float(value.detach()) * n
        self._epoch_count += n
        self.log("train_loss", parts["total"], prog_bar=True, on_step=False, on_epoch=True, batch_size=n)
        return parts["total"]

    def on_train_epoch_start(self) -> None:
        self._epoch_sums, self._epoch_count = {}, 0

    def on_train_epoch_end(self) -> None:
        if self._epoch_count:
            row = {k: v / self._epoch_count for k, v in self._epoch_sums.items()}
            self.history.append({"epoch": float(self.current_epoch), **row})

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.parameters(), lr=self.lr, weight_decay=self.weight_decay)

    # ----- inference ---------------------------------------------------------------------------------------------
    @torch.no_grad()
    def _outputs(self, images: Any, batch_size: int = 1024) -> dict[str, torch.Tensor]:
        x = images_to_tensor(images, self.channels, self.image_size)
        was_training = self.training
        self.eval()
        try:
            with torch_threads(1):
                parts = [self(x[i : i + batch_size]) for i in range(0, len(x), batch_size)]
        finally:
            self.train(was_training)
        return {k: torch.cat([p[k] for p in parts]) for k in parts[0]}

    def encode(self, images: Any) -> np.ndarray:
        """±1 ``np.int8`` codes (N, bits): ``sign(tanh(W E(x) + b))`` with ``sign(0) = +1``."""
        return to_codes(self._outputs(images)["y"])

    def latent(self, images: Any) -> np.ndarray:
        """The latent ``z = E(x)`` (N, d) as float32."""
        return self._outputs(images)["z"].numpy()

    @torch.no_grad()
    def reconstruct(self, images: Any, source: str = "auto") -> np.ndarray:
        """Reconstructions (N, H, W, C) in [0, 1].

        ``source``: ``"latent"`` (D(z); only for the paper's variant), ``"relaxed"`` (D(y)) or ``"code"``
        (D(sign(y)); both only for the code-reading variant); ``"auto"`` is what the decoder reads in training.
        """
        allowed = ("latent",) if self.decoder_input == "latent" else ("relaxed", "code")
        source = {"auto": allowed[0]}.get(source, source)
        if source not in allowed:
            raise ValueError(
                f"source={source!r} is not available for decoder_input={self.decoder_input!r}; use one of {allowed}"
            )
        out = self._outputs(images)
        if source == "latent":
            x_hat = out["x_hat"]
        else:
            dec_in = out["y"] if source == "relaxed" else torch.where(out["y"] >= 0, 1.0, -1.0)
            self.eval()
            x_hat = self.decoder(dec_in)
        return x_hat.permute(0, 2, 3, 1).numpy()

    def reconstruction_error(self, images: Any, source: str = "auto") -> float:
        """Mean squared error per pixel between the images (in [0, 1]) and their reconstructions."""
        x = images_to_tensor(images, self.channels, self.image_size).permute(0, 2, 3, 1).numpy()
        return float(np.mean((x - self.reconstruct(images, source)) ** 2))
