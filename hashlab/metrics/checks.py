"""Input checks shared by the metrics: the option types and the validation of (codes, labels) pairs.

The general checks (codes ±1, labels, ``k``, choices) live in :mod:`hashlab.checks`; this module pairs them up.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np

from hashlab.checks import check_codes, check_features, check_label_pair, check_labels

__all__ = [
    "NoRelevant",
    "Normalize",
    "Ties",
    "check_code_pair",
    "check_feature_pair",
    "check_query_db_labels",
    "prepare",
]

Ties = Literal["index", "average"]
NoRelevant = Literal["zero", "skip", "error"]
Normalize = Literal["retrieved", "min_k_relevant"]


def check_code_pair(query_codes: Any, db_codes: Any) -> tuple[np.ndarray, np.ndarray]:
    """Validate query and database codes (±1, non-empty) and that they have the same number of bits."""
    q = check_codes(query_codes, "query_codes")
    db = check_codes(db_codes, "db_codes")
    if q.shape[1] != db.shape[1]:
        raise ValueError(f"query codes have {q.shape[1]} bits but database codes have {db.shape[1]}")
    return q, db


def prepare(
    query_codes: Any, db_codes: Any, query_labels: Any, db_labels: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Validate codes and labels of queries and database: ``(q int8, db int8, query labels, db labels)``."""
    q, db = check_code_pair(query_codes, db_codes)
    return (q, db, *check_query_db_labels(query_labels, db_labels, len(q), len(db)))


def check_query_db_labels(
    query_labels: Any, db_labels: Any, n_query: int, n_db: int
) -> tuple[np.ndarray, np.ndarray]:
    """Validate query and database labels (one per item, both single-label or both multi-hot over one C)."""
    ql = check_labels(query_labels, n_query, "query_labels")
    dl = check_labels(db_labels, n_db, "db_labels")
    check_label_pair(ql, dl)
    return ql, dl


def check_feature_pair(query: Any, db: Any) -> tuple[np.ndarray, np.ndarray]:
    """Validate query and database features (2-D, non-empty, finite) and that their widths agree."""
    qa, da = check_features(query, "query"), check_features(db, "db")
    if qa.shape[1] != da.shape[1]:
        raise ValueError(f"query has {qa.shape[1]} dimensions but the database has {da.shape[1]}")
    return qa, da
