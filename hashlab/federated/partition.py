"""Seeded non-IID partitions of a training split over clients: Dirichlet(α) label skew (α → ∞ is IID).

Hsu, Qi, Brown, "Measuring the Effects of Non-Identical Data Distribution for Federated Visual Classification",
2019: for every class c draw client proportions ``p_c ~ Dir(α·1_C)`` and deal the class's items to clients in those
proportions. Small α gives each client few classes; ``α = inf`` deals a seeded random permutation in near-equal parts.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from hashlab.checks import as_numpy, check_labels, check_positive_int

__all__ = ["client_class_counts", "dirichlet_partition", "label_skew"]


def _check_labels(labels: Any) -> np.ndarray:
    """``labels`` as non-empty (N,) non-negative ``int64`` class ids (:func:`hashlab.checks.check_labels`); a
    Dirichlet label skew needs one class per item, so multi-hot labels are refused."""
    arr = as_numpy(labels)
    if arr.ndim != 1:
        raise ValueError(f"labels must be 1-D integer class ids (single-label data), got shape {arr.shape}")
    if len(arr) == 0:
        raise ValueError("labels are empty: nothing to partition")
    arr = check_labels(arr, len(arr))
    if arr.min() < 0:
        raise ValueError("labels must be non-negative class indices")
    return arr


def dirichlet_partition(
    labels: np.ndarray,
    n_clients: int,
    alpha: float,
    seed: int = 0,
    min_size: int = 2,
    max_tries: int = 100,
) -> list[np.ndarray]:
    """Split item indices ``0..N-1`` over ``n_clients`` with Dirichlet(``alpha``) label skew.

    Returns one sorted ``int64`` index array per client; every item is in exactly one client. Draws are redone
    (up to ``max_tries``) until every client holds at least ``min_size`` items; otherwise ``ValueError``.
    """
    labels = _check_labels(labels)
    n_clients = check_positive_int(n_clients, "n_clients")
    if not (alpha > 0):  # also rejects NaN
        raise ValueError(f"alpha must be > 0 (alpha = inf is IID), got {alpha}")
    if min_size < 1:
        raise ValueError(f"min_size must be >= 1, got {min_size}")
    if n_clients * min_size > len(labels):
        raise ValueError(
            f"{n_clients} clients with at least {min_size} items each need {n_clients * min_size} items, "
            f"but there are only {len(labels)}"
        )
    rng = np.random.default_rng(seed)
    if math.isinf(alpha):
        return [np.sort(part) for part in np.array_split(rng.permutation(len(labels)), n_clients)]
    classes = np.unique(labels)
    for _ in range(max_tries):
        buckets: list[list[np.ndarray]] = [[] for _ in range(n_clients)]
        for c in classes:
            items = rng.permutation(np.flatnonzero(labels == c))
            share = rng.dirichlet(np.full(n_clients, float(alpha)))
            cuts = (np.cumsum(share)[:-1] * len(items)).astype(int)
            for k, chunk in enumerate(np.split(items, cuts)):
                buckets[k].append(chunk)
        parts = [np.sort(np.concatenate(b)).astype(np.int64) for b in buckets]
        if min(len(p) for p in parts) >= min_size:
            return parts
    raise ValueError(
        f"could not give every one of {n_clients} clients at least {min_size} items in {max_tries} Dirichlet draws "
        f"(alpha={alpha}): an empty client; use fewer clients, a larger alpha or a smaller min_size"
    )


def client_class_counts(
    labels: np.ndarray, parts: list[np.ndarray], n_classes: int | None = None
) -> np.ndarray:
    """``(n_clients, n_classes)`` item counts per client and class."""
    labels = _check_labels(labels)
    n_classes = int(labels.max()) + 1 if n_classes is None else int(n_classes)
    return np.stack([np.bincount(labels[p], minlength=n_classes) for p in parts]).astype(np.int64)


def label_skew(labels: np.ndarray, parts: list[np.ndarray], n_classes: int | None = None) -> float:
    """Size-weighted mean total-variation distance between each client's label distribution and the global one.

    0 for identical label mixes; approaches ``1 - 1/n_classes``-ish values as clients hold single classes.
    """
    counts = client_class_counts(labels, parts, n_classes)
    sizes = counts.sum(1)
    if (sizes == 0).any():
        raise ValueError("a client is empty: label skew is undefined")
    local = counts / sizes[:, None]
    overall = counts.sum(0) / sizes.sum()
    tv = 0.5 * np.abs(local - overall).sum(1)
    return float((tv * sizes).sum() / sizes.sum())
