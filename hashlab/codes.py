"""Binary hash codes: ±1 ``np.int8`` arrays of shape (N, L), with ``sign(0) = +1`` by rule.

Every other module converts relaxed outputs with :func:`to_codes`, validates inputs with :func:`check_codes`
and stores or indexes codes packed eight bits per byte with :func:`pack_codes` (bit 1 for +1, MSB first).
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["as_numpy", "check_codes", "pack_codes", "to_codes", "unpack_codes"]


def as_numpy(x: Any) -> np.ndarray:
    """Return ``x`` (numpy array, torch tensor, list) as a numpy array, detaching and moving torch to CPU."""
    if hasattr(x, "detach") and hasattr(x, "cpu"):
        x = x.detach().cpu().numpy()
    return np.asarray(x)


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


def check_codes(codes: Any, name: str = "codes", bits: int | None = None) -> np.ndarray:
    """Validate a code matrix and return it as ``np.int8`` (N, L).

    Raises ``ValueError`` naming ``name`` when the input is not 2-D, is empty (no rows or no bits), contains NaN
    or values other than ±1, or (if ``bits`` is given) has a different number of bits.
    """
    arr = as_numpy(codes)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array (N, bits) of ±1, got shape {arr.shape}")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"{name} is empty (shape {arr.shape}); need at least one code of at least one bit")
    if arr.dtype == np.bool_ or not np.issubdtype(arr.dtype, np.number):
        raise ValueError(f"{name} must be numeric ±1, got dtype {arr.dtype} (use hashlab.codes.to_codes)")
    if np.issubdtype(arr.dtype, np.floating) and not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or inf; codes must be ±1 (use hashlab.codes.to_codes)")
    bad = (arr != 1) & (arr != -1)
    if bad.any():
        vals = np.unique(arr[bad])[:5]
        raise ValueError(
            f"{name} must contain only ±1, found {int(bad.sum())} other value(s), e.g. {vals.tolist()} "
            "(binarise with hashlab.codes.to_codes, which maps 0 to +1)"
        )
    if bits is not None and arr.shape[1] != bits:
        raise ValueError(f"{name} has {arr.shape[1]} bits, expected {bits}")
    return arr.astype(np.int8, copy=False)


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
    if bits <= 0:
        raise ValueError(f"bits must be positive, got {bits}")
    nbytes = (bits + 7) // 8
    if arr.shape[1] != nbytes:
        raise ValueError(f"packed codes have {arr.shape[1]} bytes per row, {bits} bits need {nbytes}")
    bits_arr = np.unpackbits(arr, axis=1, count=bits)
    return np.where(bits_arr == 1, 1, -1).astype(np.int8)
