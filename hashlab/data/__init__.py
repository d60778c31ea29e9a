"""Datasets with fixed train/val/test splits and the Lightning data modules that feed hashing models.

Datasets (``available_datasets()``):

* ``digits`` — scikit-learn's bundled 8×8 digits (1797 images, 10 classes), embedded so quickstart and CI need no
  download. The 0..16 grey levels are scaled to uint8 0..255 (``round(v * 255 / 16)``), images (N, 8, 8, 1).
  Split: stratified 60/20/20 train/val/test with ``sklearn.model_selection.train_test_split``, seed 0 (fixed):
  1079/359/359 images.
* every 2D MedMNIST v2 flag in ``medmnist.INFO`` (``pathmnist`` first) at sizes 28/64/128/224, read from
  ``{root}/{flag}{"" | "_64" | "_128" | "_224"}.npz`` with numpy (official splits). The file's keys, shapes and split
  counts are checked against ``INFO``, and its MD5 against ``INFO["MD5…"]``; a hashed file gets a small sidecar
  ``{file}.md5ok`` stamp (size + mtime + MD5), so the MD5 is computed once per file version (in a read-only folder
  — no write bit — nothing is written and the MD5 is remembered for the process only). ``verify=False`` skips
  the MD5 (not the structural checks) for very large files. A missing file is downloaded from the INFO URL into a
  temporary file that is renamed only after its MD5 matched; when that fails :class:`DatasetNotAvailableError` names
  the file, the URL and the folder to place it in.
* ``cifar10`` — torchvision's CIFAR-10 (50k train / 10k test). Validation is a stratified, seeded (seed 0) hold-out of
  5000 training images; the training split (= retrieval database) is the remaining 45000.

Retrieval protocol (:func:`retrieval_protocol`): database = train, queries = test, validation = val.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import urllib.request
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch
from torch.utils.data import BatchSampler, DataLoader, Dataset, RandomSampler, SequentialSampler

from hashlab.config import atomic_write, data_dir

SPLITS = ("train", "val", "test")
MEDMNIST_SIZES = (28, 64, 128, 224)
DIGITS_SEED = 0
DIGITS_FRACTIONS = (0.6, 0.2, 0.2)
CIFAR10_VAL_SIZE = 5000
CIFAR10_SEED = 0
CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
DOWNLOAD_TIMEOUT_S = 30


class DatasetNotAvailableError(FileNotFoundError):
    """A dataset file is missing and could not be downloaded; the message says what to place where."""


class DatasetCorruptError(ValueError):
    """A dataset file exists but is unreadable, has the wrong structure or the wrong checksum."""


@dataclass
class Split:
    """One split: ``images`` (N, H, W, C) uint8 and ``labels`` int64 (N,) or multi-hot (N, C) in {0, 1}."""

    images: np.ndarray
    labels: np.ndarray

    def __post_init__(self) -> None:
        if self.images.ndim != 4:
            raise ValueError(f"Split.images must be (N, H, W, C), got shape {self.images.shape}")
        if self.images.dtype != np.uint8:
            raise ValueError(f"Split.images must be uint8, got {self.images.dtype}")
        if self.labels.ndim not in (1, 2) or len(self.labels) != len(self.images):
            raise ValueError(
                f"Split.labels must be (N,) or (N, C) with N = {len(self.images)} images, got {self.labels.shape}"
            )

    def __len__(self) -> int:
        return len(self.images)


@dataclass
class DatasetBundle:
    """A dataset with its three fixed splits, class names and provenance (``meta``)."""

    name: str
    train: Split
    val: Split
    test: Split
    class_names: list[str]
    multilabel: bool
    meta: dict = field(default_factory=dict)

    @property
    def n_classes(self) -> int:
        return len(self.class_names)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.train.images.shape[1:])  # type: ignore[return-value]

    def splits(self) -> dict[str, Split]:
        return {"train": self.train, "val": self.val, "test": self.test}

    def describe(self) -> dict[str, Any]:
        """Split sizes and shape facts, e.g. ``{"dataset": "digits", "train": 1079, "val": 359, "test": 359, ...}``."""
        return {
            "dataset": self.name,
            "train": len(self.train),
            "val": len(self.val),
            "test": len(self.test),
            "image_shape": self.image_shape,
            "n_classes": self.n_classes,
            "multilabel": self.multilabel,
        }


def _medmnist_info() -> dict[str, dict]:
    from medmnist import INFO

    return INFO


def medmnist_flags() -> list[str]:
    """The 2D MedMNIST flags in ``medmnist.INFO`` order (``pathmnist`` first); 3D volumes are not supported."""
    return [flag for flag in _medmnist_info() if not flag.endswith("3d")]


def available_datasets() -> list[str]:
    """Names accepted by :func:`load_dataset`."""
    return ["digits", *medmnist_flags(), "cifar10"]


def load_dataset(
    name: str,
    root: str | os.PathLike | None = None,
    size: int = 28,
    *,
    download: bool = True,
    verify: bool = True,
) -> DatasetBundle:
    """Load ``name`` with its fixed train/val/test splits.

    ``root`` is the folder holding the files (default ``data_dir()/medmnist`` or ``data_dir()/cifar10``; unused for
    ``digits``). ``size`` selects MedMNIST+ resolutions (28, 64, 128, 224); digits is 8 px and CIFAR-10 32 px, so they
    accept only their native size or the default 28. ``download=False`` never touches the network. ``verify=False``
    skips the MD5 of MedMNIST files (keys, shapes and split counts are still checked).
    """
    if not isinstance(name, str) or name.lower() not in available_datasets():
        raise KeyError(f"unknown dataset {name!r}; available: {', '.join(available_datasets())}")
    name = name.lower()
    if name == "digits":
        _check_native_size(name, size, 8)
        return _load_digits()
    if name == "cifar10":
        _check_native_size(name, size, 32)
        return _load_cifar10(Path(root) if root is not None else data_dir() / "cifar10", download=download)
    if size not in MEDMNIST_SIZES:
        raise ValueError(f"unsupported size {size!r} for {name}: MedMNIST 2D sizes are {MEDMNIST_SIZES}")
    return _load_medmnist(
        name, Path(root) if root is not None else data_dir() / "medmnist", size, download, verify
    )


def native_size(name: str, size: int = 28) -> int:
    """The image size ``load_dataset(name, size=size)`` returns: 8 for digits, 32 for cifar10, else ``size``."""
    return {"digits": 8, "cifar10": 32}.get(name.lower(), size)


def _check_native_size(name: str, size: int, native: int) -> None:
    if size not in (28, native):
        raise ValueError(f"unsupported size {size!r} for {name}: it has only its native {native} px images")


# ---------------------------------------------------------------------------------------------------- digits
def _stratified_three_way(
    labels: np.ndarray, fractions: tuple[float, float, float], seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Indices of a stratified train/val/test partition (sizes from ``fractions``)."""
    from sklearn.model_selection import train_test_split

    idx = np.arange(len(labels))
    n_test = int(round(fractions[2] * len(labels)))
    n_val = int(round(fractions[1] * len(labels)))
    rest, test = train_test_split(idx, test_size=n_test, stratify=labels, random_state=seed)
    train, val = train_test_split(rest, test_size=n_val, stratify=labels[rest], random_state=seed)
    return np.sort(train), np.sort(val), np.sort(test)


