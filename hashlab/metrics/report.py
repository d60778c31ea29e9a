"""All headline retrieval metrics of hash codes in one pass over query chunks."""

from __future__ import annotations

from typing import Any

import numpy as np

from hashlab.checks import check_k
from hashlab.metrics.average_precision import ap_from_hits, ap_index, resolve_no_relevant
from hashlab.metrics.checks import prepare
from hashlab.metrics.knn import vote
from hashlab.metrics.precision import p_radius
from hashlab.metrics.ranking import iter_chunks, topk

__all__ = ["retrieval_report"]


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
    q, db, ql, dl = prepare(query_codes, db_codes, query_labels, db_labels)
    n_db, bits = db.shape[0], q.shape[1]
    k_map_eff = check_k(k_map, n_db, "k_map") if k_map is not None else None
    p_k_eff = check_k(p_k if p_k is not None else (k_map or min(100, n_db)), n_db, "p_k")
    knn_k = check_k(knn_k, n_db, "knn_k")
    # one top-K ranking serves map@k, p@k and kNN (a prefix of the (distance, index) order is the top k)
    top = max(k_map_eff or 0, p_k_eff, knn_k)
    ids = topk(q, db, top)[1]
    nq = q.shape[0]
    ap, pr2 = np.empty(nq), np.empty(nq)
    total = np.empty(nq, dtype=np.int64)
    hits = np.empty(ids.shape, dtype=bool)
    for sl, dist, rel in iter_chunks(q, db, ql, dl):
        ap[sl] = ap_index(dist, rel, n_db, bits, "retrieved")
        total[sl] = rel.sum(axis=1)
        hits[sl] = np.take_along_axis(rel, ids[sl], axis=1)
        pr2[sl] = p_radius(dist, rel, 2)
    has_rel = total > 0
    out = {"map": resolve_no_relevant(ap, has_rel, "zero").map}
    if k_map_eff is not None:
        ap_k = ap_from_hits(hits[:, :k_map_eff], k_map_eff, total, "retrieved")
        out["map@k"] = resolve_no_relevant(ap_k, has_rel, "zero").map
    out["p@k"] = float(hits[:, :p_k_eff].mean())
    out["p@r2"] = float(pr2.mean())
    out["knn_acc"] = float((vote(dl[ids[:, :knn_k]]) == ql).mean())
    return out
