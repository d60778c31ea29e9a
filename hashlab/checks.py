"""The input checks every module uses: one rule each, one error message each, naming the input or option.

Each check raises ``ValueError`` with one line that names the argument (``name``) and what is wrong with it, before
any long work starts. Numpy arrays, torch tensors and lists are accepted wherever an array is expected.

* :func:`check_finite` - no NaN or inf (numpy or torch, any shape); reports how many rows are affected.
* :func:`check_features` - a non-empty, numeric, finite (N, D) matrix, optionally of a given width.
* :func:`check_codes` - a non-empty (N, L) matrix of exactly ±1 (``1.3`` is not ``+1``), returned as ``np.int8``.
* :func:`check_labels`, :func:`check_label_pair` - (N,) class ids or (N, C) multi-hot {0, 1}, and two label sets
  that can be compared (the relevance rule itself is :func:`hashlab.codes.label_similarity`).
* :func:`check_positive_int`, :func:`check_nonnegative`, :func:`check_k`, :func:`check_choice` - options: a
  positive integer, a finite number >= 0, a cut-off ``k`` (``None`` = everything), one of a set of strings.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Collection
from typing import Any

import numpy as np

__all__ = [
    "as_numpy",
    "check_choice",
    "check_codes",
    "check_features",
    "check_finite",
    "check_k",
    "check_label_pair",
    "check_labels",
    "check_nonnegative",
    "check_positive_int",
]


def as_numpy(x: Any) -> np.ndarray:
    """Return ``x`` (numpy array, torch tensor, list) as a numpy array, detaching and moving torch to CPU."""
    if hasattr(x, "detach") and hasattr(x, "cpu"):
        x = x.detach().cpu().numpy()
    return np.asarray(x)


def _is_tensor(x: Any) -> bool:
    """Whether ``x`` is a torch tensor, without importing torch (this module stays light for the CLI)."""
    return type(x).__module__.startswith("torch") and hasattr(x, "is_floating_point")


def check_finite(x: Any, name: str) -> None:
    """Raise ``ValueError`` when ``x`` (numpy or torch, any shape) holds NaN or inf.

    The message names ``name`` and counts the affected rows (first axis; elements for a 1-D input). Integer and
    boolean inputs are always finite.
    """
    if _is_tensor(x):
        import torch

        if not x.is_floating_point() and not x.is_complex():
            return
        bad = ~torch.isfinite(x.detach())
        if not bool(bad.any()):
            return
        n_bad = int(bad.reshape(bad.shape[0], -1).any(dim=1).sum()) if bad.ndim > 1 else int(bad.sum())
    else:
        arr = np.asarray(x)
        if not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.complexfloating)):
            return
        bad = ~np.isfinite(arr)
        if not bad.any():
            return
        n_bad = int(bad.reshape(bad.shape[0], -1).any(axis=1).sum()) if bad.ndim > 1 else int(bad.sum())
    unit = "rows" if getattr(x, "ndim", 1) > 1 else "values"
    raise ValueError(f"{name} contains NaN or inf ({n_bad} {unit} affected)")


def _numeric_matrix(x: Any, name: str, what: str) -> np.ndarray:
    """``x`` as a numpy array that is 2-D, has at least one row and one column, and is numeric (not bool)."""
    arr = as_numpy(x)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be a 2-D {what}, got shape {arr.shape}")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"{name} is empty (shape {arr.shape})")
    if arr.dtype == np.bool_ or not np.issubdtype(arr.dtype, np.number):
        raise ValueError(f"{name} must be numeric, got dtype {arr.dtype} (a 2-D {what})")
    return arr


def check_features(x: Any, name: str = "features", dim: int | None = None) -> np.ndarray:
    """Validate a feature matrix: 2-D (N, D), N and D >= 1, numeric (not bool), finite; ``dim`` columns if given.

    Returns the numpy array (dtype unchanged; callers cast as they need).
    """
    arr = _numeric_matrix(x, name, "feature matrix (N, D)")
    check_finite(arr, name)
    if dim is not None and arr.shape[1] != dim:
        raise ValueError(f"{name} has {arr.shape[1]} features, expected {dim}")
    return arr


def check_codes(codes: Any, name: str = "codes", bits: int | None = None) -> np.ndarray:
    """Validate a code matrix and return it as ``np.int8`` (N, L).

    Raises ``ValueError`` naming ``name`` when the input is not 2-D, is empty (no rows or no bits), contains NaN
    or values other than exactly ±1, or (if ``bits`` is given) has a different number of bits. Check before any
    cast: ``int8(1.3) == 1`` would otherwise pass.
    """
    arr = _numeric_matrix(codes, name, "array (N, bits) of ±1 (use hashlab.codes.to_codes)")
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


def check_labels(labels: Any, n: int, name: str = "labels") -> np.ndarray:
    """Validate labels for ``n`` items: (n,) integer class ids, or (n, C) multi-hot {0, 1} with C >= 2.

    Returns ``np.int64`` labels. Raises ``ValueError`` naming the problem (length, shape, NaN, non-integer
    values, multi-hot values outside {0, 1}).
    """
    arr = as_numpy(labels)
    if arr.ndim not in (1, 2):
        raise ValueError(f"{name} must be (N,) class ids or (N, C) multi-hot, got shape {arr.shape}")
    if arr.shape[0] != n:
        raise ValueError(
            f"{name} has {arr.shape[0]} rows but there are {n} codes/features; lengths must match"
        )
    if arr.dtype == np.bool_:
        arr = arr.astype(np.int64)
    if not np.issubdtype(arr.dtype, np.number):
        raise ValueError(f"{name} must be numeric, got dtype {arr.dtype}")
    if np.issubdtype(arr.dtype, np.floating):
        if not np.isfinite(arr).all():
            raise ValueError(f"{name} contains NaN or inf")
        if (arr != np.round(arr)).any():
            raise ValueError(
                f"{name} must hold integer class ids or {{0, 1}} multi-hot, found fractional values"
            )
    arr = arr.astype(np.int64)
    if arr.ndim == 2:
        if arr.shape[1] < 2:
            raise ValueError(
                f"{name} has shape {arr.shape}: a single column is ambiguous; pass (N,) class ids for "
                "single-label data or (N, C >= 2) multi-hot for multi-label data"
            )
        if ((arr != 0) & (arr != 1)).any():
            raise ValueError(f"{name} is 2-D, so it must be multi-hot with values in {{0, 1}}")
    return arr


def check_label_pair(a: Any, b: Any, names: tuple[str, str] = ("query labels", "database labels")) -> None:
    """Raise ``ValueError`` unless ``a`` and ``b`` are both (N,) class ids or both (N, C) multi-hot with one C."""
    a_ndim, b_ndim = len(a.shape), len(b.shape)
    if a_ndim not in (1, 2) or b_ndim not in (1, 2):
        raise ValueError(
            f"labels must be (N,) class ids or (N, C) multi-hot, got {names[0]} {tuple(a.shape)} and "
            f"{names[1]} {tuple(b.shape)}"
        )
    if a_ndim != b_ndim:
        raise ValueError(
            f"{names[0]} are {a_ndim}-D but {names[1]} are {b_ndim}-D; "
            "both must be single-label (N,) or both multi-hot (N, C)"
        )
    if a_ndim == 2 and a.shape[1] != b.shape[1]:
        raise ValueError(
            f"multi-hot labels disagree on the number of classes: {names[0]} {a.shape[1]}, "
            f"{names[1]} {b.shape[1]}"
        )


def check_positive_int(value: Any, name: str, *, minimum: int = 1) -> int:
    """``value`` as an ``int >= minimum`` (default 1: positive), else ``ValueError`` naming the option ``name``
    (``"epochs must be an integer >= 1, got 2.5"``).

    Python and numpy integers are accepted; bools, floats (even ``2.0``) and strings are not.
    """
    want = f"an integer >= {minimum}"
    if isinstance(value, bool):
        raise ValueError(f"{name} must be {want}, got {value!r}")
    try:
        out = operator.index(value)
    except TypeError:
        raise ValueError(f"{name} must be {want}, got {value!r}") from None
    if out < minimum:
        raise ValueError(f"{name} must be {want}, got {value!r}")
    return int(out)


def check_nonnegative(value: Any, name: str) -> float:
    """``value`` as a finite ``float >= 0`` (a margin, a weight, a rate), else ``ValueError`` naming ``name``."""
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}") from None
    if not math.isfinite(out):
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r} (NaN or inf)")
    if isinstance(value, bool) or out < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return out


def check_k(k: int | None, n_db: int, name: str = "k") -> int:
    """Resolve a cut-off ``k`` (``None`` = the whole database of ``n_db`` items); reject sentinels such as ``-1``,
    non-integers and values beyond the database, naming the option ``name``."""
    if k is None:
        return n_db
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        raise ValueError(f"{name} must be a positive int or None (whole database), got {k!r}")
    if k <= 0:
        raise ValueError(f"{name} must be positive (use {name}=None for the whole database), got {k}")
    if k > n_db:
        raise ValueError(f"{name}={k} is larger than the database ({n_db} items)")
    return int(k)


def check_choice(name: str, value: Any, choices: Collection[str]) -> None:
    """Raise ``ValueError`` naming the option ``name`` unless ``value`` is one of ``choices``."""
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {tuple(choices)}, got {value!r}")
