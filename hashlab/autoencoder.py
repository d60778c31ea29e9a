"""Unsupervised semantic hashing with a convolutional autoencoder (seed 002) and its code-bottleneck variant.

Seed 002 (alsoufi, "Deep Feature Embedding for Content-Based Image Retrieval Using Autoencoders and Semantic
Hashing"): encoder ``z = E(x)``, decoder ``x̂ = D(z)``, hash layer ``y = tanh(W z + b)``, code ``h = sign(y)``,
loss ``L = L_rec + λ L_quant`` (Eqs. 1–7, Algorithm 2). Because the decoder reads ``z``, reconstruction never
trains W and b: the only signal on the hash layer is ``||sign(y) - y||²``, which saturation alone minimises
(seeds-digest §3.4). :class:`ConvAutoencoderHasher` implements that model (``decoder_input="latent"``) and the
workbench variant whose decoder reads the relaxed code (``decoder_input="code"``, ``x̂ = D(y)``), closer to
Salakhutdinov & Hinton's semantic hashing (2009): the code then has to carry the image.

This module also holds what notebook 02 runs: :func:`train_autoencoder` (Lightning ``Trainer``),
:func:`compare_methods` (both variants + LSH / PCA-sign / ITQ + exact float KNN under one protocol),
:func:`load_seed002_claims`, the plots, and :class:`AutoencoderExplorer` (the bits/λ widget).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from hashlab.codes import to_codes
from hashlab.config import torch_threads

__all__ = [
    "AE_METHODS",
    "METHOD_LABELS",
    "AutoencoderExplorer",
    "ComparisonResult",
    "ConvAutoencoderHasher",
    "DECODER_INPUTS",
    "build_explorer",
    "claims_vs_measured",
    "code_statistics",
    "compare_methods",
    "find_medmnist",
    "flatten_images",
    "images_to_tensor",
    "load_seed002_claims",
    "plot_comparison",
    "plot_reconstructions",
    "subsample_bundle",
    "torch_threads",
    "train_autoencoder",
]

DECODER_INPUTS = ("latent", "code")
CLAIMS_PATH = Path(__file__).resolve().parent / "data_files" / "seed002_claims.json"


def images_to_tensor(images: Any, channels: int | None = None, image_size: int | None = None) -> torch.Tensor:
    """Convert images to a float tensor (N, C, H, W) in [0, 1].

    Accepts numpy ``(N, H, W, C)`` (a :class:`hashlab.data.Split`'s layout) or ``(N, H, W)`` for one channel,
    uint8 in 0..255 or float in [0, 1]; or a torch tensor ``(N, C, H, W)``. Raises ``ValueError`` when the shape,
    channel count or size does not match ``channels`` / ``image_size`` (when given).
    """
    if isinstance(images, torch.Tensor):
        x = images.detach().cpu()
        if x.ndim != 4:
            raise ValueError(f"image tensor must be (N, C, H, W), got shape {tuple(x.shape)}")
        x = x.float() / 255.0 if x.dtype == torch.uint8 else x.float()
    else:
        arr = np.asarray(images)
        if arr.ndim == 3:
            arr = arr[..., None]
        if arr.ndim != 4:
            raise ValueError(f"images must be (N, H, W, C) or (N, H, W), got shape {arr.shape}")
        if arr.dtype == np.uint8:
            arr = arr.astype(np.float32) / 255.0
        elif np.issubdtype(arr.dtype, np.floating):
            arr = arr.astype(np.float32)
        else:
            raise ValueError(f"images must be uint8 (0..255) or float in [0, 1], got dtype {arr.dtype}")
        x = torch.from_numpy(np.ascontiguousarray(arr.transpose(0, 3, 1, 2)))
    if x.shape[0] == 0:
        raise ValueError("images is empty (0 images)")
    if not torch.isfinite(x).all():
        raise ValueError("images contain NaN or inf")
    if channels is not None and x.shape[1] != channels:
        raise ValueError(
            f"images have {x.shape[1]} channel(s), the model expects {channels} (shape {tuple(x.shape)})"
        )
    if image_size is not None and tuple(x.shape[2:]) != (image_size, image_size):
        raise ValueError(
            f"images are {x.shape[2]}x{x.shape[3]}, the model expects {image_size}x{image_size} "
            "(resize with hashlab.data.load_dataset(..., size=...))"
        )
    return x


def flatten_images(images: Any) -> np.ndarray:
    """Pixels in [0, 1] as a float32 matrix (N, H*W*C): the input of the training-free baselines."""
    x = images_to_tensor(images)
    return x.permute(0, 2, 3, 1).reshape(len(x), -1).numpy()


def _check_positive_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


class ConvAutoencoderHasher(pl.LightningModule):
    """Convolutional autoencoder with a tanh hash layer (seed 002, Eqs. 1–7 and Algorithm 2).

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
        image_size = _check_positive_int(image_size, "image_size")
        channels = _check_positive_int(channels, "channels")
        bits = _check_positive_int(bits, "bits")
        latent_dim = _check_positive_int(latent_dim, "latent_dim")
        if image_size % 4:
            raise ValueError(f"image_size must be divisible by 4 (two stride-2 stages), got {image_size}")
        if decoder_input not in DECODER_INPUTS:
            raise ValueError(f"decoder_input must be one of {DECODER_INPUTS}, got {decoder_input!r}")
        if not np.isfinite(lam) or lam < 0:
            raise ValueError(f"lam (the quantization weight λ) must be a finite number >= 0, got {lam!r}")
        if not lr > 0:
            raise ValueError(f"lr must be positive, got {lr!r}")
        widths = tuple(_check_positive_int(w, "widths[i]") for w in widths)
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
            nn.Conv2d(channels, c1, 3, 1, 1),
            nn.BatchNorm2d(c1),
            nn.ReLU(),
            nn.Conv2d(c1, c2, 3, 2, 1),
            nn.BatchNorm2d(c2),
            nn.ReLU(),
            nn.Conv2d(c2, c3, 3, 2, 1),
            nn.BatchNorm2d(c3),
            nn.ReLU(),
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
            nn.ConvTranspose2d(c3, c2, 4, 2, 1),
            nn.BatchNorm2d(c2),
            nn.ReLU(),
            nn.ConvTranspose2d(c2, c1, 4, 2, 1),
            nn.BatchNorm2d(c1),
            nn.ReLU(),
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

    def relaxed_codes(self, images: Any) -> np.ndarray:
        """The relaxed codes ``y = tanh(W z + b)`` (N, bits) as float32."""
        return self._outputs(images)["y"].numpy()

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


def train_autoencoder(
    images: Any,
    bits: int = 32,
    decoder_input: str = "latent",
    lam: float = 0.1,
    epochs: int = 20,
    batch_size: int = 64,
    lr: float = 3e-3,
    latent_dim: int = 64,
    widths: Sequence[int] = (8, 16, 32),
    hash_norm: bool = False,
    seed: int = 0,
    progress: bool = True,
    num_threads: int | None = 1,
) -> ConvAutoencoderHasher:
    """Seed, build a :class:`ConvAutoencoderHasher` sized from ``images`` and fit it with Lightning's ``Trainer``.

    ``images``: training images (N, H, W, C) uint8 / float, as in a :class:`hashlab.data.Split` (labels are never
    used: the method is unsupervised). The same seed gives the same weights and codes. ``model.history`` holds the
    per-epoch mean ``total``/``rec``/``quant``; ``model.train_seconds`` the wall time of ``fit``. The defaults
    (Adam 3e-3, batch 64) are tuned for minutes on a CPU; the paper's are Adam 1e-4, batch 128, 100 epochs.
    """
    from hashlab.config import seed_everything

    epochs = _check_positive_int(epochs, "epochs")
    batch_size = _check_positive_int(batch_size, "batch_size")
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
        trainer = pl.Trainer(
            max_epochs=epochs,
            accelerator="cpu",
            devices=1,
            logger=False,
            enable_checkpointing=False,
            enable_model_summary=False,
            enable_progress_bar=progress,
            deterministic=True,
        )
        t0 = time.perf_counter()
        trainer.fit(model, train_dataloaders=loader)
        model.train_seconds = time.perf_counter() - t0
    model.eval()
    return model


# ----- comparison under one protocol ---------------------------------------------------------------------------
AE_METHODS: dict[str, dict[str, Any]] = {
    "ae_latent": {"decoder_input": "latent", "hash_norm": False},
    "ae_latent_bn": {"decoder_input": "latent", "hash_norm": True},
    "ae_code": {"decoder_input": "code", "hash_norm": True},
}
METHOD_LABELS = {
    "ae_latent": "AE, decoder reads z (seed 002 as written)",
    "ae_latent_bn": "AE, decoder reads z, BN hash layer",
    "ae_code": "AE, decoder reads code, BN hash layer (workbench)",
    "lsh": "LSH (random hyperplanes)",
    "pca_sign": "PCA-sign",
    "itq": "ITQ",
    "float_knn": "exact float KNN on pixels (ceiling)",
}


@dataclass
class ComparisonResult:
    """What :func:`compare_methods` returns: the table, trained models and codes per (method, bits)."""

    table: Any  # pandas.DataFrame, one row per (method, bits)
    models: dict[tuple[str, int], ConvAutoencoderHasher] = field(default_factory=dict)
    codes: dict[tuple[str, int], dict[str, np.ndarray]] = field(default_factory=dict)
    labels: dict[str, np.ndarray] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)


