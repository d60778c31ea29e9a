"""Lightning data modules that feed hashing models: images (:class:`ImageDataModule`) or precomputed embeddings
(:class:`EmbeddingDataModule`). Batches are ``(x, y, idx)`` with ``idx`` the positions in the split; the validation
loaders are [val queries, a fixed seeded training-database subsample], the test loaders [test queries, the full
training database]. An empty split is rejected when the module is built (:func:`hashlab.data.check_splits`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch
from torch.utils.data import BatchSampler, DataLoader, Dataset, RandomSampler, SequentialSampler

from hashlab.data.bundle import SPLITS, DatasetBundle
from hashlab.data.images import images_to_tensor
from hashlab.data.splits import check_splits
from hashlab.settings import defaults

_DEFAULTS = defaults()


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
        name: str = "dataset",
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
        check_splits(self._labels, name)
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
        super().__init__(arrays, batch_size, seed, val_db_size, drop_last, images_to_tensor, bundle.name)
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
        batch_size: int = _DEFAULTS["batch_size"],
        seed: int = _DEFAULTS["seed"],
        val_db_size: int | None = _DEFAULTS["val_db_size"],
        drop_last: bool = True,
    ) -> None:
        arrays = {
            s: (
                torch.as_tensor(np.asarray(getattr(embeddings, s).features, dtype=np.float32)),
                getattr(embeddings, s).labels,
            )
            for s in SPLITS
        }
        super().__init__(
            arrays, batch_size, seed, val_db_size, drop_last, None, getattr(embeddings, "dataset", "dataset")
        )
        self.embeddings = embeddings
        self.in_dim = int(arrays["train"][0].shape[1])
        self.class_names = list(embeddings.class_names)
        self.n_classes = len(self.class_names)
