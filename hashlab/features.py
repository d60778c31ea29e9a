"""Image features for hashing heads: extraction by backbone, and a checked on-disk cache.

Backbones (``available_backbones()``):

* ``pixels`` — flattened pixels scaled to [0, 1] and standardised per feature with the *training split's* mean and
  std (std below 1e-6 counts as 1); both are stored in the cache and in ``EmbeddingSet.meta``.
* ``vit_b_16`` — torchvision ViT-B/16, ImageNet weights ``IMAGENET1K_V1``, head replaced by identity: 768-d CLS token.
* ``dinov2_vitb14`` — ``torch.hub.load("facebookresearch/dinov2", "dinov2_vitb14")``: 768-d CLS token.

For both networks images are resized (bilinear, antialiased) straight to 224×224 — no crop, the small images are
already centred —, grey images are repeated to 3 channels, and ImageNet mean/std normalisation is applied.
``weights=None`` builds the network with seeded random weights (tests, offline smoke runs).

Cache (:func:`get_embeddings`): one file per (dataset, image size, backbone, weights, split) in
``data_dir()/embeddings/{dataset}_{size}px_{backbone}_{weights}_{split}.npz`` holding ``features``, ``labels``,
(``mean``, ``std`` for pixels), ``meta`` (a JSON string) and ``checksum`` (sha256 over meta and arrays). Files are
written atomically; a file whose metadata or checksum does not match is rebuilt with a :class:`CacheRebuildWarning`.
Extraction is a Lightning ``predict`` job (:mod:`hashlab.extraction`): ``accelerator``, ``devices``, ``num_nodes``,
``strategy`` and ``precision`` place it like a training run (DDP over GPUs and nodes), and every rank saves
checksummed shards under ``data_dir()/embeddings/.partial/…``, so an interrupted run resumes without recomputing a
finished shard; the shards are merged in dataset order into the cache above. On one process the features are
bit-identical to a plain batched loop over the split. ``pixels`` features are computed in-process with numpy unless a
placement option is given.
"""

from __future__ import annotations

import json
import logging
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from hashlab.config import atomic_write, data_dir
from hashlab.data import SPLITS, DatasetBundle, canonical_dataset_name, load_dataset, native_size
from hashlab.extraction import array_digest, barrier, checksum, is_rank_zero, model_digest

if TYPE_CHECKING:
    from hashlab.settings import TrainingConfig

log = logging.getLogger(__name__)

CACHE_VERSION = 1
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
NET_INPUT = 224
BACKBONE_DIMS = {"vit_b_16": 768, "dinov2_vitb14": 768}
DINOV2_URL = "https://dl.fbaipublicfiles.com/dinov2/dinov2_vitb14/dinov2_vitb14_pretrain.pth"
STD_FLOOR = 1e-6
SHARD_VERSION = 1
DEFAULT_PRECISION = "32-true"
_PRECISION_ALIASES = {"32": "32-true", "64": "64-true", "16": "16-mixed", "bf16": "bf16-mixed"}


class CacheRebuildWarning(UserWarning):
    """An embeddings cache file was stale or corrupt and is being rebuilt."""


class WeightsNotAvailableError(FileNotFoundError):
    """Pretrained weights are not in the torch hub cache and could not be downloaded."""


@dataclass
class FeatureSplit:
    """Features (N, D) float32 with their labels (int64 (N,) or multi-hot (N, C))."""

    features: np.ndarray
    labels: np.ndarray

    def __post_init__(self) -> None:
        self.features = np.asarray(self.features, dtype=np.float32)
        if self.features.ndim != 2 or len(self.features) != len(self.labels):
            raise ValueError(
                f"FeatureSplit needs features (N, D) and N labels, got {self.features.shape} and {len(self.labels)}"
            )

    def __len__(self) -> int:
        return len(self.features)


