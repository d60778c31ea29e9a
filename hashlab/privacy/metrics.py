"""Measures of what a reconstruction reveals: error, re-identification, storage; input checks for the attacks."""

from __future__ import annotations

from typing import Any

import numpy as np

from hashlab.checks import as_numpy, check_features, check_labels, check_positive_int

__all__ = [
    "FLOAT_BITS",
    "majority_accuracy",
    "reconstruction_error",
    "reidentification_rate",
    "storage_bits",
]

FLOAT_BITS = 32


def _matrix(x: Any, name: str) -> np.ndarray:
    """``x`` as a finite float64 matrix (N, D) with N, D >= 1 (:func:`hashlab.checks.check_features`)."""
    return check_features(x, name).astype(np.float64, copy=False)


def _same_rows(a: np.ndarray, b: np.ndarray, name_a: str, name_b: str) -> None:
    if len(a) != len(b):
        raise ValueError(
            f"{name_a} has {len(a)} rows but {name_b} has {len(b)}; they must pair up row by row"
        )


def _same_width(a: np.ndarray, b: np.ndarray, name_a: str, name_b: str) -> None:
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"{name_a} has {a.shape[1]} columns but {name_b} has {b.shape[1]}")


def _labels(y: Any, n: int, name: str) -> np.ndarray:
    """Single-label integer class ids for ``n`` rows (:func:`hashlab.checks.check_labels`, 1-D only)."""
    arr = as_numpy(y)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be single-label (N,) class ids, got shape {arr.shape}")
    if len(arr) != n:
        raise ValueError(f"{name} has {len(arr)} labels for {n} rows")
    if not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"{name} must be integer class ids, got dtype {arr.dtype}")
    return check_labels(arr, n, name)


def reconstruction_error(reconstructions: Any, truth: Any) -> dict[str, float]:
    """``mse`` over all entries and mean per-item ``cosine`` similarity (0 where either vector is zero)."""
    rec = _matrix(reconstructions, "reconstructions")
    true = _matrix(truth, "truth")
    _same_rows(rec, true, "reconstructions", "truth")
    _same_width(rec, true, "reconstructions", "truth")
    from sklearn.metrics import mean_squared_error
    from sklearn.preprocessing import normalize

    cosine = np.sum(normalize(rec) * normalize(true), axis=1)  # normalize leaves zero rows at zero
    return {"mse": float(mean_squared_error(true, rec)), "cosine": float(cosine.mean())}


def reidentification_rate(reconstructions: Any, truth: Any) -> float:
    """Fraction of rows ``i`` whose nearest ``truth`` row (Euclidean, ties to the lowest index) is row ``i``."""
    rec = _matrix(reconstructions, "reconstructions")
    true = _matrix(truth, "truth")
    _same_rows(rec, true, "reconstructions", "truth")
    _same_width(rec, true, "reconstructions", "truth")
    from sklearn.metrics import pairwise_distances_argmin

    nearest = pairwise_distances_argmin(rec, true, metric="euclidean")
    return float(np.mean(nearest == np.arange(len(true))))


def storage_bits(dim: int, bits: int | None = None, float_bits: int = FLOAT_BITS) -> int:
    """Bits stored per item: ``bits`` for a code, else ``dim x float_bits`` for the raw float features."""
    dim, float_bits = check_positive_int(dim, "dim"), check_positive_int(float_bits, "float_bits")
    return check_positive_int(bits, "bits") if bits is not None else dim * float_bits


def majority_accuracy(aux_labels: Any, test_labels: Any) -> float:
    """Accuracy of always answering the auxiliary set's most frequent class (the attribute-inference chance)."""
    aux = _labels(aux_labels, len(as_numpy(aux_labels)), "aux_labels")
    test = _labels(test_labels, len(as_numpy(test_labels)), "test_labels")
    if len(aux) == 0 or len(test) == 0:
        raise ValueError("majority_accuracy needs at least one auxiliary and one test label")
    from sklearn.dummy import DummyClassifier

    dummy = DummyClassifier(strategy="most_frequent").fit(np.zeros((len(aux), 1)), aux)
    return float(np.mean(dummy.predict(np.zeros((len(test), 1))) == test))
