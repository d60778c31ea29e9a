"""Hamming distances and rankings of the database for each query (ties by database index), chunked over queries.

Distances are popcounts of XORed packed words (``d = (L - a·b) / 2`` for ±1 codes); top-k rankings with small k
go through faiss (:class:`hashlab.index.HammingIndex`, the same (distance, index) order), larger ones through a
stable numpy sort. Relevance is :func:`hashlab.codes.label_similarity`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from hashlab.checks import as_numpy, check_k
from hashlab.codes import label_similarity
from hashlab.index import HammingIndex
from hashlab.metrics.checks import check_code_pair

__all__ = ["hamming_distance", "hamming_distance_packed", "hamming_ranking"]

# Bytes of scratch memory one chunk of queries may use (distances, orders, relevance).
CHUNK_BYTES = 256 * 2**20
# Top-k rankings with k up to this use faiss (HammingIndex, exact (distance, id) order); larger k sort in numpy.
FAISS_MAX_K = 2048


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
    qa, qb = check_code_pair(a, b)
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


def use_faiss(k: int, n_db: int) -> bool:
    """Whether a top-k ranking goes through faiss (small k, not the whole database) rather than a numpy sort."""
    return k <= FAISS_MAX_K and k < n_db


def chunk_rows(n_db: int, per_item_bytes: int = 24) -> int:
    """Queries per chunk so that ``per_item_bytes`` of scratch per (query, database item) fit in CHUNK_BYTES."""
    return max(1, CHUNK_BYTES // max(1, n_db * per_item_bytes))


def iter_chunks(
    q: np.ndarray, db: np.ndarray, ql: np.ndarray | None = None, dl: np.ndarray | None = None
) -> Iterator[tuple[slice, np.ndarray, np.ndarray | None]]:
    """Yield (query slice, distances (c, N) uint8/uint16, relevance (c, N) bool or None) over query chunks."""
    qw, dbw = _words(q), _words(db)
    step = chunk_rows(db.shape[0])
    for start in range(0, q.shape[0], step):
        sl = slice(start, min(start + step, q.shape[0]))
        dist = _hamming_words(qw[sl], dbw, q.shape[1])
        rel = label_similarity(ql[sl], dl) if ql is not None and dl is not None else None
        yield sl, dist, rel


def rank(dist: np.ndarray, k: int, bits: int) -> np.ndarray:
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


def topk(q: np.ndarray, db: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(dist int32, ids int64) of the k nearest by (distance, index): faiss for small k, numpy sort otherwise."""
    if use_faiss(k, db.shape[0]):
        index = HammingIndex(q.shape[1])
        index.add(db)
        return index.search(q, k)
    dists = np.empty((q.shape[0], k), dtype=np.int32)
    idx = np.empty((q.shape[0], k), dtype=np.int64)
    for sl, dist, _ in iter_chunks(q, db):
        order = rank(dist, k, q.shape[1])
        idx[sl] = order
        dists[sl] = np.take_along_axis(dist, order, axis=1).astype(np.int32)
    return dists, idx


def hamming_ranking(query_codes: Any, db_codes: Any, k: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Rank the database for each query by Hamming distance, ties by database index (stable).

    Returns ``(dist int32 (Nq, k), idx int64 (Nq, k))``; ``k=None`` ranks the whole database.
    """
    q, db = check_code_pair(query_codes, db_codes)
    return topk(q, db, check_k(k, db.shape[0]))


def topk_relevance(ql: np.ndarray, dl: np.ndarray, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Relevance (Nq, k) of the ranked database items ``ids`` (Nq, k) and each query's total relevant count (Nq,).

    Relevance is :func:`hashlab.codes.label_similarity`. Single-label data needs only the k ranked pairs (paired
    comparison) and class counts for the totals; multi-hot data needs the full (chunk, N) similarity for the totals.
    """
    if ql.ndim == 1:
        k = ids.shape[1]
        hits = np.empty(ids.shape, dtype=bool)
        step = chunk_rows(k)  # the repeated query labels and gathered database labels of a chunk
        for s in range(0, len(ql), step):
            sl = slice(s, s + step)
            hits[sl] = label_similarity(np.repeat(ql[sl], k), dl[ids[sl].ravel()], paired=True).reshape(-1, k)
        classes, counts = np.unique(dl, return_counts=True)
        pos = np.clip(np.searchsorted(classes, ql), 0, len(classes) - 1)
        return hits, np.where(classes[pos] == ql, counts[pos], 0)
    hits = np.empty(ids.shape, dtype=bool)
    total = np.empty(len(ql), dtype=np.int64)
    step = chunk_rows(len(dl), per_item_bytes=5)
    for s in range(0, len(ql), step):
        rel = label_similarity(ql[s : s + step], dl)
        hits[s : s + step] = np.take_along_axis(rel, ids[s : s + step], axis=1)
        total[s : s + step] = rel.sum(axis=1)
    return hits, total