def compare_methods(
    bundle: Any,
    bits_list: Sequence[int] = (16, 32, 64),
    lam: float = 0.1,
    epochs: int = 20,
    seed: int = 0,
    k: int = 100,
    methods: Sequence[str] = ("ae_latent", "ae_latent_bn", "ae_code", "lsh", "pca_sign", "itq"),
    progress: bool = True,
    ae_kwargs: dict[str, Any] | None = None,
) -> ComparisonResult:
    """Every method at every code length under one protocol: database = train, queries = test.

    Autoencoders (:data:`AE_METHODS`) train on the training images (no labels); the baselines fit on the flattened
    training pixels.
    Metrics (``hashing_report``): mAP over the full Hamming ranking, P@k, ms per query for a top-k search. The
    exact float KNN ceiling (Euclidean on pixels) is one extra row with ``bits = NaN``.
    """
    import pandas as pd

    from hashlab.baselines import float_knn_report, get_baseline, hashing_report

    unknown = sorted(set(methods) - set(METHOD_LABELS) - {"float_knn"})
    if unknown:
        raise KeyError(f"unknown method(s) {unknown}; available: {sorted(METHOD_LABELS)}")
    bits_list = [_check_positive_int(b, "bits") for b in bits_list]
    train, test = bundle.train, bundle.test
    y_db, y_q = np.asarray(train.labels), np.asarray(test.labels)
    X_db, X_q = flatten_images(train.images), flatten_images(test.images)
    result = ComparisonResult(table=None, labels={"database": y_db, "queries": y_q})
    rows: list[dict[str, Any]] = []
    for bits in bits_list:
        for method in methods:
            t0 = time.perf_counter()
            if method in AE_METHODS:
                model = train_autoencoder(
                    train.images,
                    bits=bits,
                    **AE_METHODS[method],
                    lam=lam,
                    epochs=epochs,
                    seed=seed,
                    progress=progress,
                    **(ae_kwargs or {}),
                )
                result.models[(method, bits)] = model
                encode: Callable[[Any], np.ndarray] = model.encode
                db_in, q_in = train.images, test.images
            else:
                hasher = get_baseline(method, bits, seed=seed).fit(X_db)
                encode, db_in, q_in = hasher.encode, X_db, X_q
            fit_s = time.perf_counter() - t0
            db_codes, q_codes = encode(db_in), encode(q_in)
            result.codes[(method, bits)] = {"database": db_codes, "queries": q_codes}
            report = hashing_report(q_codes, db_codes, y_q, y_db, k=k)
            rows.append({"method": method, "bits": bits, **report, "fit_s": fit_s})
    report = float_knn_report(X_q, X_db, y_q, y_db, k=k)
    rows.append({"method": "float_knn", "bits": None, **report, "fit_s": 0.0})
    table = pd.DataFrame(rows)
    table["bits"] = table["bits"].astype("Int64")  # <NA> for the float ceiling
    table.insert(1, "label", table["method"].map(METHOD_LABELS))
    result.table = table
    n_classes = len(np.unique(y_db))
    result.meta = {
        "dataset": getattr(bundle, "name", "?"),
        "n_database": len(y_db),
        "n_queries": len(y_q),
        "chance_map": float(np.mean([np.mean(y_db == c) for c in y_q])) if n_classes else float("nan"),
        "lam": lam,
        "epochs": epochs,
        "seed": seed,
        "k": k,
    }
    return result


