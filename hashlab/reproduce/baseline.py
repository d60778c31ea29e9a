"""Reference numbers that need no trained hash head: raw-embedding Euclidean KNN (Tables 3-4, Figs. 18/19) and its
confusion matrix, random ±1 codes (the floor every method must beat), and the per-batch distance counts behind the
thesis's argument for TCL's efficiency (§4.3.4)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from hashlab.reproduce.presets import SWEEP_KS, THESIS_KNN_K


def raw_knn_baseline(
    embeddings: Any, ks: Iterable[int] = SWEEP_KS, splits: Sequence[str] = ("val", "test")
) -> pd.DataFrame:
    """Euclidean KNN accuracy of raw embeddings (queries = ``split``, database = train) for every k (Tables 3-4).

    Returns a long frame with columns ``split``, ``k``, ``knn_acc`` (a fraction).
    """
    from hashlab.metrics import knn_accuracy_sweep

    db = embeddings.train
    rows = []
    for split in splits:
        q = getattr(embeddings, split)
        accs = knn_accuracy_sweep(
            q.features, db.features, q.labels, db.labels, [int(k) for k in ks], "euclidean"
        )
        rows.extend({"split": split, "k": k, "knn_acc": acc} for k, acc in accs.items())
    return pd.DataFrame(rows)


def knn_confusion(
    query: np.ndarray, db: np.ndarray, query_labels: np.ndarray, db_labels: np.ndarray, k: int, n_classes: int
) -> np.ndarray:
    """Confusion matrix (rows true, columns predicted) of majority-vote KNN (Hamming for ±1 codes, else Euclidean)."""
    from hashlab.metrics import confusion_matrix, knn_predict

    pred = knn_predict(query, db, db_labels, k=k, metric="auto")
    return np.asarray(confusion_matrix(query_labels, pred, n_classes), dtype=np.int64)


def random_codes_baseline(
    embeddings: Any, bits: int, seed: int = 0, knn_k: int = THESIS_KNN_K, map_k: int | None = 100
) -> dict[str, float]:
    """Retrieval metrics of random ±1 codes (test queries vs train database): the floor every method must beat."""
    from hashlab.codes import to_codes
    from hashlab.metrics import retrieval_report

    rng = np.random.default_rng(seed)
    train = to_codes(rng.standard_normal((len(embeddings.train.labels), int(bits))))
    test = to_codes(rng.standard_normal((len(embeddings.test.labels), int(bits))))
    report = retrieval_report(
        test, train, embeddings.test.labels, embeddings.train.labels, k_map=map_k, knn_k=knn_k
    )
    return {k: float(v) for k, v in report.items()}


def distance_counts(batch_labels: np.ndarray, n_classes: int) -> dict[str, int]:
    """Distances one training batch needs (the thesis's §4.3.4 argument for TCL's efficiency, counted, not timed).

    ``pairwise matrix``: all ``B (B - 1) / 2`` code pairs (what a batch-all triplet loss such as DNNH's evaluates);
    ``valid triplets``: (anchor, positive, negative) triples of distinct items with ``y_a = y_p != y_n``, each of which
    compares two distances; ``tcl``: ``B * C`` sample-to-centre distances; ``dshgan``: ``2 B`` real-to-synthetic
    distances (one synthetic positive and one negative per real item). Single-label ``batch_labels`` only.
    """
    y = np.asarray(batch_labels)
    if y.ndim != 1:
        raise ValueError("distance_counts needs single-label (B,) labels")
    b = len(y)
    counts = np.bincount(y, minlength=n_classes).astype(np.int64)
    triplets = int(sum(c * (c - 1) * (b - c) for c in counts))
    return {
        "batch": b,
        "pairwise matrix": b * (b - 1) // 2,
        "valid triplets": triplets,
        "tcl": b * n_classes,
        "dshgan": 2 * b,
    }
