"""Datasets with fixed train/val/test splits and the Lightning data modules that feed hashing models.

Datasets (``available_datasets()``; names are normalised, so ``"DIGITS"`` is ``digits``):

* ``digits`` — scikit-learn's bundled 8×8 digits, a seeded stratified 60/20/20 split (:mod:`hashlab.data.digits`).
* every 2D MedMNIST v2 flag (``pathmnist`` first) at 28/64/128/224 px, official splits, MD5-checked
  (:mod:`hashlab.data.medmnist`).
* ``cifar10`` — torchvision's CIFAR-10, 45k train / 5k stratified val hold-out / 10k test (:mod:`hashlab.data.cifar10`).
* ``fashion_mnist`` — Fashion-MNIST (Xiao et al. 2017) from Debian's ``dataset-fashion-mnist`` package or a download,
  55k train / 5k stratified val hold-out / 10k test, SHA-256 of the decompressed IDX files checked
  (:mod:`hashlab.data.fashion_mnist`).

Modules: :mod:`~hashlab.data.bundle` (``Split``, ``DatasetBundle``, errors), :mod:`~hashlab.data.datasets` (registry:
names, sizes, ``load_dataset``), one module per dataset, :mod:`~hashlab.data.splits` (stratified carving; split
hygiene: ``check_splits``, ``split_duplicates``, ``retrieval_protocol``), :mod:`~hashlab.data.files` (checksums,
downloads), :mod:`~hashlab.data.datamodules` (``ImageDataModule``, ``EmbeddingDataModule``).

Retrieval protocol (:func:`retrieval_protocol`): database = train, queries = test, validation = val.
"""

from hashlab.data.bundle import (
    SPLITS,
    DatasetBundle,
    DatasetCorruptError,
    DatasetNotAvailableError,
    Split,
    UnknownDatasetError,
)
from hashlab.data.cifar10 import CIFAR10_SEED, CIFAR10_URL, CIFAR10_VAL_SIZE
from hashlab.data.datamodules import EmbeddingDataModule, ImageDataModule
from hashlab.data.datasets import (
    DEFAULT_SIZE,
    NATIVE_SIZES,
    available_datasets,
    available_offline,
    canonical_dataset_name,
    load_dataset,
    native_size,
)
from hashlab.data.digits import DIGITS_FRACTIONS, DIGITS_SEED
from hashlab.data.fashion_mnist import FASHION_MNIST_SEED, FASHION_MNIST_VAL_SIZE
from hashlab.data.files import DOWNLOAD_TIMEOUT_S, file_md5
from hashlab.data.medmnist import MEDMNIST_SIZES, medmnist_file, medmnist_flags, medmnist_md5, medmnist_url
from hashlab.data.splits import (
    SPLIT_PAIRS,
    SplitDuplicates,
    check_splits,
    retrieval_protocol,
    split_duplicates,
)

__all__ = [
    "CIFAR10_SEED",
    "CIFAR10_URL",
    "CIFAR10_VAL_SIZE",
    "DEFAULT_SIZE",
    "DIGITS_FRACTIONS",
    "DIGITS_SEED",
    "DOWNLOAD_TIMEOUT_S",
    "FASHION_MNIST_SEED",
    "FASHION_MNIST_VAL_SIZE",
    "MEDMNIST_SIZES",
    "NATIVE_SIZES",
    "SPLITS",
    "SPLIT_PAIRS",
    "DatasetBundle",
    "DatasetCorruptError",
    "DatasetNotAvailableError",
    "EmbeddingDataModule",
    "ImageDataModule",
    "Split",
    "SplitDuplicates",
    "UnknownDatasetError",
    "available_datasets",
    "available_offline",
    "canonical_dataset_name",
    "check_splits",
    "file_md5",
    "load_dataset",
    "medmnist_file",
    "medmnist_flags",
    "medmnist_md5",
    "medmnist_url",
    "native_size",
    "retrieval_protocol",
    "split_duplicates",
]