def _load_digits() -> DatasetBundle:
    from sklearn.datasets import load_digits

    raw = load_digits()
    images = np.rint(raw.images * (255.0 / 16.0)).astype(np.uint8)[..., None]
    labels = raw.target.astype(np.int64)
    tr, va, te = _stratified_three_way(labels, DIGITS_FRACTIONS, DIGITS_SEED)
    return DatasetBundle(
        name="digits",
        train=Split(images[tr], labels[tr]),
        val=Split(images[va], labels[va]),
        test=Split(images[te], labels[te]),
        class_names=[str(i) for i in range(10)],
        multilabel=False,
        meta={
            "source": "sklearn.datasets.load_digits",
            "size": 8,
            "scaling": "uint8 = round(value * 255 / 16) from 0..16",
            "split": f"stratified {DIGITS_FRACTIONS} train/val/test, train_test_split seed {DIGITS_SEED}",
            "indices": {"train": tr, "val": va, "test": te},
        },
    )


# ---------------------------------------------------------------------------------------------------- MedMNIST
def medmnist_file(flag: str, size: int = 28) -> str:
    """File name of a MedMNIST flag at ``size``: ``pathmnist.npz``, ``pathmnist_224.npz`` …"""
    return f"{flag}{'' if size == 28 else f'_{size}'}.npz"


