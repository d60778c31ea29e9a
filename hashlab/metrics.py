"""Retrieval and classification metrics for hash codes, with every convention named and documented.

Conventions (see ``docs/evaluation.md``):

- Codes are ±1 (N, L); Hamming distance ``d(a, b) = (L - a·b) / 2`` as ``np.int32``.
- Relevance: equal label (single-label, (N,) ints) or sharing at least one label (multi-hot (N, C) {0, 1}).
- Ranking: by Hamming distance, ties broken by database index (stable), unless ``ties="average"``
  (tie-aware AP of McSherry & Najork, ECIR 2008: the expectation over all orderings within tie groups).
- ``k=None`` means the whole database; no sentinel (``-1``) is accepted.
- Float features (``mean_average_precision_float``, ``precision_at_k_float``): the same conventions on the exact
  Euclidean ranking (float64 distances, ties by database index).
- AP@k divides by the number of relevant items retrieved in the top k (the hashing convention of DeepHash,
  HashNet, FIRe, torchmetrics); ``normalize="min_k_relevant"`` divides by ``min(k, total relevant)`` instead.
- A query with no relevant item in the database scores 0 (``no_relevant="zero"``) or is left out
  (``"skip"``), or raises (``"error"``); the count is reported by ``return_per_query=True``.

All query x database work is chunked over queries, so 7k queries x 90k database codes fit in a few hundred MB;
top-k rankings with small k use faiss through ``hashlab.index.HammingIndex`` (same (distance, index) order).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Literal, NamedTuple

import numpy as np
import torch
from torchmetrics import Metric
from torchmetrics.utilities.data import dim_zero_cat

from hashlab.codes import as_numpy, check_codes
from hashlab.index import HammingIndex

__all__ = [
    "HammingKNNAccuracy",
    "HammingMAP",
    "MAPResult",
    "check_labels",
    "confusion_matrix",
    "hamming_distance",
    "hamming_distance_packed",
    "hamming_ranking",
    "knn_accuracy",
    "knn_predict",
    "majority_vote",
    "mean_average_precision",
    "mean_average_precision_float",
    "precision_at_k",
    "precision_at_k_float",
    "precision_recall_curve",
    "precision_within_radius",
    "relevance",
    "retrieval_report",
]

Ties = Literal["index", "average"]
NoRelevant = Literal["zero", "skip", "error"]
Normalize = Literal["retrieved", "min_k_relevant"]

# Bytes of scratch memory one chunk of queries may use (distances, orders, relevance).
_CHUNK_BYTES = 256 * 2**20
# Top-k rankings with k up to this use faiss (HammingIndex, exact (distance, id) order); larger k sort in numpy.
_FAISS_MAX_K = 2048


class MAPResult(NamedTuple):
    """Result of ``mean_average_precision(..., return_per_query=True)``.

    ``per_query`` holds each query's AP (NaN for queries left out by ``no_relevant="skip"``);
    ``n_no_relevant`` counts queries with no relevant item in the database; ``n_evaluated`` is the number of
    queries averaged into ``map``.
    """

    map: float
    per_query: np.ndarray
    n_no_relevant: int
    n_evaluated: int


# --------------------------------------------------------------------------------------------------------------
# Input checks
# --------------------------------------------------------------------------------------------------------------


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


def _check_label_pair(q_labels: np.ndarray, db_labels: np.ndarray) -> None:
    if q_labels.ndim != db_labels.ndim:
        raise ValueError(
            f"query labels are {q_labels.ndim}-D but database labels are {db_labels.ndim}-D; "
            "both must be single-label (N,) or both multi-hot (N, C)"
        )
    if q_labels.ndim == 2 and q_labels.shape[1] != db_labels.shape[1]:
        raise ValueError(
            f"multi-hot labels disagree on the number of classes: query {q_labels.shape[1]}, "
            f"database {db_labels.shape[1]}"
        )


def _check_code_pair(query_codes: Any, db_codes: Any) -> tuple[np.ndarray, np.ndarray]:
    q = check_codes(query_codes, "query_codes")
    db = check_codes(db_codes, "db_codes")
    if q.shape[1] != db.shape[1]:
        raise ValueError(f"query codes have {q.shape[1]} bits but database codes have {db.shape[1]}")
    return q, db


def _check_k(k: int | None, n_db: int, name: str = "k") -> int:
    """Resolve ``k`` (None = whole database) and reject sentinels and values beyond the database."""
    if k is None:
        return n_db
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        raise ValueError(f"{name} must be a positive int or None (whole database), got {k!r}")
    if k <= 0:
        raise ValueError(f"{name} must be positive (use {name}=None for the whole database), got {k}")
    if k > n_db:
        raise ValueError(f"{name}={k} is larger than the database ({n_db} items)")
    return int(k)


def _prepare(
    query_codes: Any, db_codes: Any, query_labels: Any, db_labels: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    q, db = _check_code_pair(query_codes, db_codes)
    ql = check_labels(query_labels, q.shape[0], "query_labels")
    dl = check_labels(db_labels, db.shape[0], "db_labels")
    _check_label_pair(ql, dl)
    return q, db, ql, dl


# --------------------------------------------------------------------------------------------------------------
# Distances, relevance, ranking
# --------------------------------------------------------------------------------------------------------------


def _words(codes: np.ndarray) -> np.ndarray:
    """Pack ±1 codes into uint64 words (N, W), zero-padded: Hamming distance = popcount of the XOR."""
    packed = np.packbits(codes > 0, axis=1)
    pad = (-packed.shape[1]) % 8
    if pad:
        packed = np.pad(packed, ((0, 0), (0, pad)))
    return np.ascontiguousarray(packed).view(np.uint64)


def _hamming_words(qw: np.ndarray, dbw: np.ndarray, bits: int) -> np.ndarray:
    """Distances (Nq, Ndb) from packed words, as uint8 (bits <= 255) or uint16: small dtypes sort in O(N)."""
    out = np.bitwise_count(qw[:, 0, None] ^ dbw[None, :, 0])
    if bits > 255:
        out = out.astype(np.uint16)
    for w in range(1, qw.shape[1]):
        out += np.bitwise_count(qw[:, w, None] ^ dbw[None, :, w])
    return out


def hamming_distance(a: Any, b: Any) -> np.ndarray:
    """Hamming distances between ±1 codes: ``d = (L - a·b) / 2``, ``np.int32`` (Na, Nb).

    The product runs in float32 (BLAS; exact for integers below 2**24). Internally the metrics use the equal,
    faster popcount of packed words (see :func:`hamming_distance_packed`).
    """
    qa, qb = _check_code_pair(a, b)
    dots = qa.astype(np.float32) @ qb.astype(np.float32).T
    return np.rint((qa.shape[1] - dots) * 0.5).astype(np.int32)


def hamming_distance_packed(a: Any, b: Any) -> np.ndarray:
    """Hamming distances between packed codes (``hashlab.codes.pack_codes``): popcount(a XOR b), ``np.int32``."""
    pa, pb = as_numpy(a), as_numpy(b)
    for name, arr in (("a", pa), ("b", pb)):
        if arr.ndim != 2 or arr.dtype != np.uint8:
            raise ValueError(f"packed codes {name} must be 2-D np.uint8, got {arr.dtype} {arr.shape}")
    if pa.shape[1] != pb.shape[1]:
        raise ValueError(f"packed codes have {pa.shape[1]} and {pb.shape[1]} bytes per row")
    out = np.zeros((pa.shape[0], pb.shape[0]), dtype=np.int32)
    for j in range(pa.shape[1]):  # one byte column at a time keeps memory at (Na, Nb)
        out += np.bitwise_count(pa[:, j, None] ^ pb[None, :, j])
    return out


def relevance(query_labels: np.ndarray, db_labels: np.ndarray) -> np.ndarray:
    """Boolean (Nq, Ndb): equal label (single-label) or at least one shared label (multi-hot)."""
    if query_labels.ndim == 1:
        return query_labels[:, None] == db_labels[None, :]
    return (query_labels.astype(np.float32) @ db_labels.astype(np.float32).T) > 0


def _chunk_rows(n_db: int, per_item_bytes: int = 24) -> int:
    return max(1, _CHUNK_BYTES // max(1, n_db * per_item_bytes))


def _iter_chunks(
    q: np.ndarray, db: np.ndarray, ql: np.ndarray | None = None, dl: np.ndarray | None = None
) -> Iterator[tuple[slice, np.ndarray, np.ndarray | None]]:
    """Yield (query slice, distances (c, N) uint8/uint16, relevance (c, N) bool or None) over query chunks."""
    qw, dbw = _words(q), _words(db)
    step = _chunk_rows(db.shape[0])
    for start in range(0, q.shape[0], step):
        sl = slice(start, min(start + step, q.shape[0]))
        dist = _hamming_words(qw[sl], dbw, q.shape[1])
        rel = relevance(ql[sl], dl) if ql is not None and dl is not None else None
        yield sl, dist, rel


def _rank(dist: np.ndarray, k: int, bits: int) -> np.ndarray:
    """Indices (c, k) of the k nearest per row, ordered by (distance, database index)."""
    n = dist.shape[1]
    if k >= n // 4:
        # numpy's stable argsort is a radix sort for 8/16-bit integers: O(N) per row
        order = np.argsort(dist, axis=1, kind="stable")
        return order[:, :k]
    key = dist.astype(np.int64) * n + np.arange(n, dtype=np.int64)  # unique keys: order by (dist, index)
    part = np.argpartition(key, k - 1, axis=1)[:, :k]
    sub = np.take_along_axis(key, part, axis=1)
    return np.take_along_axis(part, np.argsort(sub, axis=1), axis=1)


def _topk(q: np.ndarray, db: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(dist int32, ids int64) of the k nearest by (distance, index): faiss for small k, numpy sort otherwise."""
    if k <= _FAISS_MAX_K and k < db.shape[0]:
        index = HammingIndex(q.shape[1])
        index.add(db)
        return index.search(q, k)
    dists = np.empty((q.shape[0], k), dtype=np.int32)
    idx = np.empty((q.shape[0], k), dtype=np.int64)
    for sl, dist, _ in _iter_chunks(q, db):
        order = _rank(dist, k, q.shape[1])
        idx[sl] = order
        dists[sl] = np.take_along_axis(dist, order, axis=1).astype(np.int32)
    return dists, idx


