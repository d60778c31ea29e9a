"""Continual-learning metrics for hashing: the mAP matrix and what is read from it, code stability, update cost.

``R[t, j]`` is the mAP of task ``j``'s queries against the database held after training task ``t`` (``NaN`` for
``j > t``: those classes have not arrived). From the final row ``T`` (Chaudhry et al., ECCV 2018; Lopez-Paz &
Ranzato, NeurIPS 2017, as in ``avalanche.evaluation.functional``):

* average forgetting ``F = mean_{j<T} ( max_{j<=t<T} R[t, j] - R[T, j] )``
* backward transfer ``BWT = mean_{j<T} ( R[T, j] - R[j, j] )`` (negative = forgetting)

Code stability compares the codes stored for database items before an update with the codes the updated model
gives them: the fraction of items whose code changed and the mean number of flipped bits per item.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hashlab.codes import check_codes

__all__ = [
    "UpdateCost",
    "average_forgetting",
    "backward_transfer",
    "check_map_matrix",
    "code_stability",
    "relative_cost",
]


def check_map_matrix(r: np.ndarray) -> np.ndarray:
    """Validate an mAP matrix: square, finite on and below the diagonal, values in [0, 1]."""
    r = np.asarray(r, dtype=np.float64)
    if r.ndim != 2 or r.shape[0] != r.shape[1] or r.shape[0] < 1:
        raise ValueError(f"an mAP matrix must be square (tasks x tasks), got shape {r.shape}")
    lower = r[np.tril_indices(len(r))]
    if not np.isfinite(lower).all():
        raise ValueError("an mAP matrix must be finite on and below the diagonal (R[t, j] for j <= t)")
    if (lower < 0).any() or (lower > 1).any():
        raise ValueError("mAP values must lie in [0, 1]")
    return r


def average_forgetting(r: np.ndarray) -> float:
    """``mean_{j<T} (max_{j<=t<T} R[t, j] - R[T, j])``; 0.0 for a single task."""
    r = check_map_matrix(r)
    t_last = len(r) - 1
    if t_last == 0:
        return 0.0
    drops = [np.max(r[j:t_last, j]) - r[t_last, j] for j in range(t_last)]
    return float(np.mean(drops))


def backward_transfer(r: np.ndarray) -> float:
    """``mean_{j<T} (R[T, j] - R[j, j])``; 0.0 for a single task."""
    r = check_map_matrix(r)
    t_last = len(r) - 1
    if t_last == 0:
        return 0.0
    return float(np.mean([r[t_last, j] - r[j, j] for j in range(t_last)]))


def code_stability(stored: np.ndarray, fresh: np.ndarray) -> dict[str, float]:
    """Compare stored codes with re-encoded ones (same items, same order).

    Returns ``fraction_changed`` (items with at least one flipped bit), ``mean_bit_flips`` (per item) and
    ``n_changed``. When the fresh codes are longer (code extension) only the common leading bits are compared.
    """
    stored, fresh = check_codes(stored, "stored codes"), check_codes(fresh, "fresh codes")
    if len(stored) != len(fresh):
        raise ValueError(f"stored ({len(stored)}) and fresh ({len(fresh)}) codes cover different item counts")
    bits = min(stored.shape[1], fresh.shape[1])
    flips = (stored[:, :bits] != fresh[:, :bits]).sum(1)
    return {
        "fraction_changed": float((flips > 0).mean()),
        "mean_bit_flips": float(flips.mean()),
        "n_changed": int((flips > 0).sum()),
    }


@dataclass
class UpdateCost:
    """Cost of one update: training wall time, sample-gradient evaluations, items (re-)encoded and its time."""

    train_seconds: float = 0.0
    sample_gradients: int = 0
    encoded_items: int = 0
    encode_seconds: float = 0.0

    @property
    def total_seconds(self) -> float:
        return self.train_seconds + self.encode_seconds


def relative_cost(cost: UpdateCost, reference: UpdateCost) -> dict[str, float]:
    """Cost as fractions of a reference update (full retrain): time, gradients and the saving ``1 - ratio``."""
    if reference.train_seconds <= 0 or reference.sample_gradients <= 0:
        raise ValueError("the reference update has no training cost to compare against")
    time_ratio = cost.train_seconds / reference.train_seconds
    grad_ratio = cost.sample_gradients / reference.sample_gradients
    return {
        "time_ratio": time_ratio,
        "gradient_ratio": grad_ratio,
        "time_saving": 1.0 - time_ratio,
        "gradient_saving": 1.0 - grad_ratio,
        "speedup": 1.0 / time_ratio if time_ratio > 0 else float("inf"),
    }