def medmnist_url(flag: str, size: int = 28) -> str:
    """Download URL of a MedMNIST file, from ``medmnist.INFO``."""
    return _medmnist_info()[flag]["url" if size == 28 else f"url_{size}"]


def medmnist_md5(flag: str, size: int = 28) -> str:
    return _medmnist_info()[flag]["MD5" if size == 28 else f"MD5_{size}"]


def file_md5(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


_MD5_MEMO: dict[tuple[str, int, int], str] = {}


def _cached_md5(path: Path) -> str:
    """MD5 of ``path``, remembered in a ``.md5ok`` sidecar (or in memory if the folder is read-only).

    The cache key is (size, mtime_ns): a replaced or edited file is hashed again.
    """
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if key in _MD5_MEMO:
        return _MD5_MEMO[key]
    stamp = path.with_name(path.name + ".md5ok")
    try:
        info = json.loads(stamp.read_text())
        if info.get("size") == stat.st_size and info.get("mtime_ns") == stat.st_mtime_ns:
            _MD5_MEMO[key] = info["md5"]
            return info["md5"]
    except (OSError, ValueError, KeyError, TypeError):
        pass
    md5 = file_md5(path)
    _MD5_MEMO[key] = md5
    if _folder_writable(path.parent):  # a read-only folder (shared data) is never written: memo only
        try:
            with atomic_write(stamp) as tmp:
                tmp.write_text(json.dumps({"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "md5": md5}))
        except OSError:
            pass
    return md5


def _folder_writable(folder: Path) -> bool:
    """True if ``folder`` is writable for us *and* its mode has a write bit (root ignores mode bits otherwise)."""
    try:
        return bool(folder.stat().st_mode & 0o222) and os.access(folder, os.W_OK)
    except OSError:
        return False


def _download(url: str, dest: Path) -> None:
    """Download ``url`` to ``dest`` (a temporary path chosen by the caller)."""
    with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as response, open(dest, "wb") as out:
        shutil.copyfileobj(response, out, length=1 << 20)


def _fetch_medmnist(flag: str, size: int, path: Path) -> None:
    url = medmnist_url(flag, size)
    expected = medmnist_md5(flag, size)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_write(path) as tmp:
            _download(url, tmp)
            got = file_md5(tmp)
            if got != expected:
                raise DatasetCorruptError(f"downloaded {url} has MD5 {got}, expected {expected}")
    except Exception as exc:  # any failure: the temp file is gone (atomic_write), report what to do by hand
        raise DatasetNotAvailableError(
            f"MedMNIST file {path.name} is not in {path.parent} and could not be downloaded "
            f"({type(exc).__name__}: {exc}). Download {url} and save it as {path} "
            f"(MD5 {expected}), i.e. put {path.name} in the folder {path.parent}."
        ) from exc


def _load_medmnist(flag: str, root: Path, size: int, download: bool, verify: bool) -> DatasetBundle:
    info = _medmnist_info()[flag]
    path = root / medmnist_file(flag, size)
    if not path.exists():
        if not download:
            raise DatasetNotAvailableError(
                f"MedMNIST file {path.name} is not in {root} (download=False). Download "
                f"{medmnist_url(flag, size)} and put it in the folder {root} as {path.name}."
            )
        _fetch_medmnist(flag, size, path)
    hint = f"delete {path} and download it again from {medmnist_url(flag, size)}"
    if verify:
        got, expected = _cached_md5(path), medmnist_md5(flag, size)
        if got != expected:
            raise DatasetCorruptError(f"{path} has MD5 {got}, expected {expected} (medmnist.INFO); {hint}")
    multilabel = info["task"].startswith("multi-label")
    n_classes = len(info["label"])
    splits: dict[str, Split] = {}
    try:
        with np.load(path) as npz:
            missing = [
                f"{s}_{k}" for s in SPLITS for k in ("images", "labels") if f"{s}_{k}" not in npz.files
            ]
            if missing:
                raise DatasetCorruptError(f"{path} lacks the keys {missing}; {hint}")
            for split in SPLITS:
                images, labels = npz[f"{split}_images"], npz[f"{split}_labels"]
                n = info["n_samples"][split]
                if images.ndim == 3:
                    images = images[..., None]
                shape_ok = (
                    images.shape == (n, size, size, info["n_channels"])
                    and images.dtype == np.uint8
                    and labels.shape == (n, n_classes if multilabel else 1)
                )
                if not shape_ok:
                    raise DatasetCorruptError(
                        f"{path}: {split} split has images {images.shape} {images.dtype} and labels "
                        f"{labels.shape}, expected ({n}, {size}, {size}, {info['n_channels']}) uint8 and "
                        f"({n}, {n_classes if multilabel else 1}); {hint}"
                    )
                labels = labels.astype(np.int64)
                if not multilabel:
                    labels = labels[:, 0]
                if labels.min() < 0 or labels.max() >= (2 if multilabel else n_classes):
                    raise DatasetCorruptError(f"{path}: {split} labels out of range; {hint}")
                splits[split] = Split(np.ascontiguousarray(images), labels)
    except DatasetCorruptError:
        raise
    except Exception as exc:  # truncated zip, bad header, CRC error …
        raise DatasetCorruptError(f"cannot read {path} ({type(exc).__name__}: {exc}); {hint}") from exc
    return DatasetBundle(
        name=flag,
        **splits,
        class_names=[info["label"][str(i)] for i in range(n_classes)],
        multilabel=multilabel,
        meta={
            "source": "MedMNIST v2",
            "file": str(path),
            "size": size,
            "task": info["task"],
            "md5_verified": verify,
            "split": "official MedMNIST train/val/test",
            "license": info.get("license", ""),
        },
    )


# ---------------------------------------------------------------------------------------------------- CIFAR-10
def _load_cifar10(root: Path, download: bool) -> DatasetBundle:
    from sklearn.model_selection import train_test_split

    try:
        import torchvision
    except ImportError as exc:  # pragma: no cover - torchvision is a declared dependency
        raise ImportError("cifar10 needs torchvision (pip install torchvision)") from exc

    folder = root / "cifar-10-batches-py"
    archive = root / "cifar-10-python.tar.gz"
    existed = {p: p.exists() for p in (root, folder, archive)}
    try:
        try:
            train_raw = torchvision.datasets.CIFAR10(str(root), train=True, download=False)
        except RuntimeError:
            if not download:
                raise
            train_raw = torchvision.datasets.CIFAR10(str(root), train=True, download=True)
        test_raw = torchvision.datasets.CIFAR10(str(root), train=False, download=False)
    except Exception as exc:
        for path in (folder, archive, root):  # remove only what this call created (partial download/extract)
            if not existed[path] and path.exists():
                if path.is_dir():
                    if path != root or not any(path.iterdir()):
                        shutil.rmtree(path, ignore_errors=True)
                else:
                    path.unlink()
        raise DatasetNotAvailableError(
            f"CIFAR-10 is not in {folder} and could not be {'downloaded' if download else 'loaded'} "
            f"({type(exc).__name__}: {exc}). Download {CIFAR10_URL} into the folder {root} and extract it there "
            f"(tar xzf cifar-10-python.tar.gz), giving {folder}."
        ) from exc
    x_train, y_train = (
        np.asarray(train_raw.data, dtype=np.uint8),
        np.asarray(train_raw.targets, dtype=np.int64),
    )
    idx = np.arange(len(y_train))
    tr, va = train_test_split(idx, test_size=CIFAR10_VAL_SIZE, stratify=y_train, random_state=CIFAR10_SEED)
    tr, va = np.sort(tr), np.sort(va)
    return DatasetBundle(
        name="cifar10",
        train=Split(x_train[tr], y_train[tr]),
        val=Split(x_train[va], y_train[va]),
        test=Split(np.asarray(test_raw.data, dtype=np.uint8), np.asarray(test_raw.targets, dtype=np.int64)),
        class_names=list(train_raw.classes),
        multilabel=False,
        meta={
            "source": "torchvision.datasets.CIFAR10",
            "folder": str(folder),
            "size": 32,
            "split": f"official test; val = stratified {CIFAR10_VAL_SIZE} hold-out of train (seed {CIFAR10_SEED})",
            "indices": {"train": tr, "val": va},
        },
    )


# ---------------------------------------------------------------------------------------------------- protocol
def _row_hashes(images: np.ndarray) -> set[bytes]:
    flat = images.reshape(len(images), -1)
    return {hashlib.blake2b(row.tobytes(), digest_size=16).digest() for row in flat}


def retrieval_protocol(bundle: DatasetBundle) -> dict[str, Any]:
    """Database = train, queries = test, validation = val; check that queries and database are separate items.

    Checked: the splits are distinct arrays (no shared memory); where the loader carved the splits itself (digits,
    the CIFAR-10 val hold-out) the source indices of all splits are pairwise disjoint — a violation raises
    ``ValueError``. Exact pixel duplicates between queries and database (row hashes of the image bytes) are counted
    and reported as ``duplicate_queries`` with a warning, not raised: distinct source images can share pixels
    (e.g. 8×8 digits), and the official MedMNIST/CIFAR splits are used as published.
    """
    pairs = [("test", "train"), ("val", "train"), ("test", "val")]
    splits = bundle.splits()
    for a, b in pairs:
        if np.shares_memory(splits[a].images, splits[b].images):
            raise ValueError(
                f"{bundle.name}: the {a} and {b} splits share memory: queries would be in the database"
            )
    indices = bundle.meta.get("indices", {})
    for a, b in pairs:
        if a in indices and b in indices:
            common = np.intersect1d(indices[a], indices[b])
            if len(common):
                raise ValueError(
                    f"{bundle.name}: {len(common)} source items are in both {a} and {b}: {common[:5]}"
                )
    db_hashes = _row_hashes(bundle.train.images)
    flat = bundle.test.images.reshape(len(bundle.test), -1)
    dup = sum(hashlib.blake2b(row.tobytes(), digest_size=16).digest() in db_hashes for row in flat)
    if dup:
        warnings.warn(
            f"{bundle.name}: {dup} of {len(bundle.test)} test queries have an exact pixel duplicate in the "
            "training database",
            stacklevel=2,
        )
    return {
        "database": bundle.train,
        "queries": bundle.test,
        "validation": bundle.val,
        "sizes": {"database": len(bundle.train), "queries": len(bundle.test), "validation": len(bundle.val)},
        "duplicate_queries": int(dup),
        "checked": "distinct arrays; disjoint source indices where known; exact-duplicate count by row hash",
    }


# ---------------------------------------------------------------------------------------------------- data modules
class _BatchDataset(Dataset):
    """Indexed by a list of positions (from a BatchSampler) and returns a whole batch ``(x, y, idx)``."""

    def __init__(self, x: Any, y: torch.Tensor, positions: np.ndarray, to_tensor: Any = None) -> None:
        self.x, self.y = x, y
        self.positions = torch.as_tensor(np.asarray(positions, dtype=np.int64))
        self.to_tensor = to_tensor

    def __len__(self) -> int:
        return len(self.positions)

    def __getitem__(self, batch: list[int]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        idx = self.positions[torch.as_tensor(batch, dtype=torch.long)]
        x = self.x[idx.numpy()] if self.to_tensor is not None else self.x[idx]
        if self.to_tensor is not None:
            x = self.to_tensor(x)
        return x, self.y[idx], idx


def _label_tensor(labels: np.ndarray) -> torch.Tensor:
    """int64 (N,) for single-label data; float32 (N, C) for multi-hot labels."""
    if labels.ndim == 2:
        return torch.as_tensor(labels, dtype=torch.float32)
    return torch.as_tensor(labels, dtype=torch.int64)


def _images_to_tensor(images: np.ndarray) -> torch.Tensor:
    """uint8 (B, H, W, C) -> float32 (B, C, H, W) in [0, 1]."""
    return torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float().div_(255.0)


class _TripleDataModule(pl.LightningDataModule):
    """Shared loader logic: train (shuffled, seeded), val [queries, database subsample], test [queries, database]."""

    def __init__(
        self,
        arrays: dict[str, tuple[Any, np.ndarray]],
        batch_size: int,
        seed: int,
        val_db_size: int | None,
        drop_last: bool,
        to_tensor: Any,
    ) -> None:
        super().__init__()
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if val_db_size is not None and val_db_size < 1:
            raise ValueError(f"val_db_size must be >= 1 or None, got {val_db_size}")
        self.batch_size, self.seed, self.val_db_size, self.drop_last = (
            batch_size,
            seed,
            val_db_size,
            drop_last,
        )
        self._to_tensor = to_tensor
        self._x = {s: arrays[s][0] for s in SPLITS}
        self._labels = {s: np.asarray(arrays[s][1]) for s in SPLITS}
        self._y = {s: _label_tensor(self._labels[s]) for s in SPLITS}
        n_train = len(self._labels["train"])
        if val_db_size is None or val_db_size >= n_train:
            self.val_db_indices = np.arange(n_train)
        else:
            rng = np.random.default_rng(seed)
            self.val_db_indices = np.sort(rng.choice(n_train, size=val_db_size, replace=False))

    @property
    def train_labels(self) -> torch.Tensor:
        """Labels of the whole training split, as a tensor (for ``HashLoss.prepare``)."""
        return self._y["train"]

    @property
    def multilabel(self) -> bool:
        return self._labels["train"].ndim == 2

    def _loader(self, split: str, positions: np.ndarray, shuffle: bool) -> DataLoader:
        dataset = _BatchDataset(self._x[split], self._y[split], positions, self._to_tensor)
        if shuffle:
            generator = torch.Generator().manual_seed(self.seed)
            sampler: Any = RandomSampler(range(len(positions)), generator=generator)
            drop_last = self.drop_last and len(positions) > self.batch_size
        else:
            sampler, drop_last = SequentialSampler(range(len(positions))), False
        return DataLoader(dataset, sampler=BatchSampler(sampler, self.batch_size, drop_last), batch_size=None)

    def train_dataloader(self) -> DataLoader:
        """Shuffled training batches ``(x, y, idx)``; idx = positions in the training split."""
        return self._loader("train", np.arange(len(self._labels["train"])), shuffle=True)

    def val_dataloader(self) -> list[DataLoader]:
        """[val queries, training-database subsample of at most ``val_db_size`` items (seeded, fixed)]."""
        return [
            self._loader("val", np.arange(len(self._labels["val"])), shuffle=False),
            self._loader("train", self.val_db_indices, shuffle=False),
        ]

    def test_dataloader(self) -> list[DataLoader]:
        """[test queries, full training database]."""
        return [
            self._loader("test", np.arange(len(self._labels["test"])), shuffle=False),
            self._loader("train", np.arange(len(self._labels["train"])), shuffle=False),
        ]


class ImageDataModule(_TripleDataModule):
    """Images as float32 (B, C, H, W) tensors in [0, 1], converted per batch; batches are ``(x, y, idx)``."""

    def __init__(
        self,
        bundle: DatasetBundle,
        batch_size: int = 64,
        seed: int = 0,
        val_db_size: int | None = 5000,
        drop_last: bool = True,
    ) -> None:
        arrays = {s: (sp.images, sp.labels) for s, sp in bundle.splits().items()}
        super().__init__(arrays, batch_size, seed, val_db_size, drop_last, _images_to_tensor)
        self.bundle = bundle
        self.class_names = list(bundle.class_names)
        self.n_classes = len(self.class_names)


class EmbeddingDataModule(_TripleDataModule):
    """Precomputed embeddings (an ``EmbeddingSet``) as float32 tensors; batches are ``(x, y, idx)``.

    ``drop_last`` drops a ragged last training batch (only when the split is larger than one batch), which keeps
    BatchNorm heads and pairwise losses away from 1-item batches.
    """

    def __init__(
        self,
        embeddings: Any,
        batch_size: int = 256,
        seed: int = 0,
        val_db_size: int | None = 5000,
        drop_last: bool = True,
    ) -> None:
        arrays = {
            s: (
                torch.as_tensor(np.asarray(getattr(embeddings, s).features, dtype=np.float32)),
                getattr(embeddings, s).labels,
            )
            for s in SPLITS
        }
        super().__init__(arrays, batch_size, seed, val_db_size, drop_last, None)
        self.embeddings = embeddings
        self.in_dim = int(arrays["train"][0].shape[1])
        self.class_names = list(embeddings.class_names)
        self.n_classes = len(self.class_names)
