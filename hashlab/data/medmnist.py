"""MedMNIST v2 / MedMNIST+ (Yang et al. 2023): every 2D flag of ``medmnist.INFO`` at 28/64/128/224 px, official splits.

Read from ``{root}/{flag}{"" | "_64" | "_128" | "_224"}.npz`` with numpy. The file's keys, shapes and split counts are
checked against ``INFO``, and its MD5 against ``INFO["MD5…"]``; a hashed file gets a small sidecar ``{file}.md5ok``
stamp (size + mtime + MD5), so the MD5 is computed once per file version (in a read-only folder — no write bit —
nothing is written and the MD5 is remembered for the process only). ``verify=False`` skips the MD5 (not the
structural checks) for very large files. A missing file is downloaded from the INFO URL into a temporary file that is
renamed only after its MD5 matched; when that fails :class:`DatasetNotAvailableError` names the file, the URL and the
folder to place it in.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hashlab.config import atomic_write
from hashlab.data import files
from hashlab.data.bundle import SPLITS, DatasetBundle, DatasetCorruptError, DatasetNotAvailableError, Split

MEDMNIST_SIZES = (28, 64, 128, 224)


def medmnist_info() -> dict[str, dict]:
    """``medmnist.INFO`` (imported lazily)."""
    from medmnist import INFO

    return INFO


def medmnist_flags() -> list[str]:
    """The 2D MedMNIST flags in ``medmnist.INFO`` order (``pathmnist`` first); 3D volumes are not supported."""
    return [flag for flag in medmnist_info() if not flag.endswith("3d")]


def medmnist_file(flag: str, size: int = 28) -> str:
    """File name of a MedMNIST flag at ``size``: ``pathmnist.npz``, ``pathmnist_224.npz`` …"""
    return f"{flag}{'' if size == 28 else f'_{size}'}.npz"


def medmnist_url(flag: str, size: int = 28) -> str:
    """Download URL of a MedMNIST file, from ``medmnist.INFO``."""
    return medmnist_info()[flag]["url" if size == 28 else f"url_{size}"]


def medmnist_md5(flag: str, size: int = 28) -> str:
    """Published MD5 of a MedMNIST file, from ``medmnist.INFO``."""
    return medmnist_info()[flag]["MD5" if size == 28 else f"MD5_{size}"]


def _fetch_medmnist(flag: str, size: int, path: Path) -> None:
    url = medmnist_url(flag, size)
    expected = medmnist_md5(flag, size)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_write(path) as tmp:
            files.download(url, tmp)
            got = files.file_md5(tmp)
            if got != expected:
                raise DatasetCorruptError(f"downloaded {url} has MD5 {got}, expected {expected}")
    except Exception as exc:  # any failure: the temp file is gone (atomic_write), report what to do by hand
        raise DatasetNotAvailableError(
            f"MedMNIST file {path.name} is not in {path.parent} and could not be downloaded "
            f"({type(exc).__name__}: {exc}). Download {url} and save it as {path} "
            f"(MD5 {expected}), i.e. put {path.name} in the folder {path.parent}."
        ) from exc


def load_medmnist(flag: str, root: Path, size: int, download: bool, verify: bool) -> DatasetBundle:
    """One MedMNIST flag at ``size`` from ``root`` (downloaded there if missing and ``download``)."""
    info = medmnist_info()[flag]
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
        got, expected = files.cached_md5(path), medmnist_md5(flag, size)
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
