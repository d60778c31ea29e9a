"""The label-skew explorer of notebook 07: an α slider and a Run button that trains FedAvg and redraws mAP."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

from hashlab.widgets.base import HashlabWidget, figure_output, table_output

if TYPE_CHECKING:  # pragma: no cover
    from hashlab.features import EmbeddingSet
    from hashlab.federated.fedavg import FederatedConfig, FederatedResult

__all__ = ["FederatedWidget"]


class FederatedWidget(HashlabWidget):
    """α slider (log scale; the IID box means α = ∞), Run button with a per-round progress bar, output area.

    ``config``'s own ``alpha`` is replaced by the slider's.
    """

    action = "training"

    def __init__(self, embeddings: EmbeddingSet, config: FederatedConfig, alpha: float = 1.0) -> None:
        super().__init__()
        if not 0.01 <= alpha <= 100:
            raise ValueError(f"alpha must be in [0.01, 100] for the slider, got {alpha}")
        self.embeddings, self.config = embeddings, config
        self.alpha = widgets.FloatLogSlider(
            value=alpha, base=10, min=-2, max=2, step=0.25, description="Dirichlet α"
        )
        self.iid = widgets.Checkbox(value=False, description="IID (α = ∞)")
        self.train_button = self.button("Run FedAvg")
        self.train_button.on_click(self._on_click)
        self._parts: list[Any] = []
        self._layout(widgets.HBox([self.alpha, self.iid, self.train_button]), history=True)

    def current_alpha(self) -> float:
        """The slider's α, or ``inf`` when the IID box is ticked."""
        return math.inf if self.iid.value else float(self.alpha.value)

    def _controls(self) -> Sequence[widgets.Widget]:
        return [self.alpha, self.iid, self.train_button]

    def _compute(self) -> FederatedResult:
        from hashlab.federated.fedavg import run_fedavg
        from hashlab.federated.partition import dirichlet_partition

        alpha = self.current_alpha()
        cfg = self.config.replace(alpha=alpha)
        self._parts = dirichlet_partition(
            self.embeddings.train.labels, cfg.n_clients, alpha, cfg.seed, cfg.min_client_size
        )
        rounds = int(cfg.rounds)
        self.report_progress(0, rounds, f"FedAvg with α = {alpha:g}: round 0/{rounds}")

        def on_round(row: dict) -> None:
            done = int(row.get("round", 0))
            self.report_progress(done, rounds, f"FedAvg with α = {alpha:g}: round {done}/{rounds}")

        return run_fedavg(self.embeddings, cfg, self._parts, on_round=on_round, progress=False)

    def _render(self, result: FederatedResult) -> list[dict[str, Any]]:
        from hashlab.federated.partition import client_class_counts
        from hashlab.viz import plot_map_vs_rounds, plot_partition

        labels, names = self.embeddings.train.labels, self.embeddings.class_names
        counts = client_class_counts(labels, self._parts, len(names))
        name = f"α = {self.current_alpha():g}"
        best = result.history.iloc[[result.best_round]].set_index("round")
        self.figures = {
            "partition": plot_partition({name: counts}, names),
            "rounds": plot_map_vs_rounds({name: result.history}),
        }
        return [
            figure_output(self.figures["partition"]),
            figure_output(self.figures["rounds"]),
            table_output(best),
        ]

    def _summary(self, result: FederatedResult) -> str:
        from hashlab.federated.partition import label_skew

        labels = self.embeddings.train.labels
        skew = label_skew(labels, self._parts, len(self.embeddings.class_names))
        return (
            f"done: α = {self.current_alpha():g}, label skew {skew:.2f}, best round {result.best_round} "
            f"(validation), test mAP {result.metrics['map']:.3f}"
        )

    def _history_row(self, result: FederatedResult) -> dict[str, Any]:
        return {
            "α": self.current_alpha(),
            "best round": int(result.best_round),
            "test mAP": result.metrics["map"],
        }
