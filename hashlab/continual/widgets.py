"""A widget to explore code distillation: replay size and distillation weight -> R matrix, mAP and cost.

``build_continual_widget(stream, base)`` returns a :class:`ContinualWidget`; ``.widget`` is the ipywidgets box to
display, ``.run()`` trains with the current slider values (what the button does) and redraws the output area, so
the whole path is testable without a browser.
"""

from __future__ import annotations

from typing import Any

import ipywidgets as widgets
import pandas as pd

from hashlab.continual.learner import BaseModel, ContinualResult, run_stream
from hashlab.continual.plots import plot_map_matrices
from hashlab.continual.strategies import CodeDistillation
from hashlab.continual.stream import ClassIncrementalStream
from hashlab.widgets import figure_output, table_output

__all__ = ["ContinualWidget", "build_continual_widget"]


class ContinualWidget:
    """Sliders for the replay buffer size and the distillation weights, a run button and an output area."""

    def __init__(
        self,
        stream: ClassIncrementalStream,
        base: BaseModel,
        memory: int = 50,
        weight: float = 0.3,
        max_memory: int | None = None,
        gamma: float = 2.0,
    ):
        self.stream, self.base, self.gamma = stream, base, float(gamma)
        cap = stream[0].size("train") if max_memory is None else min(max_memory, stream[0].size("train"))
        if not 0 <= memory <= cap:
            raise ValueError(
                f"memory must be in 0..{cap} (the base task has {stream[0].size('train')} items)"
            )
        self.memory = widgets.IntSlider(value=memory, min=0, max=cap, step=5, description="replay size")
        self.weight = widgets.FloatLogSlider(
            value=weight, base=10, min=-2, max=1, step=0.25, description="distill weight"
        )
        self.button = widgets.Button(description="Run update", button_style="primary")
        self.status = widgets.Label(value="")
        self.output = widgets.Output()
        self.result: ContinualResult | None = None
        self.button.on_click(lambda _b: self.run(raise_errors=False))
        self.widget = widgets.VBox(
            [widgets.HBox([self.memory, self.weight, self.button]), self.status, self.output]
        )

    def strategy(self) -> CodeDistillation:
        return CodeDistillation(
            memory=int(self.memory.value), gamma=self.gamma, weight=float(self.weight.value)
        )

    def run(self, raise_errors: bool = True) -> ContinualResult | None:
        """Run the stream with the current slider values; show the R heatmap and the summary row."""
        self.button.disabled = True
        self.status.value = "training ..."
        try:
            result = run_stream(self.stream, self.strategy(), base=self.base)
        except Exception as exc:
            self.status.value = f"failed: {type(exc).__name__}: {exc}"
            if raise_errors:
                raise
            return None
        finally:
            self.button.disabled = False
        self.result = result
        summary = pd.DataFrame([result.summary()]).set_index("strategy")
        self.output.outputs = (table_output(summary), figure_output(plot_map_matrices({"w": result})))
        self.status.value = f"done: final all-class mAP {result.all_map[-1]:.3f}"
        return result

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)


def build_continual_widget(
    stream: ClassIncrementalStream,
    base: BaseModel,
    memory: int = 50,
    weight: float = 0.3,
    max_memory: int | None = 200,
    gamma: float = 2.0,
) -> ContinualWidget:
    """Build the replay-size / pinning-weight widget (asymmetric weight ``gamma`` fixed) starting from ``base``."""
    return ContinualWidget(stream, base, memory, weight, max_memory, gamma)
