"""Shared settings: FAST mode, data folder, seeding and atomic file writes."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from hashlab.checks import check_positive_int
from hashlab.files import atomic_write as atomic_write  # re-exported: the function lives in hashlab.files

REPO_ROOT = Path(__file__).resolve().parent.parent


def fast_mode() -> bool:
    """True when ``HASHLAB_FAST=1``: notebooks and ``reproduce`` shrink data and epochs (CI sets it)."""
    return os.environ.get("HASHLAB_FAST", "0").strip().lower() in {"1", "true", "yes", "on"}


def data_dir() -> Path:
    """Download and cache folder: ``$HASHLAB_DATA_DIR`` or ``<repo>/data`` (created on first use)."""
    path = Path(os.environ.get("HASHLAB_DATA_DIR", REPO_ROOT / "data")).expanduser()
    path.mkdir(parents=True, exist_ok=True)
    return path


def figures_dir() -> Path:
    """Where notebooks save reproduced figures: ``$HASHLAB_FIGURES_DIR`` or ``<repo>/figures``."""
    path = Path(os.environ.get("HASHLAB_FIGURES_DIR", REPO_ROOT / "figures")).expanduser()
    path.mkdir(parents=True, exist_ok=True)
    return path


def seed_everything(seed: int) -> int:
    """Seed Python, numpy and torch (CPU and CUDA) so that the same seed gives the same codes."""
    import pytorch_lightning as pl

    return pl.seed_everything(seed, workers=True, verbose=False)


@contextlib.contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """Run the block with ``torch.set_num_threads(n)`` and restore the previous count (``None``: unchanged).

    Small heads and convolutions gain nothing from intra-op threads, and on a shared, loaded CPU two spinning threads
    made a training step 7-20x slower than one (measured on the 2-core development machine).
    """
    if n is None:
        yield
        return
    import torch

    n = check_positive_int(n, "number of threads")
    previous = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