def hamming_ranking(query_codes: Any, db_codes: Any, k: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Rank the database for each query by Hamming distance, ties by database index (stable).

    Returns ``(dist int32 (Nq, k), idx int64 (Nq, k))``; ``k=None`` ranks the whole database.
    """
    q, db = _check_code_pair(query_codes, db_codes)
    return _topk(q, db, _check_k(k, db.shape[0]))


def _relevant_at(ql: np.ndarray, dl: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Relevance (Nq, k) of the database items ``ids`` (Nq, k) to each query."""
    if ql.ndim == 1:
        return dl[ids] == ql[:, None]
    out = np.empty(ids.shape, dtype=bool)
    step = max(1, _CHUNK_BYTES // max(1, ids.shape[1] * ql.shape[1] * 8))
    for s in range(0, len(ids), step):
        out[s : s + step] = (dl[ids[s : s + step]] & ql[s : s + step, None, :]).any(axis=2)
    return out


def _total_relevant(ql: np.ndarray, dl: np.ndarray) -> np.ndarray:
    """Number of relevant database items per query."""
    if ql.ndim == 1:
        classes, counts = np.unique(dl, return_counts=True)
        pos = np.clip(np.searchsorted(classes, ql), 0, len(classes) - 1)
        return np.where(classes[pos] == ql, counts[pos], 0)
    out = np.empty(len(ql), dtype=np.int64)
    dl_t = dl.astype(np.float32).T
    step = _chunk_rows(len(dl), per_item_bytes=5)
    for s in range(0, len(ql), step):
        out[s : s + step] = ((ql[s : s + step].astype(np.float32) @ dl_t) > 0).sum(axis=1)
    return out


# --------------------------------------------------------------------------------------------------------------
# Average precision
# --------------------------------------------------------------------------------------------------------------


def _ap_index(dist: np.ndarray, rel: np.ndarray, k: int, bits: int, normalize: str) -> np.ndarray:
    """AP@k per query with ties broken by database index."""
    hits = np.take_along_axis(rel, _rank(dist, k, bits), axis=1)
    return _ap_from_hits(hits, k, rel.sum(axis=1), normalize)


def _ap_from_hits(hits: np.ndarray, k: int, total_rel: np.ndarray, normalize: str) -> np.ndarray:
    """AP@k per row from the relevance of the ranked top k (Nq, k) and each query's total relevant count."""
    rows, cols = np.nonzero(hits)  # row-major: each row's hits in rank order
    n_hits = np.bincount(rows, minlength=len(hits))
    starts = np.concatenate(([0], np.cumsum(n_hits)[:-1]))
    hit_rank = np.arange(len(rows)) - starts[rows] + 1  # 1, 2, ... within each row
    num = np.bincount(rows, weights=hit_rank / (cols + 1.0), minlength=len(hits)).astype(np.float64)
    if normalize == "retrieved":
        div = n_hits.astype(np.float64)
    else:
        div = np.minimum(k, total_rel).astype(np.float64)
    return np.divide(num, div, out=np.zeros(len(num)), where=div > 0)


def _harmonic(n: int) -> np.ndarray:
    h = np.zeros(n + 1, dtype=np.float64)
    h[1:] = np.cumsum(1.0 / np.arange(1, n + 1, dtype=np.float64))
    return h


def _group_sums(h: np.ndarray, before: np.ndarray, m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """S0 = sum_{p=1..m} 1/(before+p) and S1 = sum_{p=1..m} (p-1)/(before+p)."""
    s0 = h[before + m] - h[before]
    s1 = m - (before + 1) * s0
    return s0, s1


def _ap_average(dist: np.ndarray, rel: np.ndarray, k: int, bits: int, normalize: str) -> np.ndarray:
    """Tie-aware AP@k: the expected AP@k over uniformly random orderings inside each tie group.

    McSherry & Najork (ECIR 2008). For a group of n tied items, r of them relevant, preceded by N_b items of
    which R_b are relevant, position p (1..n) inside the group is relevant with probability r/n and then has
    R_b + 1 + (p-1)(r-1)/(n-1) hits up to it in expectation, so the group adds
    ``(r/n) * sum_p [R_b + 1 + (p-1)(r-1)/(n-1)] / (N_b + p)`` to the expected numerator.
    When the cut-off k falls inside a group (m of its n positions kept) and the divisor is the random number of
    relevant items retrieved, the expectation is taken exactly over X ~ Hypergeometric(n, r, m) relevant items
    among the kept positions: ``E[AP] = sum_x P(X=x) (A_before + B(x)) / (R_b + x)``.
    """
    from scipy.stats import hypergeom

    c, n_db = dist.shape
    g = bits + 1
    offs = (np.arange(c, dtype=np.int64) * g)[:, None]
    flat = (dist + offs).ravel()
    n = np.bincount(flat, minlength=c * g).reshape(c, g).astype(np.int64)
    r = np.bincount(flat, weights=rel.ravel().astype(np.float64), minlength=c * g).reshape(c, g)
    r = np.rint(r).astype(np.int64)
    nb = np.cumsum(n, axis=1) - n  # items before each group
    rb = np.cumsum(r, axis=1) - r  # relevant items before each group
    h = _harmonic(n_db)
    r_total = r.sum(axis=1)

    full = (nb + n <= k) & (r > 0)
    s0, s1 = _group_sums(h, nb, n)
    coef = np.where(n > 1, (r - 1) / np.maximum(n - 1, 1), 0.0)
    contrib = np.where(full, r / np.maximum(n, 1) * ((rb + 1) * s0 + coef * s1), 0.0)
    a_full = contrib.sum(axis=1)
    r_full = np.where(nb + n <= k, r, 0).sum(axis=1)

    partial = (nb < k) & (nb + n > k)  # at most one group per row
    ap = np.zeros(c, dtype=np.float64)
    if normalize == "min_k_relevant":
        m = np.where(partial, k - nb, 0)
        s0m, s1m = _group_sums(h, nb, m)
        part = np.where(partial & (r > 0), r / np.maximum(n, 1) * ((rb + 1) * s0m + coef * s1m), 0.0)
        div = np.minimum(k, r_total).astype(np.float64)
        num = a_full + part.sum(axis=1)
        return np.divide(num, div, out=ap, where=div > 0)

    rows_partial = np.zeros(c, dtype=bool)
    prow, pcol = np.nonzero(partial)
    rows_partial[prow] = True
    div = r_full.astype(np.float64)
    ok = ~rows_partial & (div > 0)
    ap[ok] = a_full[ok] / div[ok]
    for i, j in zip(prow, pcol, strict=True):
        n_g, r_g, nb_g, rb_g = int(n[i, j]), int(r[i, j]), int(nb[i, j]), int(rb[i, j])
        m = k - nb_g
        if r_g == 0:
            ap[i] = a_full[i] / rb_g if rb_g > 0 else 0.0
            continue
        x = np.arange(max(0, m - (n_g - r_g)), min(r_g, m) + 1)
        px = hypergeom.pmf(x, n_g, r_g, m)
        s0m = h[nb_g + m] - h[nb_g]
        s1m = m - (nb_g + 1) * s0m
        coef_x = (x - 1) / (m - 1) if m > 1 else np.zeros_like(x, dtype=np.float64)
        b = x / m * ((rb_g + 1) * s0m + coef_x * s1m)
        dx = rb_g + x
        vals = np.divide(a_full[i] + b, dx, out=np.zeros(len(x)), where=dx > 0)
        ap[i] = float((px * vals).sum())
    return ap


def _resolve_no_relevant(per_query: np.ndarray, has_rel: np.ndarray, no_relevant: str) -> MAPResult:
    n_no = int((~has_rel).sum())
    if no_relevant == "error" and n_no:
        raise ValueError(f"{n_no} quer(y/ies) have no relevant item in the database (no_relevant='error')")
    if no_relevant == "skip":
        per_query = np.where(has_rel, per_query, np.nan)
        n_eval = int(has_rel.sum())
        if n_eval == 0:
            raise ValueError(
                "no query has a relevant item in the database; nothing to average (no_relevant='skip')"
            )
        value = float(np.nanmean(per_query))
    else:
        per_query = np.where(has_rel, per_query, 0.0)
        n_eval = len(per_query)
        value = float(per_query.mean())
    return MAPResult(value, per_query, n_no, n_eval)


def _check_choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"{name} must be one of {choices}, got {value!r}")


def mean_average_precision(
    query_codes: Any,
    db_codes: Any,
    query_labels: Any,
    db_labels: Any,
    k: int | None = None,
    ties: Ties = "index",
    no_relevant: NoRelevant = "zero",
    return_per_query: bool = False,
    normalize: Normalize = "retrieved",
) -> float | MAPResult:
    """Mean average precision over queries of Hamming ranking of the database (mAP@k; ``k=None`` = mAP).

    ``AP@k = (1/D) * sum_{i<=k} P(i) * rel(i)`` with ``P(i)`` the precision of the top i.
    ``normalize="retrieved"`` (default, the hashing convention): ``D`` = relevant items in the top k (AP = 0 when
    there are none). ``normalize="min_k_relevant"``: ``D = min(k, total relevant)`` (the "true" AP@k; for
    ``k=None`` both agree). ``ties="index"``: stable ranking by (distance, database index); ``ties="average"``:
    expected AP over random orderings within tie groups (McSherry & Najork 2008). ``no_relevant``: queries with
    no relevant database item count 0 (``"zero"``), are left out (``"skip"``), or raise (``"error"``).
    Returns a float, or :class:`MAPResult` (map, per_query, n_no_relevant, n_evaluated) when ``return_per_query``.
    """
    _check_choice("ties", ties, ("index", "average"))
    _check_choice("no_relevant", no_relevant, ("zero", "skip", "error"))
    _check_choice("normalize", normalize, ("retrieved", "min_k_relevant"))
    q, db, ql, dl = _prepare(query_codes, db_codes, query_labels, db_labels)
    k_eff = _check_k(k, db.shape[0])
    if ties == "index" and k_eff <= _FAISS_MAX_K and k_eff < db.shape[0]:
        total = _total_relevant(ql, dl)
        hits = _relevant_at(ql, dl, _topk(q, db, k_eff)[1])
        per_query, has_rel = _ap_from_hits(hits, k_eff, total, normalize), total > 0
    else:
        per_query = np.empty(q.shape[0], dtype=np.float64)
        has_rel = np.empty(q.shape[0], dtype=bool)
        fn = _ap_index if ties == "index" else _ap_average
        for sl, dist, rel in _iter_chunks(q, db, ql, dl):
            per_query[sl] = fn(dist, rel, k_eff, q.shape[1], normalize)
            has_rel[sl] = rel.any(axis=1)
    result = _resolve_no_relevant(per_query, has_rel, no_relevant)
    return result if return_per_query else result.map


# --------------------------------------------------------------------------------------------------------------
# Precision
# --------------------------------------------------------------------------------------------------------------


def _p_at_k(dist: np.ndarray, rel: np.ndarray, k: int, bits: int, ties: str) -> np.ndarray:
    if ties == "index":
        order = _rank(dist, k, bits)
        return np.take_along_axis(rel, order, axis=1).sum(axis=1) / k
    # expected precision: full groups count fully, the cut group contributes r * m / n
    kth = np.partition(dist, k - 1, axis=1)[:, k - 1 : k]
    before = dist < kth
    at = dist == kth
    m = k - before.sum(axis=1)
    r_at = (rel & at).sum(axis=1)
    return ((rel & before).sum(axis=1) + r_at * m / at.sum(axis=1)) / k


def precision_at_k(
    query_codes: Any, db_codes: Any, query_labels: Any, db_labels: Any, k: int = 100, ties: Ties = "index"
) -> float:
    """Mean over queries of the fraction of relevant items among the k nearest (ties by index or averaged)."""
    _check_choice("ties", ties, ("index", "average"))
    q, db, ql, dl = _prepare(query_codes, db_codes, query_labels, db_labels)
    k = _check_k(k, db.shape[0])
    if ties == "index" and k <= _FAISS_MAX_K and k < db.shape[0]:
        return float(_relevant_at(ql, dl, _topk(q, db, k)[1]).mean())
    out = np.empty(q.shape[0])
    for sl, dist, rel in _iter_chunks(q, db, ql, dl):
        out[sl] = _p_at_k(dist, rel, k, q.shape[1], ties)
    return float(out.mean())


def _p_radius(dist: np.ndarray, rel: np.ndarray, radius: int) -> np.ndarray:
    inside = dist <= radius
    n_in = inside.sum(axis=1)
    n_rel = (inside & rel).sum(axis=1)
    return np.divide(n_rel, n_in, out=np.zeros(len(n_in)), where=n_in > 0)


def precision_within_radius(
    query_codes: Any, db_codes: Any, query_labels: Any, db_labels: Any, radius: int = 2
) -> float:
    """Mean precision of the Hamming ball ``d <= radius`` (P@H<=2 by default).

    A query whose ball holds no database item scores 0 (the usual convention of the hashing literature: an empty
    lookup is a failed lookup); ties do not matter here.
    """
    if radius < 0:
        raise ValueError(f"radius must be >= 0, got {radius}")
    q, db, ql, dl = _prepare(query_codes, db_codes, query_labels, db_labels)
    out = np.empty(q.shape[0])
    for sl, dist, rel in _iter_chunks(q, db, ql, dl):
        out[sl] = _p_radius(dist, rel, radius)
    return float(out.mean())


def precision_recall_curve(
    query_codes: Any,
    db_codes: Any,
    query_labels: Any,
    db_labels: Any,
    by: Literal["radius", "rank"] = "radius",
    ranks: Any = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Precision and recall averaged over queries, by Hamming radius or by rank.

    ``by="radius"``: one point per radius 0..L (items with ``d <= r`` retrieved); a query retrieving nothing has
    precision 0. ``by="rank"``: one point per cut-off in ``ranks`` (default: 100 ranks spread over 1..N, ties by
    database index). Recall divides by the query's total relevant count; queries with none have recall 0.
    Returns ``(precision, recall)`` float arrays (for ``by="rank"`` the ranks used are ``ranks`` or
    ``np.unique(np.linspace(1, N, 100).astype(int))``).
    """
    _check_choice("by", by, ("radius", "rank"))
    q, db, ql, dl = _prepare(query_codes, db_codes, query_labels, db_labels)
    bits, n_db = q.shape[1], db.shape[0]
    if by == "radius":
        cuts = np.arange(bits + 1)
    else:
        cuts = np.unique(np.linspace(1, n_db, 100).astype(np.int64)) if ranks is None else np.asarray(ranks)
        if cuts.ndim != 1 or len(cuts) == 0 or not np.issubdtype(cuts.dtype, np.integer):
            raise ValueError(f"ranks must be a non-empty 1-D array of integer cut-offs, got {ranks!r}")
        if cuts.min() < 1 or cuts.max() > n_db:
            raise ValueError(
                f"ranks must lie in 1..{n_db} (the database size), got {cuts.min()}..{cuts.max()}"
            )
        cuts = cuts.astype(np.int64)
    prec = np.zeros(len(cuts))
    rec = np.zeros(len(cuts))
    for _sl, dist, rel in _iter_chunks(q, db, ql, dl):
        total = rel.sum(axis=1).astype(np.float64)
        if by == "radius":
            g = bits + 1
            offs = (np.arange(dist.shape[0]) * g)[:, None]
            flat = (dist + offs).ravel()
            n_cum = np.cumsum(np.bincount(flat, minlength=dist.shape[0] * g).reshape(-1, g), axis=1)
            r_cum = np.cumsum(
                np.bincount(
                    flat, weights=rel.ravel().astype(np.float64), minlength=dist.shape[0] * g
                ).reshape(-1, g),
                axis=1,
            )
            p = np.divide(r_cum, n_cum, out=np.zeros_like(r_cum), where=n_cum > 0)
        else:
            order = _rank(dist, int(cuts.max()), bits)
            r_cum = np.cumsum(np.take_along_axis(rel, order, axis=1), axis=1)[:, cuts - 1].astype(np.float64)
            p = r_cum / cuts[None, :]
        prec += p.sum(axis=0)
        rec += np.divide(r_cum, total[:, None], out=np.zeros_like(r_cum), where=total[:, None] > 0).sum(
            axis=0
        )
    return prec / q.shape[0], rec / q.shape[0]


# --------------------------------------------------------------------------------------------------------------
# Euclidean ranking of float features (the exact float-KNN ceiling the codes are compared to)
# --------------------------------------------------------------------------------------------------------------


def _prepare_float(
    query: Any, db: Any, query_labels: Any, db_labels: Any
) -> tuple[torch.Tensor, torch.Tensor, np.ndarray, np.ndarray]:
    qa, da = _check_features(query, "query"), _check_features(db, "db")
    if qa.shape[1] != da.shape[1]:
        raise ValueError(f"query has {qa.shape[1]} dimensions but the database has {da.shape[1]}")
    ql = check_labels(query_labels, qa.shape[0], "query_labels")
    dl = check_labels(db_labels, da.shape[0], "db_labels")
    _check_label_pair(ql, dl)
    qt = torch.from_numpy(np.ascontiguousarray(qa, dtype=np.float64))
    dbt = torch.from_numpy(np.ascontiguousarray(da, dtype=np.float64))
    return qt, dbt, ql, dl


def _euclidean_hits(
    qt: torch.Tensor, dbt: torch.Tensor, ql: np.ndarray, dl: np.ndarray, k: int
) -> Iterator[tuple[slice, np.ndarray, np.ndarray]]:
    """Yield (query slice, relevance of the top k (c, k) in rank order, relevance (c, N)) over query chunks.

    Distances are computed pair by pair in float64 (``torch.cdist`` without the matrix-product shortcut), so
    duplicate database items get bit-identical distances; the ranking is a stable sort: ties by database index.
    """
    step = _chunk_rows(dbt.shape[0])
    with torch.no_grad():
        for start in range(0, qt.shape[0], step):
            sl = slice(start, min(start + step, qt.shape[0]))
            dist = torch.cdist(qt[sl], dbt, compute_mode="donot_use_mm_for_euclid_dist").numpy()
            order = np.argsort(dist, axis=1, kind="stable")[:, :k]
            rel = relevance(ql[sl], dl)
            yield sl, np.take_along_axis(rel, order, axis=1), rel


def mean_average_precision_float(
    query: Any,
    db: Any,
    query_labels: Any,
    db_labels: Any,
    k: int | None = None,
    no_relevant: NoRelevant = "zero",
    return_per_query: bool = False,
    normalize: Normalize = "retrieved",
) -> float | MAPResult:
    """mAP (mAP@k) of the exact Euclidean ranking of float features (N, D): the float-KNN ceiling for codes.

    Same conventions as :func:`mean_average_precision`: ``AP@k = (1/D) * sum_{i<=k} P(i) * rel(i)``, ties broken
    by database index (stable sort on the distance ``||q - x||_2``, computed in float64), ``D`` = relevant items in
    the top k (``normalize="retrieved"``) or ``min(k, total relevant)``; ``no_relevant`` and
    ``return_per_query`` as there. Raises ``ValueError`` for NaN/inf, empty or mismatched inputs.
    """
    _check_choice("no_relevant", no_relevant, ("zero", "skip", "error"))
    _check_choice("normalize", normalize, ("retrieved", "min_k_relevant"))
    qt, dbt, ql, dl = _prepare_float(query, db, query_labels, db_labels)
    k_eff = _check_k(k, dbt.shape[0])
    per_query = np.empty(qt.shape[0], dtype=np.float64)
    has_rel = np.empty(qt.shape[0], dtype=bool)
    for sl, hits, rel in _euclidean_hits(qt, dbt, ql, dl, k_eff):
        total = rel.sum(axis=1)
        per_query[sl] = _ap_from_hits(hits, k_eff, total, normalize)
        has_rel[sl] = total > 0
    result = _resolve_no_relevant(per_query, has_rel, no_relevant)
    return result if return_per_query else result.map


def precision_at_k_float(query: Any, db: Any, query_labels: Any, db_labels: Any, k: int = 100) -> float:
    """Mean over queries of the fraction of relevant items among the k Euclidean-nearest (ties by index)."""
    qt, dbt, ql, dl = _prepare_float(query, db, query_labels, db_labels)
    k = _check_k(k, dbt.shape[0])
    out = np.empty(qt.shape[0])
    for sl, hits, _ in _euclidean_hits(qt, dbt, ql, dl, k):
        out[sl] = hits.sum(axis=1) / k
    return float(out.mean())


# --------------------------------------------------------------------------------------------------------------
# kNN classification
# --------------------------------------------------------------------------------------------------------------


def _looks_like_codes(arr: np.ndarray) -> bool:
    if arr.ndim != 2 or arr.size == 0 or arr.dtype == np.bool_ or not np.issubdtype(arr.dtype, np.number):
        return False
    if np.issubdtype(arr.dtype, np.floating) and not np.isfinite(arr).all():
        return False
    return bool(((arr == 1) | (arr == -1)).all())


def _check_features(x: Any, name: str) -> np.ndarray:
    arr = as_numpy(x)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be 2-D (N, D), got shape {arr.shape}")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"{name} is empty (shape {arr.shape})")
    if arr.dtype == np.bool_ or not np.issubdtype(arr.dtype, np.number):
        raise ValueError(f"{name} must be numeric, got dtype {arr.dtype}")
    if np.issubdtype(arr.dtype, np.floating) and not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or inf")
    return arr


def _knn_euclidean(q: np.ndarray, db: np.ndarray, k: int) -> np.ndarray:
    """k nearest by Euclidean distance, ordered by (distance, database index); torch cdist, query chunks."""
    qt = torch.from_numpy(np.ascontiguousarray(q, dtype=np.float32))
    dbt = torch.from_numpy(np.ascontiguousarray(db, dtype=np.float32))
    n_db = dbt.shape[0]
    out = np.empty((qt.shape[0], k), dtype=np.int64)
    step = _chunk_rows(n_db, per_item_bytes=8)
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
    _check_choice("metric", metric, ("auto", "hamming", "euclidean"))
    qa, da = _check_features(query, "query"), _check_features(db, "db")
    if qa.shape[1] != da.shape[1]:
        raise ValueError(f"query has {qa.shape[1]} dimensions but the database has {da.shape[1]}")
    k = _check_k(k, da.shape[0])
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


def knn_predict(query: Any, db: Any, db_labels: Any, k: int = 7, metric: str = "auto") -> np.ndarray:
    """Predict labels by majority vote over the k nearest database items.

    ``metric="auto"``: Hamming for ±1 codes, Euclidean for float features (torch ``cdist`` in query chunks).
    Neighbours are ordered by (distance, database index); a vote tie goes to the tied class whose member
    appears first in that order. Multi-hot labels (N, C): each label is predicted when a strict majority
    (> k/2) of the neighbours carry it. Returns (Nq,) int64 or (Nq, C) int64.
    """
    da = as_numpy(db)
    dl = check_labels(db_labels, da.shape[0] if da.ndim >= 1 else 0, "db_labels")
    idx = _neighbours(query, db, k, metric)
    neigh = dl[idx]
    if dl.ndim == 2:
        return (neigh.sum(axis=1) * 2 > k).astype(np.int64)
    return majority_vote(neigh).astype(np.int64)


def knn_accuracy(
    query: Any, db: Any, query_labels: Any, db_labels: Any, k: int = 7, metric: str = "auto"
) -> float:
    """Accuracy of :func:`knn_predict` (for multi-hot labels: the mean per-label accuracy)."""
    qa = as_numpy(query)
    ql = check_labels(query_labels, qa.shape[0] if qa.ndim >= 1 else 0, "query_labels")
    dl = check_labels(db_labels, as_numpy(db).shape[0], "db_labels")
    _check_label_pair(ql, dl)
    pred = knn_predict(query, db, dl, k=k, metric=metric)
    return float((pred == ql).mean())


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


# --------------------------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------------------------


def retrieval_report(
    query_codes: Any,
    db_codes: Any,
    query_labels: Any,
    db_labels: Any,
    k_map: int | None = None,
    knn_k: int = 7,
    p_k: int | None = None,
) -> dict[str, float]:
    """All headline metrics in one pass over query chunks.

    Keys: ``map`` (whole database), ``map@k`` (when ``k_map`` is given), ``p@k`` (precision at ``p_k``, default
    ``k_map`` or 100, capped at the database size), ``p@r2`` (precision within Hamming radius 2) and ``knn_acc``
    (k = ``knn_k``, Hamming). Defaults: ties by index, AP divided by relevant retrieved, no-relevant queries 0.
    """
    q, db, ql, dl = _prepare(query_codes, db_codes, query_labels, db_labels)
    n_db, bits = db.shape[0], q.shape[1]
    k_map_eff = _check_k(k_map, n_db, "k_map") if k_map is not None else None
    p_k_eff = _check_k(p_k if p_k is not None else (k_map or min(100, n_db)), n_db, "p_k")
    knn_k = _check_k(knn_k, n_db, "knn_k")
    nq = q.shape[0]
    ap, pr2 = np.empty(nq), np.empty(nq)
    has_rel = np.empty(nq, dtype=bool)
    for sl, dist, rel in _iter_chunks(q, db, ql, dl):
        ap[sl] = _ap_index(dist, rel, n_db, bits, "retrieved")
        has_rel[sl] = rel.any(axis=1)
        pr2[sl] = _p_radius(dist, rel, 2)
    # one top-K ranking serves map@k, p@k and kNN (a prefix of the (distance, index) order is the top k)
    top = max(k_map_eff or 0, p_k_eff, knn_k)
    ids = _topk(q, db, top)[1]
    hits = _relevant_at(ql, dl, ids)
    out = {"map": _resolve_no_relevant(ap, has_rel, "zero").map}
    if k_map_eff is not None:
        ap_k = _ap_from_hits(hits[:, :k_map_eff], k_map_eff, _total_relevant(ql, dl), "retrieved")
        out["map@k"] = _resolve_no_relevant(ap_k, has_rel, "zero").map
    out["p@k"] = float(hits[:, :p_k_eff].mean())
    out["p@r2"] = float(pr2.mean())
    neigh = dl[ids[:, :knn_k]]
    pred = (neigh.sum(axis=1) * 2 > knn_k).astype(np.int64) if dl.ndim == 2 else majority_vote(neigh)
    out["knn_acc"] = float((pred == ql).mean())
    return out


# --------------------------------------------------------------------------------------------------------------
# torchmetrics wrappers
# --------------------------------------------------------------------------------------------------------------


class _CodeLabelMetric(Metric):
    """Accumulates query and database (codes, labels); subclasses compute on the concatenated states."""

    full_state_update = False
    is_differentiable = False

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        for state in ("query_codes", "query_labels", "db_codes", "db_labels"):
            self.add_state(state, default=[], dist_reduce_fx="cat")

    def update(self, codes: torch.Tensor, labels: torch.Tensor, role: str = "query") -> None:  # type: ignore[override]
        _check_choice("role", role, ("query", "database"))
        codes_t = torch.as_tensor(codes)
        labels_t = torch.as_tensor(labels)
        if codes_t.ndim != 2 or labels_t.shape[0] != codes_t.shape[0]:
            raise ValueError(
                f"update needs codes (N, L) and labels with N rows, got {tuple(codes_t.shape)} "
                f"and {tuple(labels_t.shape)}"
            )
        prefix = "query" if role == "query" else "db"
        getattr(self, f"{prefix}_codes").append(codes_t.detach().to(torch.int8))
        getattr(self, f"{prefix}_labels").append(labels_t.detach().to(torch.int64))

    def _gathered(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        for state in ("query_codes", "db_codes"):
            if isinstance(getattr(self, state), list) and not getattr(self, state):
                raise ValueError(
                    f"{type(self).__name__}.compute(): no {state.split('_')[0]} codes were added"
                )
        return tuple(  # type: ignore[return-value]
            dim_zero_cat(getattr(self, s)).cpu().numpy()
            for s in ("query_codes", "db_codes", "query_labels", "db_labels")
        )


class HammingMAP(_CodeLabelMetric):
    """torchmetrics mAP@k of query codes against database codes (``update(codes, labels, role=...)``)."""

    higher_is_better = True

    def __init__(
        self, k: int | None = None, ties: Ties = "index", no_relevant: NoRelevant = "zero", **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.k, self.ties, self.no_relevant = k, ties, no_relevant

    def compute(self) -> torch.Tensor:
        q, db, ql, dl = self._gathered()
        value = mean_average_precision(q, db, ql, dl, k=self.k, ties=self.ties, no_relevant=self.no_relevant)
        return torch.tensor(value, dtype=torch.float64)


class HammingKNNAccuracy(_CodeLabelMetric):
    """torchmetrics kNN accuracy (Hamming, majority of k) of query codes against database codes."""

    higher_is_better = True

    def __init__(self, k: int = 7, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.k = k

    def compute(self) -> torch.Tensor:
        q, db, ql, dl = self._gathered()
        return torch.tensor(knn_accuracy(q, db, ql, dl, k=self.k, metric="hamming"), dtype=torch.float64)
