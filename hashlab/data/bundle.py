"""The dataset containers every loader returns: :class:`Split` and :class:`DatasetBundle`, and the loaders' errors."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

SPLITS = ("train", "val", "test")


class DatasetNotAvailableError(FileNotFoundError):
    """A dataset file is missing and could not be downloaded; the message says what to place where."""


class DatasetCorruptError(ValueError):
    """A dataset file exists but is unreadable, has the wrong structure or the wrong checksum."""


class UnknownDatasetError(KeyError, ValueError):
    """An unknown dataset name (a ``KeyError`` as before, and a ``ValueError`` so that user-facing code that turns
    ``ValueError`` into one line handles it too); ``str()`` is the plain message, without ``KeyError``'s quotes."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


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
