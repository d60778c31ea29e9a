"""The dataset registry: canonical names, native image sizes and :func:`load_dataset`, which dispatches to a loader.

Names are normalised once (:func:`canonical_dataset_name`: ``" DIGITS "`` and ``"Fashion-MNIST"`` become ``digits``
and ``fashion_mnist``), so every cache and result file uses one spelling. ``size`` is checked before any loading:
MedMNIST flags come at 28/64/128/224 px; digits (8 px), Fashion-MNIST (28 px) and CIFAR-10 (32 px) only at their
native size — another size is refused with a message naming ``size`` rather than silently ignored. The library-wide
default ``size=28`` (and ``None``) means "the dataset's default" for them.
"""

from __future__ import annotations

import os
from pathlib import Path

from hashlab.config import data_dir
from hashlab.data import fashion_mnist
from hashlab.data.bundle import DatasetBundle, UnknownDatasetError
from hashlab.data.cifar10 import CIFAR10_SIZE, load_cifar10
from hashlab.data.digits import DIGITS_SIZE, load_digits
from hashlab.data.fashion_mnist import FASHION_MNIST_SIZE, load_fashion_mnist
from hashlab.data.medmnist import MEDMNIST_SIZES, load_medmnist, medmnist_file, medmnist_flags

DEFAULT_SIZE = 28
#: Datasets with one image size only.
NATIVE_SIZES = {"digits": DIGITS_SIZE, "cifar10": CIFAR10_SIZE, "fashion_mnist": FASHION_MNIST_SIZE}


def available_datasets() -> list[str]:
    """Names accepted by :func:`load_dataset`: digits, the 2D MedMNIST flags, cifar10, fashion_mnist."""
    return ["digits", *medmnist_flags(), "cifar10", "fashion_mnist"]


def canonical_dataset_name(name: str) -> str:
    """The one spelling of a dataset name (stripped, lower case, ``-`` → ``_``); unknown names raise
    :class:`UnknownDatasetError` (a ``KeyError`` and ``ValueError``) listing the available ones."""
    names = available_datasets()
    canonical = name.strip().lower().replace("-", "_") if isinstance(name, str) else None
    if canonical not in names:
        raise UnknownDatasetError(f"unknown dataset {name!r}; available: {', '.join(names)}")
    return canonical


def native_size(name: str, size: int | None = DEFAULT_SIZE) -> int:
    """The image size ``load_dataset(name, size=size)`` returns, after checking ``size`` for ``name``.

    Fixed-size datasets (digits 8, fashion_mnist 28, cifar10 32) accept their native size, the default 28 or
    ``None``; MedMNIST accepts 28/64/128/224 (``None`` = 28). Anything else raises ``ValueError`` naming ``size``.
    """
    name = canonical_dataset_name(name)
    if name in NATIVE_SIZES:
        native = NATIVE_SIZES[name]
        if size is not None and size not in (DEFAULT_SIZE, native):
            raise ValueError(
                f"unsupported size {size!r} for {name}: it has only its native {native} px images "
                f"(size={native}, i.e. --size {native}, or leave size at its default)"
            )
        return native
    size = DEFAULT_SIZE if size is None else size
    if size not in MEDMNIST_SIZES:
        raise ValueError(
            f"unsupported size {size!r} for {name}: MedMNIST 2D sizes (size= / --size) are {MEDMNIST_SIZES}"
        )
    return size


def load_dataset(
    name: str,
    root: str | os.PathLike | None = None,
    size: int | None = DEFAULT_SIZE,
    *,
    download: bool = True,
    verify: bool = True,
) -> DatasetBundle:
    """Load ``name`` with its fixed train/val/test splits.

    ``root`` is the folder holding the files (default ``data_dir()/medmnist`` or ``data_dir()/cifar10``; for
    fashion_mnist the Debian package folder, then ``data_dir()/fashion_mnist``; unused for ``digits``). ``size``:
    see :func:`native_size`. ``download=False`` never touches the network. ``verify=False`` skips the checksum of the
    files (MedMNIST MD5, Fashion-MNIST SHA-256; keys, shapes and split counts are still checked).
    """
    name = canonical_dataset_name(name)
    size = native_size(name, size)
    folder = Path(root) if root is not None else None
    if name == "digits":
        return load_digits()
    if name == "cifar10":
        return load_cifar10(folder or data_dir() / "cifar10", download=download)
    if name == "fashion_mnist":
        return load_fashion_mnist(folder, download=download, verify=verify)
    return load_medmnist(name, folder or data_dir() / "medmnist", size, download, verify)


def available_offline(
    name: str, size: int | None = DEFAULT_SIZE, root: str | os.PathLike | None = None
) -> bool:
    """True when ``load_dataset(name, root, size, download=False)`` finds its files (checksums are not checked)."""
    name = canonical_dataset_name(name)
    size = native_size(name, size)
    folder = Path(root) if root is not None else None
    if name == "digits":
        return True
    if name == "cifar10":
        return ((folder or data_dir() / "cifar10") / "cifar-10-batches-py").is_dir()
    if name == "fashion_mnist":
        folders = [folder] if folder is not None else [fashion_mnist.SYSTEM_DIR, fashion_mnist.download_dir()]
        return fashion_mnist.locate(folders) is not None
    return ((folder or data_dir() / "medmnist") / medmnist_file(name, size)).is_file()
