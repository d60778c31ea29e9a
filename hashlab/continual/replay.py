"""Replay buffers: a class-balanced reservoir and a structure-aware buffer (prototypes + boundary items).

Crawford & Ahuja (undated preprint, §3) ask for a replay memory that is "not merely a random subset of past images but a structure-aware
memory that preserves class-conditional prototypes and boundary instances". Two policies, same budget:

* :class:`ClassBalancedReservoir` - per-class reservoir sampling (Vitter's Algorithm R) with an equal quota
  ``capacity // n_classes`` per seen class; every item of a class is kept with probability ``quota / n_c``.
* :func:`structure_aware_selection` - per class, half prototypes by iCaRL herding (Rebuffi et al., CVPR 2017:
  greedily add ``argmin_x || mu_c - (sum_S + x) / (|S| + 1) ||``) and half boundary items with the largest ambiguity
  ``a_i = d(x_i, mu_own) / d(x_i, mu_nearest_foreign)`` (``floor(quota * boundary_fraction)`` of them).

Buffers hold database *ids*; the caller keeps features, labels and stored codes.
"""

from __future__ import annotations

import numpy as np

from hashlab.checks import check_positive_int

__all__ = ["ClassBalancedReservoir", "check_buffer_size", "herding", "structure_aware_selection"]


def check_buffer_size(capacity: int, n_available: int) -> int:
    """Raise ``ValueError`` unless ``0 <= capacity <= n_available``."""
    capacity = check_positive_int(capacity, "replay buffer size", minimum=0)
    if capacity > n_available:
        raise ValueError(
            f"replay buffer of {int(capacity)} items is larger than the {n_available} past items available"
        )
    return int(capacity)


def _quotas(classes: np.ndarray, capacity: int) -> dict[int, int]:
    base, extra = divmod(capacity, len(classes))
    return {int(c): base + (1 if i < extra else 0) for i, c in enumerate(sorted(classes.tolist()))}


class ClassBalancedReservoir:
    """Per-class reservoir of database ids with equal quotas over the classes seen so far.

    ``update(ids, labels)`` streams items in order. Each class keeps a uniform sample of its items (Algorithm R
    with its own counter); when a new class arrives the quotas shrink and each class reservoir is cut to its quota
    by uniform subsampling, which keeps it a uniform sample.
    """

    def __init__(self, capacity: int, seed: int = 0):
        self.capacity = check_buffer_size(capacity, capacity)
        self.rng = np.random.default_rng(seed)
        self._res: dict[int, list[int]] = {}
        self._seen: dict[int, int] = {}

    def quota(self, c: int) -> int:
        return _quotas(np.array(sorted(self._seen)), self.capacity)[int(c)] if self._seen else self.capacity

    def update(self, ids: np.ndarray, labels: np.ndarray) -> ClassBalancedReservoir:
        ids, labels = np.asarray(ids, dtype=np.int64), np.asarray(labels, dtype=np.int64)
        if ids.shape != labels.shape or ids.ndim != 1:
            raise ValueError(f"ids {ids.shape} and labels {labels.shape} must be matching 1-D arrays")
        for c in np.unique(labels):
            self._seen.setdefault(int(c), 0)
            self._res.setdefault(int(c), [])
        self._shrink()
        for i, c in zip(ids.tolist(), labels.tolist(), strict=True):
            res, q = self._res[c], self.quota(c)
            self._seen[c] += 1
            if len(res) < q:
                res.append(i)
            else:
                j = int(self.rng.integers(self._seen[c]))
                if j < q:
                    res[j] = i
        return self

    def _shrink(self) -> None:
        for c, res in self._res.items():
            q = self.quota(c)
            if len(res) > q:
                keep = np.sort(self.rng.choice(len(res), size=q, replace=False))
                self._res[c] = [res[k] for k in keep]

    def ids(self) -> np.ndarray:
        return np.array(sorted(i for res in self._res.values() for i in res), dtype=np.int64)

    def class_counts(self) -> dict[int, int]:
        return {c: len(r) for c, r in sorted(self._res.items())}

    def __len__(self) -> int:
        return sum(len(r) for r in self._res.values())


def herding(x: np.ndarray, m: int) -> np.ndarray:
    """iCaRL herding: indices of ``m`` rows of ``x`` whose running mean tracks the mean of ``x`` greedily."""
    x = np.asarray(x, dtype=np.float64)
    m = check_buffer_size(m, len(x))
    mu, chosen, total = x.mean(0), [], np.zeros(x.shape[1])
    available = np.ones(len(x), dtype=bool)
    for k in range(1, m + 1):
        dist = np.linalg.norm(mu - (total + x) / k, axis=1)
        dist[~available] = np.inf
        i = int(np.argmin(dist))
        chosen.append(i)
        available[i] = False
        total += x[i]
    return np.array(chosen, dtype=np.int64)


def structure_aware_selection(
    features: np.ndarray, labels: np.ndarray, capacity: int, boundary_fraction: float = 0.5
) -> dict[str, np.ndarray]:
    """Select ``capacity`` row indices: per class, herding prototypes plus the most ambiguous boundary items.

    Returns ``{"prototypes": idx, "boundary": idx, "all": idx}`` (row indices into ``features``). Quotas are equal
    per class (the remainder goes to the lowest class ids); classes with fewer items than their quota give all.
    """
    x, y = np.asarray(features, dtype=np.float64), np.asarray(labels, dtype=np.int64)
    if len(x) != len(y):
        raise ValueError(f"features ({len(x)}) and labels ({len(y)}) differ in length")
    capacity = check_buffer_size(capacity, len(x))
    if not 0.0 <= boundary_fraction <= 1.0:
        raise ValueError(f"boundary_fraction must be in [0, 1], got {boundary_fraction}")
    classes = np.unique(y)
    centroids = np.stack([x[y == c].mean(0) for c in classes])
    d = np.linalg.norm(x[:, None, :] - centroids[None], axis=2)  # (N, C)
    own = np.searchsorted(classes, y)
    d_own = d[np.arange(len(x)), own]
    d_foreign = np.where(np.arange(len(classes))[None] == own[:, None], np.inf, d).min(1)
    ambiguity = d_own / np.maximum(d_foreign, 1e-12)
    protos, bounds = [], []
    for c, q in _quotas(classes, capacity).items():
        members = np.flatnonzero(y == c)
        q = min(q, len(members))
        n_b = int(q * boundary_fraction) if len(classes) > 1 else 0
        b = members[np.argsort(-ambiguity[members], kind="stable")[:n_b]]
        rest = np.setdiff1d(members, b)
        p = rest[herding(x[rest], q - n_b)] if q - n_b > 0 else np.empty(0, dtype=np.int64)
        protos.append(p)
        bounds.append(b)
    p, b = np.concatenate(protos).astype(np.int64), np.concatenate(bounds).astype(np.int64)
    return {"prototypes": p, "boundary": b, "all": np.sort(np.concatenate([p, b]))}