def find_medmnist(candidates: Sequence[str], root: str | Path | None = None, size: int = 28) -> str | None:
    """The first MedMNIST flag in ``candidates`` whose file is already in ``root`` (default
    ``data_dir()/medmnist``), or ``None``: notebooks use it to run a MedMNIST section only when no download is needed.
    """
    from hashlab.config import data_dir
    from hashlab.data import medmnist_file

    folder = Path(root) if root is not None else data_dir() / "medmnist"
    for flag in candidates:
        if (folder / medmnist_file(flag, size)).exists():
            return flag
    return None


def subsample_bundle(bundle: Any, n_train: int, n_test: int, seed: int = 0) -> Any:
    """A copy of ``bundle`` with at most ``n_train`` training and ``n_test`` test images (seeded, without
    replacement, sorted positions); val is kept. For CPU-sized runs on large MedMNIST sets."""
    from dataclasses import replace

    from hashlab.data import Split

    rng = np.random.default_rng(seed)

    def pick(split: Any, n: int) -> Any:
        n = _check_positive_int(n, "sample size")
        if len(split) <= n:
            return split
        idx = np.sort(rng.choice(len(split), size=n, replace=False))
        return Split(split.images[idx], split.labels[idx])

    meta = {**bundle.meta, "subsample": {"n_train": n_train, "n_test": n_test, "seed": seed}}
    return replace(bundle, train=pick(bundle.train, n_train), test=pick(bundle.test, n_test), meta=meta)