@dataclass
class EmbeddingSet:
    """Train/val/test features of one dataset under one backbone."""

    dataset: str
    backbone: str
    train: FeatureSplit
    val: FeatureSplit
    test: FeatureSplit
    class_names: list[str]
    meta: dict = field(default_factory=dict)

    @property
    def in_dim(self) -> int:
        return int(self.train.features.shape[1])

    @property
    def n_classes(self) -> int:
        return len(self.class_names)

    @property
    def multilabel(self) -> bool:
        return self.train.labels.ndim == 2

    def splits(self) -> dict[str, FeatureSplit]:
        return {"train": self.train, "val": self.val, "test": self.test}

    def subsample(
        self, n_train: int | None, n_val: int | None, n_test: int | None, seed: int = 0
    ) -> EmbeddingSet:
        """A stratified random subset of each split (``None`` or a size ≥ N keeps the split whole).

        Stratified by class for single-label data (``train_test_split(stratify=...)``), plain seeded sampling for
        multi-hot labels; kept items stay in their original order. ``meta["subsample"]`` records the request.
        """
        parts = {}
        for name, n in zip(SPLITS, (n_train, n_val, n_test), strict=True):
            split = getattr(self, name)
            if n is not None and n < 1:
                raise ValueError(f"subsample size for {name} must be >= 1 or None, got {n}")
            parts[name] = (
                split
                if n is None or n >= len(split)
                else _take(split, _stratified_pick(split.labels, n, seed))
            )
        meta = dict(self.meta, subsample={"n_train": n_train, "n_val": n_val, "n_test": n_test, "seed": seed})
        return EmbeddingSet(
            self.dataset, self.backbone, **parts, class_names=list(self.class_names), meta=meta
        )


def _stratified_pick(labels: np.ndarray, n: int, seed: int) -> np.ndarray:
    from sklearn.model_selection import train_test_split

    idx = np.arange(len(labels))
    stratify = None
    if labels.ndim == 1:
        _, counts = np.unique(labels, return_counts=True)
        n_classes = len(counts)
        # stratification needs every class twice and room for every class on both sides
        if counts.min() >= 2 and n_classes <= n <= len(labels) - n_classes:
            stratify = labels
    keep, _ = train_test_split(idx, train_size=n, stratify=stratify, random_state=seed)
    return np.sort(keep)


def _take(split: FeatureSplit, idx: np.ndarray) -> FeatureSplit:
    return FeatureSplit(split.features[idx], split.labels[idx])


def available_backbones() -> list[str]:
    """Names accepted by :func:`extract` and :func:`get_embeddings`."""
    return ["pixels", "vit_b_16", "dinov2_vitb14"]


def _check_backbone(backbone: str) -> None:
    if backbone not in available_backbones():
        raise KeyError(f"unknown backbone {backbone!r}; available: {', '.join(available_backbones())}")


def _weights_tag(backbone: str, weights: str | None) -> str:
    if backbone == "pixels":
        return "none"
    if weights is None:
        return "random"
    if weights != "default":
        raise ValueError(f"weights must be 'default' (pretrained) or None (random init), got {weights!r}")
    return {"vit_b_16": "IMAGENET1K_V1", "dinov2_vitb14": "lvd142m"}[backbone]


