"""Precision of Hamming rankings: P@k, precision within a Hamming radius, and precision-recall curves."""

from __future__ import annotations

from typing import Any, Literal

import numpy as np

from hashlab.checks import check_choice, check_k
from hashlab.metrics.checks import Ties, prepare
from hashlab.metrics.ranking import iter_chunks, rank, topk, topk_relevance, use_faiss

__all__ = ["precision_at_k", "precision_recall_curve", "precision_within_radius"]


def _p_at_k(dist: np.ndarray, rel: np.ndarray, k: int, bits: int, ties: str) -> np.ndarray:
    if ties == "index":
        order = rank(dist, k, bits)
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
    check_choice("ties", ties, ("index", "average"))
    q, db, ql, dl = prepare(query_codes, db_codes, query_labels, db_labels)
    k = check_k(k, db.shape[0])
    if ties == "index" and use_faiss(k, db.shape[0]):
        return float(topk_relevance(ql, dl, topk(q, db, k)[1])[0].mean())
    out = np.empty(q.shape[0])
    for sl, dist, rel in iter_chunks(q, db, ql, dl):
        out[sl] = _p_at_k(dist, rel, k, q.shape[1], ties)
    return float(out.mean())


def p_radius(dist: np.ndarray, rel: np.ndarray, radius: int) -> np.ndarray:
    """Precision per query of the Hamming ball ``d <= radius`` (0 when the ball is empty)."""
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
    q, db, ql, dl = prepare(query_codes, db_codes, query_labels, db_labels)
    out = np.empty(q.shape[0])
    for sl, dist, rel in iter_chunks(q, db, ql, dl):
        out[sl] = p_radius(dist, rel, radius)
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
    check_choice("by", by, ("radius", "rank"))
    q, db, ql, dl = prepare(query_codes, db_codes, query_labels, db_labels)
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
    for _sl, dist, rel in iter_chunks(q, db, ql, dl):
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
            order = rank(dist, int(cuts.max()), bits)
            r_cum = np.cumsum(np.take_along_axis(rel, order, axis=1), axis=1)[:, cuts - 1].astype(np.float64)
            p = r_cum / cuts[None, :]
        prec += p.sum(axis=0)
        rec += np.divide(r_cum, total[:, None], out=np.zeros_like(r_cum), where=total[:, None] > 0).sum(
            axis=0
        )
    return prec / q.shape[0], rec / q.shape[0]