def code_statistics(result: ComparisonResult, bits: int) -> Any:
    """Per method at ``bits``: distinct database codes and the mean |bit balance| (0 = each bit half +1, 1 = a
    constant bit). A collapsed hash layer shows one distinct code and balance 1."""
    import pandas as pd

    rows = []
    for (method, b), codes in result.codes.items():
        if b != bits:
            continue
        db = codes["database"]
        rows.append(
            {
                "method": method,
                "label": METHOD_LABELS.get(method, method),
                "distinct codes": len(np.unique(db, axis=0)),
                "of N": len(db),
                "mean |bit balance|": float(np.abs(db.mean(axis=0)).mean()),
            }
        )
    return pd.DataFrame(rows)


# ----- seed 002 claims ---------------------------------------------------------------------------------------------
def load_seed002_claims(path: str | Path | None = None) -> dict[str, Any]:
    """Seed 002's printed result tables (claims, not measurements) as pandas DataFrames keyed by table name.

    Reads ``hashlab/data_files/seed002_claims.json`` and checks it: every table is a non-empty list of records,
    mAP / precision values lie in [0, 1], times are positive. Raises ``ValueError`` naming the bad entry.
    """
    import pandas as pd

    path = Path(path) if path is not None else CLAIMS_PATH
    if not path.exists():
        raise FileNotFoundError(f"seed-002 claims file not found: {path}")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path} is not valid JSON: {exc}") from exc
    tables = raw.get("tables") if isinstance(raw, dict) else None
    if not isinstance(tables, dict) or "table_I" not in tables:
        raise ValueError(f"{path} must hold an object with 'tables' containing at least 'table_I'")
    out: dict[str, Any] = {}
    for name, records in tables.items():
        if not isinstance(records, list) or not records or not all(isinstance(r, dict) for r in records):
            raise ValueError(f"{path}: table {name!r} must be a non-empty list of records")
        df = pd.DataFrame(records)
        for col in df.columns:
            if col.startswith(("map", "p@")) and not df[col].between(0, 1).all():
                raise ValueError(f"{path}: table {name!r} column {col!r} has values outside [0, 1]")
            if col.endswith(("_ms", "_s")) and not (df[col] > 0).all():
                raise ValueError(f"{path}: table {name!r} column {col!r} must be positive")
        out[name] = df
    return out


