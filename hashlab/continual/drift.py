"""Drift detection with the maximum mean discrepancy (MMD) and a permutation-test threshold.

Crawford & Ahuja (undated preprint, §3) trigger an update cycle when the maximum mean discrepancy between deep
features of past and incoming data exceeds a threshold, whose value they do not give; the test below sets it.

The unbiased estimate of MMD² between samples ``X`` (m items) and ``Y`` (n items) with an RBF kernel
``k(a, b) = exp(-||a - b||² / (2 s²))`` (Gretton et al., JMLR 2012, eq. 3):

    MMD²_u = 1/(m(m-1)) Σ_{i≠j} k(x_i, x_j) + 1/(n(n-1)) Σ_{i≠j} k(y_i, y_j) - 2/(mn) Σ_{i,j} k(x_i, y_j)

The bandwidth ``s`` is the median pairwise distance of the pooled sample (median heuristic). The threshold is the
``1 - alpha`` quantile of MMD²_u under random relabelling of the pooled sample (permutation test); the p-value is
``(1 + #{null >= observed}) / (1 + n_permutations)`` and drift is declared when ``p <= alpha``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial.distance import cdist, pdist

from hashlab.checks import check_finite

__all__ = ["DriftDetector", "MMDTest", "median_bandwidth", "mmd2_unbiased", "mmd_permutation_test"]


def _check(x: np.ndarray, name: str) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or len(x) < 2:
        raise ValueError(f"{name} must be a 2-D array with at least 2 rows, got shape {x.shape}")
    check_finite(x, name)
    return x


def median_bandwidth(z: np.ndarray) -> float:
    """Median pairwise Euclidean distance of ``z`` (the median heuristic); 1.0 when all points coincide."""
    d = pdist(_check(z, "z"))
    med = float(np.median(d)) if len(d) else 0.0
    return med if med > 0 else 1.0


def _mmd2_from_kernel(k: np.ndarray, m: int) -> float:
    n = len(k) - m
    kxx, kyy, kxy = k[:m, :m], k[m:, m:], k[:m, m:]
    return float(
        (kxx.sum() - np.trace(kxx)) / (m * (m - 1))
        + (kyy.sum() - np.trace(kyy)) / (n * (n - 1))
        - 2.0 * kxy.sum() / (m * n)
    )


def _kernel(z: np.ndarray, bandwidth: float) -> np.ndarray:
    return np.exp(-cdist(z, z, "sqeuclidean") / (2.0 * bandwidth**2))


def mmd2_unbiased(x: np.ndarray, y: np.ndarray, bandwidth: float | None = None) -> float:
    """Unbiased MMD² between ``x`` and ``y`` with an RBF kernel (median-heuristic bandwidth when None)."""
    x, y = _check(x, "x"), _check(y, "y")
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"x has {x.shape[1]} features but y has {y.shape[1]}")
    z = np.concatenate([x, y])
    s = median_bandwidth(z) if bandwidth is None else float(bandwidth)
    if s <= 0:
        raise ValueError(f"bandwidth must be positive, got {s}")
    return _mmd2_from_kernel(_kernel(z, s), len(x))


@dataclass(frozen=True)
class MMDTest:
    """Result of one permutation test: statistic, threshold (1-alpha null quantile), p-value, decision."""

    mmd2: float
    threshold: float
    p_value: float
    drift: bool
    bandwidth: float
    alpha: float


def mmd_permutation_test(
    x: np.ndarray,
    y: np.ndarray,
    alpha: float = 0.05,
    n_permutations: int = 200,
    bandwidth: float | None = None,
    seed: int = 0,
) -> MMDTest:
    """Two-sample MMD² permutation test; the kernel matrix is computed once and permuted."""
    x, y = _check(x, "x"), _check(y, "y")
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"x has {x.shape[1]} features but y has {y.shape[1]}")
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    if n_permutations < 1:
        raise ValueError(f"n_permutations must be >= 1, got {n_permutations}")
    z = np.concatenate([x, y])
    s = median_bandwidth(z) if bandwidth is None else float(bandwidth)
    k = _kernel(z, s)
    m = len(x)
    observed = _mmd2_from_kernel(k, m)
    rng = np.random.default_rng(seed)
    null = np.empty(n_permutations)
    for p in range(n_permutations):
        perm = rng.permutation(len(z))
        null[p] = _mmd2_from_kernel(k[np.ix_(perm, perm)], m)
    p_value = float((1 + np.sum(null >= observed)) / (1 + n_permutations))
    threshold = float(np.quantile(null, 1.0 - alpha))
    return MMDTest(observed, threshold, p_value, p_value <= alpha, s, alpha)


class DriftDetector:
    """Compare incoming windows against a reference window; ``check(window)`` returns an :class:`MMDTest`.

    The bandwidth is fixed on the reference window (median heuristic) so that statistics are comparable across
    windows. ``max_samples`` subsamples large windows (seeded) to keep each test O(max_samples²).
    """

    def __init__(
        self,
        reference: np.ndarray,
        alpha: float = 0.05,
        n_permutations: int = 200,
        max_samples: int = 200,
        seed: int = 0,
    ):
        self.alpha, self.n_permutations, self.max_samples, self.seed = (
            alpha,
            n_permutations,
            max_samples,
            seed,
        )
        self.reference = self._sub(_check(reference, "reference"), seed)
        self.bandwidth = median_bandwidth(self.reference)
        self.history: list[MMDTest] = []

    def _sub(self, x: np.ndarray, seed: int) -> np.ndarray:
        if len(x) <= self.max_samples:
            return x
        return x[np.sort(np.random.default_rng(seed).choice(len(x), self.max_samples, replace=False))]

    def check(self, window: np.ndarray) -> MMDTest:
        seed = self.seed + 1 + len(self.history)
        result = mmd_permutation_test(
            self.reference,
            self._sub(_check(window, "window"), seed),
            self.alpha,
            self.n_permutations,
            self.bandwidth,
            seed,
        )
        self.history.append(result)
        return result
