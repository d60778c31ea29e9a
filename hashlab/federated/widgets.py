"""A widget to explore label skew: an α slider and a Run button that trains FedAvg and redraws the mAP curve.

``build_federated_widget(embeddings, config)`` returns a :class:`FederatedWidget`; ``.widget`` is the ipywidgets
box to display, ``.run()`` trains with the slider's α (what the button does) and fills the output area, so the whole
path is testable without a browser.
"""

from __future__ import annotations

import math
from typing import Any

import ipywidgets as widgets

from hashlab.features import EmbeddingSet
from hashlab.federated.fedavg import FederatedConfig, FederatedResult, run_fedavg
from hashlab.federated.partition import client_class_counts, dirichlet_partition, label_skew
from hashlab.federated.plots import plot_map_vs_rounds, plot_partition
from hashlab.widgets import figure_output, table_output

__all__ = ["FederatedWidget", "build_federated_widget"]


class FederatedWidget:
    """α slider (log scale, the top position means IID), Run button, status line and output area."""

    def __init__(self, embeddings: EmbeddingSet, config: FederatedConfig, alpha: float = 1.0) -> None:
        if not 0.01 <= alpha <= 100:
            raise ValueError(f"alpha must be in [0.01, 100] for the slider, got {alpha}")
        self.embeddings, self.config = embeddings, config
        self.alpha = widgets.FloatLogSlider(
            value=alpha, base=10, min=-2, max=2, step=0.25, description="Dirichlet α"
        )
        self.iid = widgets.Checkbox(value=False, description="IID (α = ∞)")
        self.button = widgets.Button(description="Run FedAvg", button_style="primary")
        self.status = widgets.Label(value="")
        self.output = widgets.Output()
        self.result: FederatedResult | None = None
        self.button.on_click(lambda _b: self.run(raise_errors=False))
        self.widget = widgets.VBox(
            [widgets.HBox([self.alpha, self.iid, self.button]), self.status, self.output]
        )

    def current_alpha(self) -> float:
        return math.inf if self.iid.value else float(self.alpha.value)

    def run(self, raise_errors: bool = True) -> FederatedResult | None:
        """Partition with the current α, run FedAvg, show the partition, the mAP curve and the best round."""
        alpha = self.current_alpha()
        self.button.disabled = True
        self.status.value = f"training with α = {alpha:g} ..."
        try:
            cfg = self.config.replace(alpha=alpha)
            labels = self.embeddings.train.labels
            parts = dirichlet_partition(labels, cfg.n_clients, alpha, cfg.seed, cfg.min_client_size)
            result = run_fedavg(self.embeddings, cfg, parts)
        except Exception as exc:
            self.status.value = f"failed: {type(exc).__name__}: {exc}"
            if raise_errors:
                raise
            return None
        finally:
            self.button.disabled = False
        self.result = result
        counts = client_class_counts(labels, parts, len(self.embeddings.class_names))
        name = f"α = {alpha:g}"
        best = result.history.iloc[[result.best_round]].set_index("round").round(4)
        self.output.outputs = (
            figure_output(plot_partition({name: counts}, self.embeddings.class_names)),
            figure_output(plot_map_vs_rounds({name: result.history})),
            table_output(best),
        )
        skew = label_skew(labels, parts, len(self.embeddings.class_names))
        self.status.value = (
            f"done: α = {alpha:g}, label skew {skew:.2f}, best round {result.best_round} (validation), "
            f"test mAP {result.metrics['map']:.3f}"
        )
        return result

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)


def build_federated_widget(
    embeddings: EmbeddingSet, config: FederatedConfig, alpha: float = 1.0
) -> FederatedWidget:
    """Build the α / Run widget for ``config`` (its own ``alpha`` is replaced by the slider's)."""
    return FederatedWidget(embeddings, config, alpha)
