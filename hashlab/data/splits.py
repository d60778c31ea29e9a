"""How splits are carved (stratified, seeded) and checked (non-empty, disjoint, exact duplicates between them).

Split hygiene: :func:`split_duplicates` counts, for every pair of splits, the items of the later split whose image bytes
equal an item of the earlier one (BLAKE2b row hashes, i.e. exact byte equality; near-duplicates are not looked for).
Duplicates are reported, never dropped: the official MedMNIST / CIFAR-10 / Fashion-MNIST splits are used as published,
so numbers stay comparable with the literature (data/README.md says why and how to read the counts).
:func:`check_splits` rejects an empty split with a message naming it. :func:`retrieval_protocol` combines both with
the leak checks (shared memory, overlapping source indices) for the database = train, queries = test convention.
"""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from hashlab.data.bundle import SPLITS, DatasetBundle

#: The split pairs checked, as (earlier, later): counts are items of the later split found in the earlier one.
SPLIT_PAIRS = (("train", "val"), ("train", "test"), ("val", "test"))


# ---------------------------------------------------------------------------------------------------- carving
def stratified_three_way(
    labels: np.ndarray, fractions: tuple[float, float, float], seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sorted indices of a stratified train/val/test partition (sizes from ``fractions``), seeded."""
    from sklearn.model_selection import train_test_split

    idx = np.arange(len(labels))
    n_test = int(round(fractions[2] * len(labels)))
    n_val = int(round(fractions[1] * len(labels)))
    rest, test = train_test_split(idx, test_size=n_test, stratify=labels, random_state=seed)
    train, val = train_test_split(rest, test_size=n_val, stratify=labels[rest], random_state=seed)
    return np.sort(train), np.sort(val), np.sort(test)


def stratified_holdout(labels: np.ndarray, n_holdout: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Sorted (kept, held-out) indices: a stratified, seeded hold-out of ``n_holdout`` items (a validation split)."""
    from sklearn.model_selection import train_test_split

    kept, held = train_test_split(
        np.arange(len(labels)), test_size=n_holdout, stratify=labels, random_state=seed
    )
    return np.sort(kept), np.sort(held)


# ---------------------------------------------------------------------------------------------------- checks
def _split_sizes(splits: Any) -> dict[str, int]:
    if isinstance(splits, Mapping):
        return {s: len(splits[s]) for s in SPLITS}
    return {s: len(getattr(splits, s)) for s in SPLITS}


def check_splits(splits: Any, name: str | None = None) -> dict[str, int]:
    """Raise ``ValueError`` naming the first empty split; return the split sizes.

    ``splits``: a :class:`DatasetBundle`, an ``EmbeddingSet`` or a mapping ``{"train": ..., "val": ..., "test": ...}``
    of sized objects. Call it before any training (the data modules do): an empty training split otherwise fails
    deep inside torch's sampler, an empty val/test split with a message that does not name it.
    """
    sizes = _split_sizes(splits)
    label = name or getattr(splits, "name", None) or getattr(splits, "dataset", None) or "dataset"
    role = {
        "train": "the training items and the retrieval database",
        "val": "the validation queries for model selection",
        "test": "the test queries",
    }
    for split in SPLITS:
        if sizes[split] == 0:
            raise ValueError(
                f"{label}: the {split} split is empty (0 items); it must hold {role[split]}, so every one of "
                "train, val and test needs at least one item"
            )
    return sizes


def _row_hashes(images: np.ndarray) -> list[bytes]:
    flat = np.ascontiguousarray(images).reshape(len(images), -1)
    return [hashlib.blake2b(row.tobytes(), digest_size=16).digest() for row in flat]


@dataclass(frozen=True)
class SplitDuplicates:
    """Exact duplicates between splits: ``counts["train-val"]`` = val items whose image bytes equal a train item.

    Keys are ``"{earlier}-{later}"`` for the pairs in :data:`SPLIT_PAIRS`; ``sizes`` are the split sizes.
    """

    dataset: str
    counts: dict[str, int]
    sizes: dict[str, int]

    @property
    def total(self) -> int:
        return int(sum(self.counts.values()))

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready record (for provenance files)."""
        return {
            "dataset": self.dataset,
            "counts": dict(self.counts),
            "sizes": dict(self.sizes),
            "check": "exact byte equality of images (BLAKE2b-128 row hashes) between every pair of splits",
            "action": "reported, kept (official splits used as published)",
        }

    def summary(self) -> str:
        """One line, e.g. ``'split duplicates (exact pixel copies): train-val 8/524, train-test 0/624, val-test 0/624'``."""
        parts = [f"{k} {v}/{self.sizes[k.split('-')[1]]}" for k, v in self.counts.items()]
        return f"{self.dataset} split duplicates (exact pixel copies, later split in earlier): {', '.join(parts)}"


def split_duplicates(bundle: DatasetBundle) -> SplitDuplicates:
    """Count exact image duplicates between every pair of splits (train/val, train/test, val/test)."""
    hashes = {s: _row_hashes(getattr(bundle, s).images) for s in SPLITS}
    sets = {s: set(h) for s, h in hashes.items()}
    counts = {f"{a}-{b}": int(sum(h in sets[a] for h in hashes[b])) for a, b in SPLIT_PAIRS}
    return SplitDuplicates(bundle.name, counts, {s: len(getattr(bundle, s)) for s in SPLITS})


def retrieval_protocol(bundle: DatasetBundle) -> dict[str, Any]:
    """Database = train, queries = test, validation = val; check that queries and database are separate items.

    Checked: the splits are distinct arrays (no shared memory); where the loader carved the splits itself (digits,
    the CIFAR-10 and Fashion-MNIST val hold-outs) the source indices of all splits are pairwise disjoint — a
    violation raises ``ValueError``. Exact pixel duplicates between every pair of splits are counted
    (:func:`split_duplicates`) and reported as ``duplicates`` (``duplicate_queries``: test items found in train) with
    a warning, not raised: distinct source images can share pixels (e.g. 8×8 digits), and the official
    MedMNIST/CIFAR/Fashion-MNIST splits are used as published. An empty split raises (:func:`check_splits`).
    """
    check_splits(bundle)
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
    dups = split_duplicates(bundle)
    if dups.total:
        found = ", ".join(
            f"{n} of {dups.sizes[k.split('-')[1]]} {k.split('-')[1]} items in {k.split('-')[0]}"
            for k, n in dups.counts.items()
            if n
        )
        warnings.warn(f"{bundle.name}: exact pixel duplicates between splits: {found}", stacklevel=2)
    return {
        "database": bundle.train,
        "queries": bundle.test,
        "validation": bundle.val,
        "sizes": {"database": len(bundle.train), "queries": len(bundle.test), "validation": len(bundle.val)},
        "duplicate_queries": dups.counts["train-test"],
        "duplicates": dups.as_dict(),
        "checked": "distinct arrays; disjoint source indices where known; exact duplicates per split pair by row hash",
    }
