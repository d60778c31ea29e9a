"""``cifar10``: torchvision's CIFAR-10 (50k train / 10k test, 32×32 RGB) with a stratified validation hold-out.

Validation is a stratified, seeded (seed 0) hold-out of 5000 training images; the training split (= retrieval
database) is the remaining 45000; the official 10k test images are the queries.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from hashlab.data.bundle import DatasetBundle, DatasetNotAvailableError, Split
from hashlab.data.splits import stratified_holdout

CIFAR10_VAL_SIZE = 5000
CIFAR10_SEED = 0
CIFAR10_SIZE = 32
CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"


def load_cifar10(root: Path, download: bool) -> DatasetBundle:
    """CIFAR-10 from ``root`` (torchvision's layout), downloaded there if allowed; a failed download is cleaned up."""
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
    tr, va = stratified_holdout(y_train, CIFAR10_VAL_SIZE, CIFAR10_SEED)
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
            "size": CIFAR10_SIZE,
            "split": f"official test; val = stratified {CIFAR10_VAL_SIZE} hold-out of train (seed {CIFAR10_SEED})",
            "indices": {"train": tr, "val": va},
        },
    )
