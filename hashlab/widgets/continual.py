"""The code-distillation explorer of notebook 06: replay size and distillation weight -> R matrix, mAP and cost."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets
import pandas as pd

from hashlab.widgets.base import HashlabWidget, figure_output, table_output

if TYPE_CHECKING:  # pragma: no cover
    from hashlab.continual.learner import BaseModel, ContinualResult
    from hashlab.continual.strategies import CodeDistillation
    from hashlab.continual.stream import ClassIncrementalStream

__all__ = ["ContinualWidget"]


class ContinualWidget(HashlabWidget):
    """Sliders for the replay buffer size and the distillation weight (asymmetric weight ``gamma`` fixed), a run
    button and an output area; a run replays the whole stream from ``base``. ``max_memory`` caps the slider."""

    action = "update"

    def __init__(
        self,
        stream: ClassIncrementalStream,
        base: BaseModel,
        memory: int = 50,
        weight: float = 0.3,
        max_memory: int | None = 200,
        gamma: float = 2.0,
    ) -> None:
        super().__init__()
        self.stream, self.base, self.gamma = stream, base, float(gamma)
        size = stream[0].size("train")
        cap = size if max_memory is None else min(max_memory, size)
        if not 0 <= memory <= cap:
            raise ValueError(f"memory must be in 0..{cap} (the base task has {size} items)")
        self.memory = widgets.IntSlider(value=memory, min=0, max=cap, step=5, description="replay size")
        self.weight = widgets.FloatLogSlider(
            value=weight, base=10, min=-2, max=1, step=0.25, description="distill weight"
        )
        self.train_button = self.button("Run update")
        self.train_button.on_click(self._on_click)
        self._layout(widgets.HBox([self.memory, self.weight, self.train_button]), history=True)

    def strategy(self) -> CodeDistillation:
        """The code-distillation strategy with the sliders' replay size and weight."""
        from hashlab.continual.strategies import CodeDistillation

        return CodeDistillation(
            memory=int(self.memory.value), gamma=self.gamma, weight=float(self.weight.value)
        )

    def _controls(self) -> Sequence[widgets.Widget]:
        return [self.memory, self.weight, self.train_button]

    def _compute(self) -> ContinualResult:
        from hashlab.continual.learner import run_stream

        self.report_progress(0, 1, f"running {len(self.stream)} tasks …")
        return run_stream(self.stream, self.strategy(), base=self.base)

    def _render(self, result: ContinualResult) -> list[dict[str, Any]]:
        from hashlab.viz import plot_map_matrices

        summary = pd.DataFrame([result.summary()]).set_index("strategy")
        fig = plot_map_matrices({"w": result})
        self.figures = {"map_matrix": fig}
        return [table_output(summary), figure_output(fig)]

    def _summary(self, result: ContinualResult) -> str:
        return f"done: final all-class mAP {result.all_map[-1]:.3f}"

    def _history_row(self, result: ContinualResult) -> dict[str, Any]:
        return {
            "replay size": int(self.memory.value),
            "distill weight": float(self.weight.value),
            "final all-class mAP": float(result.all_map[-1]),
            "forgetting": float(result.forgetting),
        }
