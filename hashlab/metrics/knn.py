"""k-nearest-neighbour classification by Hamming distance (codes) or Euclidean distance (float features).

Neighbours are ordered by (distance, database index); a vote tie goes to the tied class whose member appears
first in that order.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from hashlab.checks import as_numpy, check_choice, check_k, check_label_pair, check_labels, check_positive_int
from hashlab.metrics.checks import check_feature_pair
from hashlab.metrics.ranking import chunk_rows, hamming_ranking

__all__ = ["confusion_matrix", "knn_accuracy", "knn_predict", "majority_vote"]


def _looks_like_codes(arr: np.ndarray) -> bool:
    """Whether a validated feature matrix holds only ±1 (so ``metric="auto"`` ranks it by Hamming distance)."""
    return bool(((arr == 1) | (arr == -1)).all())


def _knn_euclidean(q: np.ndarray, db: np.ndarray, k: int) -> np.ndarray:
    """k nearest by Euclidean distance, ordered by (distance, database index); torch cdist, query chunks."""
    qt = torch.from_numpy(np.ascontiguousarray(q, dtype=np.float32))
    dbt = torch.from_numpy(np.ascontiguousarray(db, dtype=np.float32))
    n_db = dbt.shape[0]
    out = np.empty((qt.shape[0], k), dtype=np.int64)
    step = chunk_rows(n_db, per_item_bytes=8)
    with torch.no_grad():
        for start in range(0, qt.shape[0], step):
            d = torch.cdist(qt[start : start + step], dbt)
            vals, idx = torch.topk(d, k, dim=1, largest=False)
            kth = vals[:, -1:]
            n_le = (d <= kth).sum(dim=1)
            # candidates are exactly {d <= kth} unless ties straddle the k-th place: order them by (dist, index)
            idx, _ = torch.sort(idx, dim=1)
            vals = torch.gather(d, 1, idx)
            _, o = torch.sort(vals, dim=1, stable=True)
            idx = torch.gather(idx, 1, o)
            for row in torch.nonzero(n_le > k).flatten().tolist():
                _, o_row = torch.sort(d[row], stable=True)
                idx[row] = o_row[:k]
            out[start : start + len(idx)] = idx.numpy()
    return out


def _neighbours(query: Any, db: Any, k: int, metric: str) -> np.ndarray:
    check_choice("metric", metric, ("auto", "hamming", "euclidean"))
    qa, da = check_feature_pair(query, db)
    k = check_k(k, da.shape[0])
    if metric == "auto":
        metric = "hamming" if _looks_like_codes(qa) and _looks_like_codes(da) else "euclidean"
    if metric == "hamming":
        return hamming_ranking(qa, da, k)[1]
    return _knn_euclidean(qa, da, k)


def majority_vote(neigh_labels: Any) -> np.ndarray:
    """Majority vote per row of (Nq, k) neighbour labels, listed nearest first.

    A vote tie goes to the tied class whose member appears first in the row (i.e. the nearest one).
    """
    neigh_labels = as_numpy(neigh_labels)
    classes, inv = np.unique(neigh_labels, return_inverse=True)
    inv = inv.reshape(neigh_labels.shape)
    nq, k = inv.shape
    onehot = inv[:, :, None] == np.arange(len(classes))[None, None, :]
    counts = onehot.sum(axis=1)
    first = np.where(onehot.any(axis=1), onehot.argmax(axis=1), k)
    score = counts * (k + 1) - first  # more votes first, then earliest first appearance
    return classes[score.argmax(axis=1)]


def vote(neigh_labels: np.ndarray) -> np.ndarray:
    """Predicted labels from the neighbours' labels, nearest first: (Nq, k) class ids -> :func:`majority_vote`;
    (Nq, k, C) multi-hot -> each label predicted when a strict majority (> k/2) carry it. Returns ``np.int64``."""
    if neigh_labels.ndim == 3:
        return (neigh_labels.sum(axis=1) * 2 > neigh_labels.shape[1]).astype(np.int64)
    return majority_vote(neigh_labels).astype(np.int64)


def knn_predict(query: Any, db: Any, db_labels: Any, k: int = 7, metric: str = "auto") -> np.ndarray:
    """Predict labels by majority vote over the k nearest database items.

    ``metric="auto"``: Hamming for ±1 codes, Euclidean for float features (torch ``cdist`` in query chunks).
    Neighbours are ordered by (distance, database index); a vote tie goes to the tied class whose member
    appears first in that order. Multi-hot labels (N, C): each label is predicted when a strict majority
    (> k/2) of the neighbours carry it. Returns (Nq,) int64 or (Nq, C) int64.
    """
    da = as_numpy(db)
    dl = check_labels(db_labels, da.shape[0] if da.ndim >= 1 else 0, "db_labels")
    return vote(dl[_neighbours(query, db, k, metric)])


def knn_accuracy(
    query: Any, db: Any, query_labels: Any, db_labels: Any, k: int = 7, metric: str = "auto"
) -> float:
    """Accuracy of :func:`knn_predict` (for multi-hot labels: the mean per-label accuracy)."""
    qa = as_numpy(query)
    ql = check_labels(query_labels, qa.shape[0] if qa.ndim >= 1 else 0, "query_labels")
    dl = check_labels(db_labels, as_numpy(db).shape[0], "db_labels")
    check_label_pair(ql, dl)
    pred = knn_predict(query, db, dl, k=k, metric=metric)
    return float((pred == ql).mean())


def knn_accuracy_sweep(
    query: Any, db: Any, query_labels: Any, db_labels: Any, ks: Sequence[int], metric: str = "auto"
) -> dict[int, float]:
    """:func:`knn_accuracy` for several k from one neighbour search (the k largest, then its first k columns):
    equal to calling it once per k, because neighbours are ordered by (distance, database index)."""
    ks = [check_positive_int(k, "k") for k in ks]
    qa = as_numpy(query)
    ql = check_labels(query_labels, qa.shape[0] if qa.ndim >= 1 else 0, "query_labels")
    dl = check_labels(db_labels, as_numpy(db).shape[0], "db_labels")
    check_label_pair(ql, dl)
    neighbours = _neighbours(query, db, max(ks), metric)
    return {k: float((vote(dl[neighbours[:, :k]]) == ql).mean()) for k in ks}


def confusion_matrix(y_true: Any, y_pred: Any, n_classes: int) -> np.ndarray:
    """(n_classes, n_classes) counts, rows = true class, columns = predicted (scikit-learn)."""
    from sklearn.metrics import confusion_matrix as _cm

    yt, yp = as_numpy(y_true).ravel(), as_numpy(y_pred).ravel()
    if len(yt) != len(yp):
        raise ValueError(f"y_true has {len(yt)} entries but y_pred has {len(yp)}")
    for name, y in (("y_true", yt), ("y_pred", yp)):
        if len(y) and (y.min() < 0 or y.max() >= n_classes):
            raise ValueError(f"{name} has class ids outside 0..{n_classes - 1}")
    return _cm(yt, yp, labels=np.arange(n_classes))
