"""Average precision of Hamming rankings: ties by database index, or tie-aware (McSherry & Najork, ECIR 2008).

``AP@k = (1/D) * sum_{i<=k} P(i) * rel(i)``; ``D`` is the number of relevant items retrieved in the top k (the
hashing convention of DeepHash, HashNet, FIRe and torchmetrics) or ``min(k, total relevant)``.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from hashlab.checks import check_choice, check_k
from hashlab.metrics.checks import NoRelevant, Normalize, Ties, prepare
from hashlab.metrics.ranking import iter_chunks, rank, topk, topk_relevance, use_faiss

__all__ = ["MAPResult", "mean_average_precision"]


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


def ap_index(dist: np.ndarray, rel: np.ndarray, k: int, bits: int, normalize: str) -> np.ndarray:
    """AP@k per query with ties broken by database index."""
    hits = np.take_along_axis(rel, rank(dist, k, bits), axis=1)
    return ap_from_hits(hits, k, rel.sum(axis=1), normalize)


def ap_from_hits(hits: np.ndarray, k: int, total_rel: np.ndarray, normalize: str) -> np.ndarray:
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


def resolve_no_relevant(per_query: np.ndarray, has_rel: np.ndarray, no_relevant: str) -> MAPResult:
    """Apply the ``no_relevant`` policy (zero / skip / error) to per-query scores and average them."""
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
    check_choice("ties", ties, ("index", "average"))
    check_choice("no_relevant", no_relevant, ("zero", "skip", "error"))
    check_choice("normalize", normalize, ("retrieved", "min_k_relevant"))
    q, db, ql, dl = prepare(query_codes, db_codes, query_labels, db_labels)
    k_eff = check_k(k, db.shape[0])
    if ties == "index" and use_faiss(k_eff, db.shape[0]):
        hits, total = topk_relevance(ql, dl, topk(q, db, k_eff)[1])
        per_query, has_rel = ap_from_hits(hits, k_eff, total, normalize), total > 0
    else:
        per_query = np.empty(q.shape[0], dtype=np.float64)
        has_rel = np.empty(q.shape[0], dtype=bool)
        fn = ap_index if ties == "index" else _ap_average
        for sl, dist, rel in iter_chunks(q, db, ql, dl):
            per_query[sl] = fn(dist, rel, k_eff, q.shape[1], normalize)
            has_rel[sl] = rel.any(axis=1)
    result = resolve_no_relevant(per_query, has_rel, no_relevant)
    return result if return_per_query else result.map
