"""Retrieval and classification metrics for hash codes, with every convention named and documented.

Conventions (see ``docs/evaluation.md``):

- Codes are ±1 (N, L); Hamming distance ``d(a, b) = (L - a·b) / 2`` as ``np.int32``.
- Relevance: :func:`hashlab.codes.label_similarity`, equal label (single-label, (N,) ints) or sharing at least
  one label (multi-hot (N, C) {0, 1}).
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

Modules: :mod:`~hashlab.metrics.checks` (input pairs), :mod:`~hashlab.metrics.ranking` (distances, rankings),
:mod:`~hashlab.metrics.average_precision`, :mod:`~hashlab.metrics.precision` (P@k, radius, PR curves),
:mod:`~hashlab.metrics.float_ranking` (Euclidean ceiling), :mod:`~hashlab.metrics.knn`,
:mod:`~hashlab.metrics.report` (all headline metrics at once), :mod:`~hashlab.metrics.torch_metrics` (Lightning).
"""

from hashlab.checks import check_labels
from hashlab.codes import label_similarity
from hashlab.metrics.average_precision import MAPResult, mean_average_precision
from hashlab.metrics.checks import NoRelevant, Normalize, Ties
from hashlab.metrics.float_ranking import mean_average_precision_float, precision_at_k_float
from hashlab.metrics.knn import confusion_matrix, knn_accuracy, knn_accuracy_sweep, knn_predict, majority_vote
from hashlab.metrics.precision import precision_at_k, precision_recall_curve, precision_within_radius
from hashlab.metrics.ranking import hamming_distance, hamming_distance_packed, hamming_ranking
from hashlab.metrics.report import retrieval_report
from hashlab.metrics.torch_metrics import HammingKNNAccuracy, HammingMAP

__all__ = [
    "HammingKNNAccuracy",
    "HammingMAP",
    "MAPResult",
    "NoRelevant",
    "Normalize",
    "Ties",
    "check_labels",
    "confusion_matrix",
    "hamming_distance",
    "hamming_distance_packed",
    "hamming_ranking",
    "knn_accuracy",
    "knn_accuracy_sweep",
    "knn_predict",
    "label_similarity",
    "majority_vote",
    "mean_average_precision",
    "mean_average_precision_float",
    "precision_at_k",
    "precision_at_k_float",
    "precision_recall_curve",
    "precision_within_radius",
    "retrieval_report",
]
