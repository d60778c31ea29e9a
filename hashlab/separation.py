"""Same-class vs different-class Hamming distances of codes: sampled pair distances and how well they separate.

For ±1 codes of length ``L``, the Hamming distance of a pair is the number of differing bits. A good hash makes
same-class (relevant) pairs close and different-class pairs far. Two numbers summarise the separation of the two
distance distributions ``S`` (same class) and ``D`` (different class):

- ``dprime = (mean_D - mean_S) / sqrt((var_S + var_D) / 2)`` (difference of means over the pooled std);
- ``overlap = sum_d min(p_S(d), p_D(d))`` over ``d = 0..L`` (1: identical distributions, 0: disjoint).

Margins are often stated as a *fraction of the code length* ``f`` in Hamming units; for DSH (Liu et al., 2016),
whose margin is a squared Euclidean distance (``||u_i - u_j||^2 = 4 d_H`` for ±1 codes), the loss margin is
``4 f L`` (DSH's default ``2L`` is ``f = 1/2``): :func:`dsh_margin`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from hashlab.codes import as_numpy, check_codes, label_similarity

__all__ = ["dsh_margin", "hamming_pair_distances", "relevant_pairs", "separation"]


def relevant_pairs(labels: np.ndarray, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """Whether pairs ``(i[k], j[k])`` are relevant: equal label (single-label) or a shared label (multi-hot)."""
    return label_similarity(labels[i], labels[j], paired=True)


def hamming_pair_distances(
    codes: Any, labels: Any, *, max_pairs: int = 20_000, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Hamming distances of item pairs and whether each pair is same-class (relevant).

    All ``i < j`` pairs are used when there are at most ``max_pairs`` of them; otherwise ``max_pairs`` distinct-item
    pairs are drawn uniformly with a seeded generator (same seed, same pairs). Returns ``(distances int32, same bool)``.
    """
    codes = check_codes(codes)
    labels = as_numpy(labels)
    n = codes.shape[0]
    if labels.shape[0] != n:
        raise ValueError(f"codes have {n} rows but labels have {labels.shape[0]}")
    if n < 2:
        raise ValueError("need at least two codes to form a pair")
    if max_pairs < 1:
        raise ValueError(f"max_pairs must be >= 1, got {max_pairs}")
    if n * (n - 1) // 2 <= max_pairs:
        i, j = np.triu_indices(n, k=1)
    else:
        rng = np.random.default_rng(seed)
        i = rng.integers(0, n, size=max_pairs)
        j = (i + rng.integers(1, n, size=max_pairs)) % n  # j != i, uniform over the other items
    dist = (codes[i] != codes[j]).sum(axis=1).astype(np.int32)
    return dist, relevant_pairs(labels, i, j)


def separation(codes: Any, labels: Any, max_pairs: int = 20_000, seed: int = 0) -> dict[str, float]:
    """Means, ``dprime`` and ``overlap`` of same- vs different-class Hamming distances (see the module docstring)."""
    dist, same = hamming_pair_distances(codes, labels, max_pairs=max_pairs, seed=seed)
    if same.all() or not same.any():
        raise ValueError("separation needs both same-class and different-class pairs")
    s, d = dist[same].astype(float), dist[~same].astype(float)
    bits = int(np.asarray(codes).shape[1])
    pooled = math.sqrt((s.var() + d.var()) / 2.0)
    p_s = np.bincount(dist[same], minlength=bits + 1) / len(s)
    p_d = np.bincount(dist[~same], minlength=bits + 1) / len(d)
    return {
        "mean_same": float(s.mean()),
        "mean_diff": float(d.mean()),
        "dprime": float((d.mean() - s.mean()) / pooled) if pooled > 0 else 0.0,
        "overlap": float(np.minimum(p_s, p_d).sum()),
    }


def dsh_margin(fraction: float, bits: int) -> float:
    """DSH loss margin for a Hamming margin of ``fraction * bits`` bits: ``4 * fraction * bits``."""
    if not (math.isfinite(fraction) and fraction >= 0):
        raise ValueError(f"margin fraction must be finite and >= 0, got {fraction}")
    return 4.0 * fraction * bits
