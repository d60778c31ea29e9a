"""Dataset helpers for notebook 02: find a MedMNIST file already on disk, subsample a bundle for CPU-sized runs."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from hashlab.checks import check_positive_int

__all__ = ["find_medmnist", "subsample_bundle"]


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
        n = check_positive_int(n, "sample size")
        if len(split) <= n:
            return split
        idx = np.sort(rng.choice(len(split), size=n, replace=False))
        return Split(split.images[idx], split.labels[idx])

    meta = {**bundle.meta, "subsample": {"n_train": n_train, "n_test": n_test, "seed": seed}}
    return replace(bundle, train=pick(bundle.train, n_train), test=pick(bundle.test, n_test), meta=meta)
