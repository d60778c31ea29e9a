"""The exact Euclidean ranking of float features: the float-KNN ceiling that hash codes are compared to.

Same conventions as the Hamming metrics (:func:`hashlab.metrics.mean_average_precision`): ties by database index
(a stable sort of float64 distances), the same AP normalisations and no-relevant policies.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import torch

from hashlab.checks import check_choice, check_k
from hashlab.codes import label_similarity
from hashlab.metrics.average_precision import MAPResult, ap_from_hits, resolve_no_relevant
from hashlab.metrics.checks import NoRelevant, Normalize, check_feature_pair, check_query_db_labels
from hashlab.metrics.ranking import chunk_rows

__all__ = ["mean_average_precision_float", "precision_at_k_float"]


def prepare_float(
    query: Any, db: Any, query_labels: Any, db_labels: Any
) -> tuple[torch.Tensor, torch.Tensor, np.ndarray, np.ndarray]:
    """Validate float features and labels; features as float64 tensors (exact distances), labels as numpy."""
    qa, da = check_feature_pair(query, db)
    ql, dl = check_query_db_labels(query_labels, db_labels, len(qa), len(da))
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
    step = chunk_rows(dbt.shape[0])
    with torch.no_grad():
        for start in range(0, qt.shape[0], step):
            sl = slice(start, min(start + step, qt.shape[0]))
            dist = torch.cdist(qt[sl], dbt, compute_mode="donot_use_mm_for_euclid_dist").numpy()
            order = np.argsort(dist, axis=1, kind="stable")[:, :k]
            rel = label_similarity(ql[sl], dl)
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
    check_choice("no_relevant", no_relevant, ("zero", "skip", "error"))
    check_choice("normalize", normalize, ("retrieved", "min_k_relevant"))
    qt, dbt, ql, dl = prepare_float(query, db, query_labels, db_labels)
    k_eff = check_k(k, dbt.shape[0])
    per_query = np.empty(qt.shape[0], dtype=np.float64)
    has_rel = np.empty(qt.shape[0], dtype=bool)
    for sl, hits, rel in _euclidean_hits(qt, dbt, ql, dl, k_eff):
        total = rel.sum(axis=1)
        per_query[sl] = ap_from_hits(hits, k_eff, total, normalize)
        has_rel[sl] = total > 0
    result = resolve_no_relevant(per_query, has_rel, no_relevant)
    return result if return_per_query else result.map


def precision_at_k_float(query: Any, db: Any, query_labels: Any, db_labels: Any, k: int = 100) -> float:
    """Mean over queries of the fraction of relevant items among the k Euclidean-nearest (ties by index)."""
    qt, dbt, ql, dl = prepare_float(query, db, query_labels, db_labels)
    k = check_k(k, dbt.shape[0])
    out = np.empty(qt.shape[0])
    for sl, hits, _ in _euclidean_hits(qt, dbt, ql, dl, k):
        out[sl] = hits.sum(axis=1) / k
    return float(out.mean())