def claims_vs_measured(table: Any, meta: dict[str, Any], method: str = "ae_latent") -> Any:
    """Seed 002's Table I (labelled ``claim``) stacked over our measurements of ``method`` (labelled ``measured``)."""
    import pandas as pd

    claims = load_seed002_claims()["table_I"].copy()
    claims.insert(0, "source", "claim (seed 002, Table I)")
    ours = table[table["method"] == method][["bits", "map", "p@100", "ms_per_query"]].copy()
    ours = ours.rename(columns={"ms_per_query": "rt_ms"})
    ours.insert(0, "dataset", meta.get("dataset", "?"))
    ours.insert(
        0, "source", f"measured here ({METHOD_LABELS.get(method, method)}, N_db={meta.get('n_database')})"
    )
    ours["bits"] = ours["bits"].astype(int)
    return pd.concat([claims, ours], ignore_index=True)


# ----- plots ---------------------------------------------------------------------------------------------------------
def plot_comparison(table: Any, meta: dict[str, Any] | None = None) -> Any:
    """mAP, P@100 and ms per query against bits for every method; the float KNN ceiling as a dashed line."""
    from matplotlib.figure import Figure

    metrics = [c for c in ("map", "p@100", "ms_per_query") if c in table.columns]
    fig = Figure(figsize=(4.8 * len(metrics), 4.4))
    axes = np.atleast_1d(fig.subplots(1, len(metrics)))
    ceiling = table[table["method"] == "float_knn"]
    for ax, metric in zip(axes, metrics, strict=True):
        for method, group in table[table["method"] != "float_knn"].groupby("method", sort=False):
            ax.plot(
                group["bits"].astype(int), group[metric], marker="o", label=METHOD_LABELS.get(method, method)
            )
        if len(ceiling):
            ax.axhline(
                float(ceiling[metric].iloc[0]), color="k", ls="--", lw=1, label=METHOD_LABELS["float_knn"]
            )
        if meta and metric == "map" and "chance_map" in meta:
            ax.axhline(meta["chance_map"], color="grey", ls=":", lw=1, label="chance")
        ax.set_xscale("log", base=2)
        ax.set_xlabel("bits")
        ax.set_ylabel(metric)
        ax.set_title(metric)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=4, fontsize=8, frameon=False)
    if meta:
        fig.suptitle(
            f"{meta.get('dataset')}: {meta.get('n_queries')} test queries vs {meta.get('n_database')} train"
        )
    fig.tight_layout(rect=(0, 0.14, 1, 1))
    return fig


def plot_reconstructions(images: Any, rows: dict[str, np.ndarray], n: int = 8) -> Any:
    """Grid: the first ``n`` images (top row) and one row per entry of ``rows`` (name -> reconstructions)."""
    from matplotlib.figure import Figure

    x = images_to_tensor(images).permute(0, 2, 3, 1).numpy()
    n = min(n, len(x))
    all_rows = {"original": x, **rows}
    fig = Figure(figsize=(1.1 * n + 2.0, 1.2 * len(all_rows)))
    axes = fig.subplots(len(all_rows), n, squeeze=False)
    for r, (name, imgs) in enumerate(all_rows.items()):
        for c in range(n):
            img = np.clip(imgs[c], 0, 1)
            axes[r, c].imshow(img[..., 0] if img.shape[-1] == 1 else img, cmap="gray", vmin=0, vmax=1)
            axes[r, c].set_xticks([])
            axes[r, c].set_yticks([])
        axes[r, 0].set_ylabel(name, rotation=0, ha="right", va="center", fontsize=8)
    fig.tight_layout()
    return fig


