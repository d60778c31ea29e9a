"""torchmetrics wrappers of the Hamming metrics, for Lightning's validation and test loops."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torchmetrics import Metric
from torchmetrics.utilities.data import dim_zero_cat

from hashlab.checks import check_choice, check_codes, check_finite
from hashlab.metrics.average_precision import mean_average_precision
from hashlab.metrics.checks import NoRelevant, Ties
from hashlab.metrics.knn import knn_accuracy

__all__ = ["HammingKNNAccuracy", "HammingMAP"]


class _CodeLabelMetric(Metric):
    """Accumulates query and database (codes, labels); subclasses compute on the concatenated states."""

    full_state_update = False
    is_differentiable = False

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        for state in ("query_codes", "query_labels", "db_codes", "db_labels"):
            self.add_state(state, default=[], dist_reduce_fx="cat")

    def update(self, codes: torch.Tensor, labels: torch.Tensor, role: str = "query") -> None:  # type: ignore[override]
        """Add a batch of ±1 ``codes`` (N, L) and their ``labels`` to the queries or the ``"database"``.

        Codes are validated (exactly ±1) before they are stored as int8, so ``1.3 * codes`` is rejected.
        """
        check_choice("role", role, ("query", "database"))
        codes_t = torch.as_tensor(codes).detach()
        labels_t = torch.as_tensor(labels).detach()
        check_codes(codes_t, f"{role} codes")
        if labels_t.ndim not in (1, 2) or labels_t.shape[0] != codes_t.shape[0]:
            raise ValueError(
                f"update needs codes (N, L) and labels (N,) or (N, C) with N rows, got {tuple(codes_t.shape)} "
                f"and {tuple(labels_t.shape)}"
            )
        check_finite(labels_t, f"{role} labels")
        prefix = "query" if role == "query" else "db"
        getattr(self, f"{prefix}_codes").append(codes_t.to(torch.int8))
        getattr(self, f"{prefix}_labels").append(labels_t.to(torch.int64))

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
        k = None if self.k is None else min(self.k, len(db))  # mAP@k of a database smaller than k: all of it
        value = mean_average_precision(q, db, ql, dl, k=k, ties=self.ties, no_relevant=self.no_relevant)
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