# ---------------------------------------------------------------------------------------------------- pixels
def pixel_stats(train_images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-feature mean and std (floored to 1 below 1e-6) of flattened [0, 1] training pixels."""
    flat = train_images.reshape(len(train_images), -1)
    total = np.zeros(flat.shape[1])
    squares = np.zeros(flat.shape[1])
    for start in range(0, len(flat), 8192):  # chunked: no float64 copy of a large training split
        block = flat[start : start + 8192].astype(np.float64) / 255.0
        total += block.sum(axis=0)
        squares += np.square(block).sum(axis=0)
    mean = total / len(flat)
    std = np.sqrt(np.maximum(squares / len(flat) - mean**2, 0.0))
    std[std < STD_FLOOR] = 1.0
    return mean.astype(np.float32), std.astype(np.float32)


def _pixels(images: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    flat = images.reshape(len(images), -1).astype(np.float32) / 255.0
    return ((flat - mean) / std).astype(np.float32)


class PixelFeatures(nn.Module):
    """The ``pixels`` backbone as a network (for the Lightning job): the same float32 operations as ``_pixels``."""

    def __init__(self, mean: np.ndarray, std: np.ndarray) -> None:
        super().__init__()
        self.register_buffer("mean", torch.as_tensor(np.asarray(mean, np.float32)))
        self.register_buffer("std", torch.as_tensor(np.asarray(std, np.float32)))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        flat = images.reshape(len(images), -1).float() / 255.0
        return (flat - self.mean) / self.std


# ---------------------------------------------------------------------------------------------------- networks
def _hub_checkpoint(url: str) -> Path:
    return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(url)


def _missing_weights(
    backbone: str, url: str, exc: BaseException, extra: str = ""
) -> WeightsNotAvailableError:
    target = _hub_checkpoint(url)
    return WeightsNotAvailableError(
        f"pretrained weights for {backbone} are not available offline ({type(exc).__name__}: {exc}). "
        f"Download {url} and save it as {target} (the torch hub cache, {Path(torch.hub.get_dir())}/checkpoints)"
        f"{extra}; or pass weights=None for randomly initialised weights."
    )


def _load_vit_b_16(weights: str | None) -> nn.Module:
    from torchvision.models import ViT_B_16_Weights, vit_b_16

    if weights is None:
        with torch.random.fork_rng():
            torch.manual_seed(0)
            model = vit_b_16(weights=None)
    else:
        spec = ViT_B_16_Weights.IMAGENET1K_V1
        try:
            model = vit_b_16(weights=spec)
        except Exception as exc:
            raise _missing_weights("vit_b_16", spec.url, exc) from exc
    model.heads = nn.Identity()
    return model


def _load_dinov2(weights: str | None) -> nn.Module:
    hub = Path(torch.hub.get_dir())
    local = hub / "facebookresearch_dinov2_main"
    pretrained = weights is not None
    try:
        with torch.random.fork_rng():
            torch.manual_seed(0)
            if local.is_dir():
                return torch.hub.load(str(local), "dinov2_vitb14", source="local", pretrained=pretrained)
            return torch.hub.load("facebookresearch/dinov2", "dinov2_vitb14", pretrained=pretrained)
    except Exception as exc:
        raise _missing_weights(
            "dinov2_vitb14",
            DINOV2_URL,
            exc,
            extra=f", and the code https://github.com/facebookresearch/dinov2/archive/main.zip extracted as {local}",
        ) from exc


def _load_backbone(backbone: str, weights: str | None) -> nn.Module:
    """The network for ``backbone`` in eval mode (CPU)."""
    model = _load_vit_b_16(weights) if backbone == "vit_b_16" else _load_dinov2(weights)
    return model.eval()


def _preprocess(images: np.ndarray | torch.Tensor, device: torch.device) -> torch.Tensor:
    """uint8 (B, H, W, C) -> normalised float (B, 3, 224, 224)."""
    x = torch.from_numpy(np.ascontiguousarray(images)) if isinstance(images, np.ndarray) else images
    x = x.to(device).permute(0, 3, 1, 2).float().div_(255.0)
    if x.shape[1] == 1:
        x = x.expand(-1, 3, -1, -1)
    if x.shape[-2:] != (NET_INPUT, NET_INPUT):
        x = nn.functional.interpolate(
            x, size=(NET_INPUT, NET_INPUT), mode="bilinear", align_corners=False, antialias=True
        )
    mean = torch.tensor(IMAGENET_MEAN, device=device).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=device).view(1, 3, 1, 1)
    return (x - mean) / std


def _net_input(images: torch.Tensor) -> torch.Tensor:
    return _preprocess(images, images.device)


def _identity(images: torch.Tensor) -> torch.Tensor:
    return images


def placement(
    accelerator: str | None = None,
    devices: int | str | None = None,
    num_nodes: int | None = None,
    strategy: str | None = None,
    precision: str | None = None,
    device: str | torch.device | None = None,
) -> tuple[TrainingConfig, dict[str, Any]] | None:
    """Where the extraction job runs, checked before any work; ``None`` when no option was given.

    Returns the :class:`~hashlab.settings.TrainingConfig` holding the options (validated by it and by
    :func:`hashlab.training.check_resources`: unknown strategy or precision, more devices than this machine has ->
    ``ValueError``) and extra ``Trainer`` arguments. The older ``device`` (``"cpu"``, ``"cuda"``, ``"cuda:1"``)
    maps to an accelerator and one device.
    """
    from hashlab.settings import TrainingConfig
    from hashlab.training import check_resources

    options = (accelerator, devices, num_nodes, strategy, precision)
    if device is None and all(o is None for o in options):
        return None
    extra: dict[str, Any] = {}
    if device is not None and accelerator is None and devices is None:
        dev = torch.device(device)
        accelerator = "gpu" if dev.type == "cuda" else dev.type
        if dev.index is not None:
            extra["devices"] = [dev.index]
    if devices is not None and not isinstance(devices, str | int) or isinstance(devices, bool):
        raise ValueError(f"devices must be a positive integer or 'auto', got {devices!r}")
    if isinstance(devices, str) and devices != "auto":
        if not devices.isdigit():
            raise ValueError(f"devices must be a positive integer or 'auto', got {devices!r}")
        devices = int(devices)
    config = TrainingConfig(
        accelerator=accelerator or "auto",
        devices=devices if devices is not None else 1,
        num_nodes=num_nodes if num_nodes is not None else 1,
        strategy=strategy or "auto",
        # Lightning's short names, spelled out: the precision is part of the cache and shard metadata
        precision=_PRECISION_ALIASES.get(str(precision), precision or DEFAULT_PRECISION),
    )
    check_resources(config)
    return config, extra


def _trainer_factory(where: tuple[TrainingConfig, dict[str, Any]] | None, progress: bool):
    from hashlab.training import build_trainer

    config, extra = where if where is not None else placement(accelerator="auto")  # type: ignore[misc]

    def make(callbacks: list) -> Any:
        return build_trainer(config, callbacks=callbacks, progress=progress, validate=False, **extra)

    return make


def extract(
    bundle_or_name: DatasetBundle | str,
    backbone: str,
    split: str,
    batch_size: int = 64,
    device: str | torch.device | None = None,
    weights: str | None = "default",
    *,
    size: int = 28,
    root: str | os.PathLike | None = None,
    progress: bool = True,
    shard_size: int = 2048,
    work_dir: str | os.PathLike | None = None,
    accelerator: str | None = None,
    devices: int | str | None = None,
    num_nodes: int | None = None,
    strategy: str | None = None,
    precision: str | None = None,
    num_workers: int = 0,
    network: nn.Module | None = None,
) -> FeatureSplit:
    """Features of one split of a dataset (a loaded ``DatasetBundle`` or a name, then loaded at ``size``).

    Deep backbones (and ``pixels`` when a placement option is given) run as a Lightning predict job in batches of
    ``batch_size``: ``accelerator`` (default ``"auto"``: a GPU when there is one), ``devices``, ``num_nodes``,
    ``strategy`` (``"ddp"`` …) and ``precision`` (``"32-true"``, ``"bf16-mixed"``, ``"16-mixed"`` on GPUs …) are
    Lightning's; ``device`` is the older single-device form. Every rank saves shards of about ``shard_size`` rows
    in ``work_dir`` (default ``data_dir()/embeddings/.partial/<key>``), so an interrupted extraction resumes; the
    shards are removed once the split is complete. Rows come back in dataset order on every rank. ``network``:
    the already loaded backbone network (``get_embeddings`` loads it once for all splits).
    """
    _check_backbone(backbone)
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; choose one of {SPLITS}")
    if batch_size < 1 or shard_size < 1:
        raise ValueError(f"batch_size and shard_size must be >= 1, got {batch_size} and {shard_size}")
    tag = _weights_tag(backbone, weights)
    where = placement(accelerator, devices, num_nodes, strategy, precision, device)
    bundle = (
        bundle_or_name
        if isinstance(bundle_or_name, DatasetBundle)
        else load_dataset(bundle_or_name, root, size)
    )
    part = getattr(bundle, split)
    if backbone == "pixels":
        mean, std = pixel_stats(bundle.train.images)
        if where is None:
            return FeatureSplit(_pixels(part.images, mean, std), part.labels)
        network = PixelFeatures(mean, std)
        preprocess = _identity
    else:
        network = network if network is not None else _load_backbone(backbone, weights)
        preprocess = _net_input
    from hashlab.extraction import run_extraction

    job = {
        "version": SHARD_VERSION,
        "dataset": bundle.name,
        "size": bundle.meta.get("size"),
        "backbone": backbone,
        "weights": tag,
        "split": split,
        "n": len(part),
        "images": array_digest(part.images),
        "model": model_digest(network),
        "precision": where[0].precision if where is not None else DEFAULT_PRECISION,
    }
    key = f"{bundle.name}_{bundle.meta.get('size')}px_{backbone}_{tag}_{split}"
    folder = Path(work_dir) if work_dir is not None else data_dir() / "embeddings" / ".partial" / key
    features = run_extraction(
        _trainer_factory(where, progress),
        network,
        preprocess,
        part.images,
        job,
        folder,
        batch_size=batch_size,
        shard_size=shard_size,
        num_workers=num_workers,
    )
    return FeatureSplit(features, part.labels)


# ---------------------------------------------------------------------------------------------------- cache
def cache_path(
    dataset: str,
    backbone: str,
    size: int,
    weights: str | None,
    split: str,
    cache_dir: str | os.PathLike | None = None,
) -> Path:
    """Where :func:`get_embeddings` keeps one split's features."""
    folder = Path(cache_dir) if cache_dir is not None else data_dir() / "embeddings"
    return folder / f"{dataset}_{size}px_{backbone}_{_weights_tag(backbone, weights)}_{split}.npz"


_META_DEFAULTS = {"precision": DEFAULT_PRECISION}


def _write_cache(path: Path, meta: dict, arrays: dict[str, np.ndarray]) -> None:
    meta_json = json.dumps(meta, sort_keys=True)
    with atomic_write(path, suffix=".npz") as tmp:
        np.savez(tmp, meta=np.array(meta_json), checksum=np.array(checksum(meta_json, arrays)), **arrays)


def _read_cache(path: Path, expected: dict) -> tuple[dict[str, np.ndarray], dict] | None:
    """Arrays and metadata of a valid cache file, or None (with a warning) when it is unreadable, stale or corrupt."""
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as npz:
            meta_json = str(npz["meta"])
            stored = str(npz["checksum"])
            arrays = {k: npz[k] for k in npz.files if k not in ("meta", "checksum")}
        meta = json.loads(meta_json)
    except Exception as exc:
        reason = f"unreadable ({type(exc).__name__}: {exc})"
    else:
        # keys added after a file was written read as their default (an older fp32 file stays valid)
        found = {k: meta.get(k, _META_DEFAULTS.get(k)) for k in expected}
        wrong = {k: (found[k], v) for k, v in expected.items() if found[k] != v}
        if wrong:
            reason = f"metadata mismatch {wrong}"
        elif checksum(meta_json, arrays) != stored:
            reason = "checksum mismatch"
        elif "features" not in arrays or "labels" not in arrays or len(arrays["features"]) != meta.get("n"):
            reason = "arrays missing or of the wrong length"
        else:
            return arrays, meta
    message = f"embeddings cache {path} is {reason}; rebuilding it"
    log.warning(message)
    warnings.warn(message, CacheRebuildWarning, stacklevel=3)
    return None


def get_embeddings(
    dataset: str,
    backbone: str = "pixels",
    size: int = 28,
    root: str | os.PathLike | None = None,
    *,
    weights: str | None = "default",
    batch_size: int = 64,
    device: str | torch.device | None = None,
    cache_dir: str | os.PathLike | None = None,
    rebuild: bool = False,
    progress: bool = True,
    accelerator: str | None = None,
    devices: int | str | None = None,
    num_nodes: int | None = None,
    strategy: str | None = None,
    precision: str | None = None,
    num_workers: int = 0,
    shard_size: int = 2048,
) -> EmbeddingSet:
    """Train-or-load the features of every split of ``dataset`` under ``backbone`` (see the module docstring).

    ``size`` is the image size the features come from (MedMNIST 28 or MedMNIST+ 64/128/224; digits and cifar10
    use their native size). ``rebuild=True`` ignores existing cache files. ``accelerator``, ``devices``,
    ``num_nodes``, ``strategy``, ``precision`` place the extraction (see :func:`extract`); under DDP every rank
    returns the same set and rank 0 writes the cache. ``shard_size``: rows per resumable shard and rank.
    """
    _check_backbone(backbone)
    tag = _weights_tag(backbone, weights)
    where = placement(
        accelerator, devices, num_nodes, strategy, precision, device
    )  # bad options: before any work
    run_precision = where[0].precision if where is not None else DEFAULT_PRECISION
    dataset = canonical_dataset_name(dataset)  # one spelling ("DIGITS" is "digits"): one cache
    size = native_size(dataset, size)
    bundle: DatasetBundle | None = None
    network: nn.Module | None = None  # a deep backbone is loaded once, for the first split that needs it
    splits: dict[str, FeatureSplit] = {}
    meta_out: dict[str, Any] = {}
    for split in SPLITS:
        path = cache_path(dataset, backbone, size, weights, split, cache_dir)
        expected = {
            "version": CACHE_VERSION,
            "dataset": dataset,
            "backbone": backbone,
            "weights": tag,
            "image_size": size,
            "split": split,
            "precision": run_precision,
        }
        cached = None if rebuild else _read_cache(path, expected)
        if cached is None:
            if bundle is None:
                bundle = load_dataset(dataset, root, size)
            part = getattr(bundle, split)
            arrays = {"labels": part.labels}
            if backbone == "pixels":
                mean, std = pixel_stats(bundle.train.images)
                arrays.update(mean=mean, std=std)
            elif network is None:
                network = _load_backbone(backbone, weights)
            fs = extract(
                bundle,
                backbone,
                split,
                batch_size,
                weights=weights,
                progress=progress,
                accelerator=accelerator,
                devices=devices,
                num_nodes=num_nodes,
                strategy=strategy,
                precision=precision,
                device=device,
                num_workers=num_workers,
                network=network,
                shard_size=shard_size,
            )
            arrays["features"] = fs.features
            meta = dict(
                expected,
                n=len(part),
                dim=int(arrays["features"].shape[1]),
                native_size=int(part.images.shape[1]),
                class_names=list(bundle.class_names),
                dataset_meta={
                    k: v for k, v in bundle.meta.items() if isinstance(v, str | int | float | bool)
                },
            )
            if is_rank_zero():
                _write_cache(path, meta, arrays)
                log.info("wrote %s", path)
            barrier()  # no rank reads the cache before rank 0 has written it
        else:
            arrays, meta = cached
        splits[split] = FeatureSplit(arrays["features"], arrays["labels"])
        meta_out[split] = {"path": str(path), "n": meta["n"]}
        class_names = meta["class_names"]
        if backbone == "pixels":
            meta_out["pixel_mean"], meta_out["pixel_std"] = arrays["mean"], arrays["std"]
    meta_out.update(
        weights=tag, image_size=size, dim=splits["train"].features.shape[1], precision=run_precision
    )
    return EmbeddingSet(dataset, backbone, **splits, class_names=class_names, meta=meta_out)