# ----- widget --------------------------------------------------------------------------------------------------------
class AutoencoderExplorer:
    """Widget: sliders for bits and λ and a button that retrains the AE variants in ``methods`` (keys of
    :data:`AE_METHODS`) on the bundle's training images, then redraws their Hamming distance distributions
    (test queries). ``run()`` is the click handler; ``result`` holds the last run's bits, λ, mAP and codes."""

    def __init__(
        self,
        bundle: Any,
        bits_options: Sequence[int] = (8, 16, 32, 64),
        bits: int = 32,
        lam: float = 0.1,
        epochs: int = 10,
        seed: int = 0,
        methods: Sequence[str] = ("ae_latent", "ae_code"),
    ) -> None:
        import ipywidgets as widgets

        if bits not in bits_options:
            raise ValueError(f"bits={bits} must be one of bits_options={tuple(bits_options)}")
        unknown = sorted(set(methods) - set(AE_METHODS))
        if unknown:
            raise KeyError(f"unknown autoencoder method(s) {unknown}; available: {sorted(AE_METHODS)}")
        self.bundle, self.epochs, self.seed = bundle, _check_positive_int(epochs, "epochs"), seed
        self.methods = tuple(methods)
        self.bits = widgets.SelectionSlider(options=list(bits_options), value=bits, description="bits")
        self.lam = widgets.FloatLogSlider(value=lam, base=10, min=-3, max=1, step=0.25, description="λ")
        self.button = widgets.Button(description="Retrain", button_style="primary")
        self.status = widgets.HTML(value="Set bits and λ, then click Retrain.")
        self.output = widgets.Output()
        self.result: dict[str, Any] | None = None
        self.button.on_click(lambda _button: self.run())
        self.widget = widgets.VBox(
            [widgets.HBox([self.bits, self.lam, self.button]), self.status, self.output]
        )

    def run(self) -> dict[str, Any]:
        """Retrain the variants at the sliders' bits and λ, evaluate (test queries vs train database), redraw."""
        from IPython.display import display

        from hashlab.metrics import mean_average_precision
        from hashlab.plots import hamming_distance_histogram

        bits, lam = int(self.bits.value), float(self.lam.value)
        self.status.value = f"training {len(self.methods)} variants at {bits} bits, λ = {lam:.3g} …"
        train, test = self.bundle.train, self.bundle.test
        res: dict[str, Any] = {"bits": bits, "lam": lam, "map": {}, "codes": {}}
        t0 = time.perf_counter()
        for method in self.methods:
            model = train_autoencoder(
                train.images,
                bits=bits,
                **AE_METHODS[method],
                lam=lam,
                epochs=self.epochs,
                seed=self.seed,
                progress=False,
            )
            q, db = model.encode(test.images), model.encode(train.images)
            res["codes"][method] = (q, db)
            res["map"][method] = float(mean_average_precision(q, db, test.labels, train.labels))
        res["seconds"] = time.perf_counter() - t0
        self.result = res
        fig = hamming_distance_histogram(
            {
                f"{METHOD_LABELS[m]}, mAP {res['map'][m]:.3f}: {bits}": res["codes"][m][0]
                for m in self.methods
            },
            test.labels,
            title=f"Hamming distances between test queries, {bits} bits, λ = {lam:.3g}",
        )
        self.output.clear_output(wait=True)
        with self.output:
            display(fig)
        summary = ", ".join(f"{m} {res['map'][m]:.3f}" for m in self.methods)
        self.status.value = f"{bits} bits, λ = {lam:.3g}: mAP {summary} ({res['seconds']:.1f} s)"
        return res


def build_explorer(bundle: Any, **kwargs: Any) -> AutoencoderExplorer:
    """Build the bits/λ explorer for ``bundle`` (display ``explorer.widget``)."""
    return AutoencoderExplorer(bundle, **kwargs)
