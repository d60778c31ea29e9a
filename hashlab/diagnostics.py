"""Is a trained run a result? Checks before training (settings that cannot work) and after it (codes that say
nothing), shared by ``experiment.run``, the CLI, ``reproduce`` and the notebooks' result tables.

A run whose codes are all identical, or whose bits never change, retrieves nothing: every metric it reports is an
artefact of tie-breaking, not of learning. Test queries whose class is absent from the database can never be
answered correctly; they lower the metrics for a reason unrelated to the method. These are reported as a
:class:`DegenerateRunWarning` (and listed in ``ExperimentResult.warnings``), never silently.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping

import numpy as np

__all__ = ["DegenerateRunWarning", "check_trainable", "code_warnings", "warn_if_degenerate"]


class DegenerateRunWarning(UserWarning):
    """A run finished but its result does not measure retrieval (collapsed codes, dead bits, unanswerable queries)."""


def _class_ids(labels: np.ndarray) -> set[int]:
    labels = np.asarray(labels)
    if labels.ndim == 2:  # multi-hot: the classes present in any row
        return {int(c) for c in np.flatnonzero(labels.sum(axis=0) > 0)}
    return {int(c) for c in np.unique(labels)}


def check_trainable(batch_size: int, train_labels: np.ndarray, method: str) -> None:
    """Refuse, before training, settings under which a supervised hashing loss cannot learn.

    Pairs and triplets are formed inside a batch, so a batch of one item gives a similarity term of 0 forever; with
    a single class every pair is similar and every metric is 1.0 whatever the codes.
    """
    if int(batch_size) < 2:
        raise ValueError(
            f"batch_size must be >= 2 for {method}: pairs and triplets are formed inside a batch, got {batch_size}"
        )
    n_classes = len(_class_ids(train_labels))
    if n_classes < 2:
        raise ValueError(
            f"the training split has {n_classes} class(es); supervised hashing ({method}) needs at least 2"
        )


def _findings(codes: Mapping[str, np.ndarray], labels: Mapping[str, np.ndarray]) -> list[tuple[bool, str]]:
    """``(voids_the_result, line)`` per problem with trained codes (see :func:`code_warnings`)."""
    found: list[tuple[bool, str]] = []
    db = np.asarray(codes["train"])
    if len(db) > 1:
        if (db == db[:1]).all():
            found.append(
                (True, f"all {len(db)} database items share one code: the model learned nothing to rank by")
            )
        else:
            constant = int(((db == db[:1]).all(axis=0)).sum())
            if constant:
                found.append(
                    (False, f"{constant} of {db.shape[1]} bits never change across the database (dead bits)")
                )
            n_classes = len(_class_ids(labels["train"])) if "train" in labels else 0
            distinct = len(np.unique(db, axis=0))
            if distinct < n_classes:
                found.append(
                    (
                        True,
                        f"only {distinct} distinct codes for {n_classes} classes in the database: "
                        "the codes cannot tell the classes apart (collapsed)",
                    )
                )
    if "test" in labels and "train" in labels:
        missing = _class_ids(labels["test"]) - _class_ids(labels["train"])
        if missing:
            q = np.asarray(labels["test"])
            n = int(np.isin(q, sorted(missing)).sum()) if q.ndim == 1 else 0
            found.append(
                (
                    True,
                    f"{n} test queries belong to classes absent from the database ({sorted(missing)}): "
                    "they cannot be answered correctly",
                )
            )
    return found


def code_warnings(codes: Mapping[str, np.ndarray], labels: Mapping[str, np.ndarray]) -> list[str]:
    """One line per problem with trained codes: all identical, constant bits, fewer distinct codes than classes,
    query classes missing in the database.

    ``codes`` and ``labels`` are keyed by split (``train`` is the database, ``test`` the queries).
    """
    return [line for _, line in _findings(codes, labels)]


def warn_if_degenerate(codes: Mapping[str, np.ndarray], labels: Mapping[str, np.ndarray]) -> list[str]:
    """:func:`code_warnings`; the lines that make the metrics meaningless (collapsed codes: one code, or fewer
    distinct codes than classes; unanswerable queries) are also raised as a :class:`DegenerateRunWarning`. Dead bits
    alone are returned, not raised: a few constant bits are common in short runs and shorten the code without voiding
    the result. Returns every line."""
    found = _findings(codes, labels)
    for voids, line in found:
        if voids:
            warnings.warn(line, DegenerateRunWarning, stacklevel=2)
    return [line for _, line in found]
