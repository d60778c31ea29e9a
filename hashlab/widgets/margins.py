"""The bits/margin explorer of notebook 05: retrain DSH at a Hamming margin and redraw histograms and mAP."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

from hashlab.separation import dsh_margin, separation
from hashlab.widgets.base import HashlabWidget, figure_output

if TYPE_CHECKING:  # pragma: no cover
    from hashlab.experiment import ExperimentConfig, ExperimentResult
    from hashlab.features import EmbeddingSet

__all__ = ["MarginExplorer"]


class MarginExplorer(HashlabWidget):
    """Bits and margin sliders that retrain DSH (Liu et al., 2016) on fixed embeddings and redraw.

    The margin slider is a fraction ``f`` of the code length in Hamming bits (loss margin ``4 f L``,
    :func:`hashlab.separation.dsh_margin`). Moving a slider retrains (busy state while training) unless
    ``(bits, f)`` is in :attr:`cache` (``{(bits, fraction): ExperimentResult}``; pre-fill it to skip training). The
    status line shows the test mAP and the separation (d', overlap) of same- vs different-class distances. The
    initial values are ``config.bits`` and the fraction of ``config``'s DSH margin; they are drawn on construction.
    """

    action = "training"

    def __init__(
        self,
        config: ExperimentConfig,
        embeddings: EmbeddingSet | None = None,
        bits_options: Sequence[int] = (8, 16, 32),
        fractions: Sequence[float] = (0.0, 1 / 16, 1 / 8, 1 / 4, 1 / 2, 1.0),
        cache: dict[tuple[int, float], ExperimentResult] | None = None,
    ) -> None:
        super().__init__()
        from hashlab.experiment import load_embeddings

        if config.method != "dsh":
            raise ValueError(f"MarginExplorer trains DSH; got method {config.method!r}")
        self.config = config
        self.embeddings = load_embeddings(config) if embeddings is None else embeddings
        self.cache = {} if cache is None else cache
        start_f = float(config.loss_kwargs.get("margin", 2.0 * config.bits)) / (4.0 * config.bits)
        fractions = sorted({*map(float, fractions), start_f})
        bits_options = sorted({*map(int, bits_options), int(config.bits)})
        self.bits = widgets.SelectionSlider(options=bits_options, value=int(config.bits), description="bits")
        self.fraction = widgets.SelectionSlider(
            options=[(f"{f:.3g} L", f) for f in fractions],
            value=start_f,
            description="margin",
            continuous_update=False,
        )
        self.bits.observe(self._on_change, names="value")
        self.fraction.observe(self._on_change, names="value")
        self._layout(widgets.HBox([self.bits, self.fraction]), history=True)
        self.run(raise_errors=True)

    def _on_change(self, _change: Any = None) -> None:
        self.run(raise_errors=False)

    def _controls(self) -> Sequence[widgets.Widget]:
        return [self.bits, self.fraction]

    def _compute(self) -> tuple[int, float, ExperimentResult]:
        from hashlab.experiment import run

        b, f = int(self.bits.value), float(self.fraction.value)
        if (b, f) not in self.cache:
            self.report_progress(0, 1, f"training DSH, {b} bits, margin {f * b:.3g} bits …")
            cfg = self.config.replace(
                bits=b, loss_kwargs={**self.config.loss_kwargs, "margin": dsh_margin(f, b)}
            )
            self.cache[(b, f)] = run(cfg, embeddings=self.embeddings, progress=False)
        return b, f, self.cache[(b, f)]

    def _render(self, item: tuple[int, float, ExperimentResult]) -> list[dict[str, Any]]:
        from hashlab.viz import plot_margin_histograms

        b, f, res = item
        fig = plot_margin_histograms({f"{b} bits, margin {f * b:.3g} bits": res})
        self.figures = {"hamming": fig}
        return [figure_output(fig)]

    def _summary(self, item: tuple[int, float, ExperimentResult]) -> str:
        b, f, res = item
        sep = separation(res.codes["test"], res.labels["test"])
        return (
            f"{b} bits, margin {f * b:.3g} bits: test mAP {res.metrics['map']:.3f}, "
            f"d' {sep['dprime']:.2f}, overlap {sep['overlap']:.2f}"
        )

    def _history_row(self, item: tuple[int, float, ExperimentResult]) -> dict[str, Any]:
        b, f, res = item
        return {"bits": b, "margin (bits)": f * b, "test mAP": float(res.metrics["map"])}
