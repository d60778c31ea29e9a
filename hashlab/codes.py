"""Binary hash codes: ±1 ``np.int8`` arrays of shape (N, L), with ``sign(0) = +1`` by rule.

Every other module converts relaxed outputs with :func:`to_codes`, validates inputs with :func:`check_codes`
(defined in :mod:`hashlab.checks`), stores or indexes codes packed eight bits per byte with :func:`pack_codes`
(bit 1 for +1, MSB first), and decides which pairs of items are similar (relevant) with :func:`label_similarity`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from hashlab.checks import as_numpy, check_codes, check_label_pair, check_positive_int

__all__ = ["as_numpy", "check_codes", "label_similarity", "pack_codes", "to_codes", "unpack_codes"]


def to_codes(x: Any) -> np.ndarray:
    """Binarise ``x`` to ±1 ``np.int8`` with ``sign(0) = +1`` (i.e. ``x >= 0 -> +1``).

    Accepts numpy or torch, float, int or bool, of any shape (a 1-D vector is one code). NaN raises ``ValueError``
    (it has no sign).
    """
    arr = as_numpy(x)
    if arr.dtype == np.bool_:
        return np.where(arr, 1, -1).astype(np.int8)
    if not (np.issubdtype(arr.dtype, np.number)):
        raise ValueError(f"to_codes expects numeric input, got dtype {arr.dtype}")
    if np.issubdtype(arr.dtype, np.floating) and np.isnan(arr).any():
        raise ValueError(f"to_codes: input contains {int(np.isnan(arr).sum())} NaN value(s); NaN has no sign")
    return np.where(arr >= 0, 1, -1).astype(np.int8)


def pack_codes(codes: Any) -> np.ndarray:
    """Pack ±1 codes (N, L) into ``np.uint8`` (N, ceil(L/8)): bit 1 for +1, MSB first, zero-padded (np.packbits)."""
    arr = check_codes(codes)
    return np.packbits(arr > 0, axis=1)


def unpack_codes(packed: Any, bits: int) -> np.ndarray:
    """Inverse of :func:`pack_codes`: ``np.uint8`` (N, ceil(bits/8)) -> ±1 ``np.int8`` (N, bits)."""
    arr = as_numpy(packed)
    if arr.ndim != 2:
        raise ValueError(f"packed codes must be 2-D (N, bytes), got shape {arr.shape}")
    if arr.dtype != np.uint8:
        raise ValueError(f"packed codes must be np.uint8, got {arr.dtype}")
    bits = check_positive_int(bits, "bits")
    nbytes = (bits + 7) // 8
    if arr.shape[1] != nbytes:
        raise ValueError(f"packed codes have {arr.shape[1]} bytes per row, {bits} bits need {nbytes}")
    bits_arr = np.unpackbits(arr, axis=1, count=bits)
    return np.where(bits_arr == 1, 1, -1).astype(np.int8)


def label_similarity(a_labels: Any, b_labels: Any = None, *, paired: bool = False) -> Any:
    """The one relevance rule: ``s_ij = True`` iff item i of ``a`` and item j of ``b`` share at least one label.

    Single-label ``(N,)`` class ids: ``s_ij = [a_i == b_j]``. Multi-hot ``(N, C)`` {0, 1}: ``s_ij = [a_i · b_j > 0]``
    (the pairwise similarity of DPSH, Li et al. 2016, and HashNet, Cao et al. 2017, and the relevance of mAP in
    the hashing literature). ``b_labels=None`` compares ``a`` with itself. ``paired=True`` compares row k of ``a``
    with row k of ``b`` only (same number of rows) and returns ``(N,)``.

    Returns a boolean (Na, Nb) matrix, or (N,) when ``paired``: a ``torch.Tensor`` on ``a``'s device when either
    input is a tensor, else a numpy array. Raises ``ValueError`` when one side is single-label and the other
    multi-hot, the class counts differ, or paired inputs differ in length.
    """
    if b_labels is None:
        b_labels = a_labels
    if isinstance(a_labels, torch.Tensor) or isinstance(b_labels, torch.Tensor):
        a = torch.as_tensor(a_labels)
        b = torch.as_tensor(b_labels, device=a.device)
    else:
        a, b = np.asarray(a_labels), np.asarray(b_labels)
    check_label_pair(a, b, ("a_labels", "b_labels"))
    if paired:
        if a.shape[0] != b.shape[0]:
            raise ValueError(
                f"paired labels need as many rows in a_labels ({a.shape[0]}) as in b_labels ({b.shape[0]})"
            )
        if a.ndim == 1:
            return a == b
        return ((a != 0) & (b != 0)).any(1)
    if a.ndim == 1:
        return a[:, None] == b[None, :]
    if isinstance(a, torch.Tensor):
        return (a.float() @ b.float().T) > 0
    return (a.astype(np.float32) @ b.astype(np.float32).T) > 0
