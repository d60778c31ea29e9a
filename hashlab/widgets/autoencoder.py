"""The bits/λ explorer of notebook 02: retrain the autoencoder variants and redraw their Hamming distributions."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import ipywidgets as widgets

from hashlab.widgets.base import HashlabWidget, figure_output, stream_output

__all__ = ["AutoencoderExplorer"]


class AutoencoderExplorer(HashlabWidget):
    """Sliders for bits and λ and a Retrain button that retrains the autoencoder variants in ``methods`` (keys of
    ``hashlab.autoencoder.AE_METHODS``) on the bundle's training images, then redraws their Hamming distance
    distributions (test queries). ``result`` holds the last run's bits, λ, mAP per method and codes."""

    action = "training"

    def __init__(
        self,
        bundle: Any,
        bits_options: Sequence[int] = (8, 16, 32, 64),
        bits: int = 32,
        lam: float = 0.1,
        epochs: int = 10,
        seed: int = 0,
        methods: Sequence[str] = ("ae_latent", "ae_code"),
    ) -> None:
        super().__init__()
        from hashlab.autoencoder.comparison import AE_METHODS
        from hashlab.checks import check_positive_int

        if bits not in bits_options:
            raise ValueError(f"bits={bits} must be one of bits_options={tuple(bits_options)}")
        unknown = sorted(set(methods) - set(AE_METHODS))
        if unknown:
            raise KeyError(f"unknown autoencoder method(s) {unknown}; available: {sorted(AE_METHODS)}")
        self.bundle, self.epochs, self.seed = bundle, check_positive_int(epochs, "epochs"), seed
        self.methods = tuple(methods)
        self.bits = widgets.SelectionSlider(options=list(bits_options), value=bits, description="bits")
        self.lam = widgets.FloatLogSlider(value=lam, base=10, min=-3, max=1, step=0.25, description="λ")
        self.train_button = self.button("Retrain")
        self.train_button.on_click(self._on_click)
        self.status.value = "Set bits and λ, then click Retrain."
        self._layout(widgets.HBox([self.bits, self.lam, self.train_button]), history=True)

    def _controls(self) -> Sequence[widgets.Widget]:
        return [self.bits, self.lam, self.train_button]

    def _compute(self) -> dict[str, Any]:
        from hashlab.autoencoder.comparison import AE_METHODS
        from hashlab.autoencoder.training import train_autoencoder
        from hashlab.metrics import mean_average_precision

        bits, lam = int(self.bits.value), float(self.lam.value)
        train, test = self.bundle.train, self.bundle.test
        res: dict[str, Any] = {"bits": bits, "lam": lam, "map": {}, "codes": {}}
        for i, method in enumerate(self.methods):
            self.report_progress(i, len(self.methods), f"training {method} at {bits} bits, λ = {lam:.3g} …")
            model = train_autoencoder(
                train.images,
                bits=bits,
                **AE_METHODS[method],
                lam=lam,
                epochs=self.epochs,
                seed=self.seed,
                progress=False,
            )
            q, db = model.encode(test.images), model.encode(train.images)
            res["codes"][method] = (q, db)
            res["map"][method] = float(mean_average_precision(q, db, test.labels, train.labels))
        return res

    def _render(self, res: dict[str, Any]) -> list[dict[str, Any]]:
        from hashlab.autoencoder.comparison import METHOD_LABELS
        from hashlab.viz import plot_hamming_histogram

        bits, lam = res["bits"], res["lam"]
        fig = plot_hamming_histogram(
            {f"{METHOD_LABELS[m]} (mAP {res['map'][m]:.3f})": res["codes"][m][0] for m in self.methods},
            self.bundle.test.labels,
            title=f"Hamming distances between test queries, {bits} bits, λ = {lam:.3g}",
        )
        self.figures = {"hamming": fig}
        return [
            stream_output(f"{bits} bits, λ = {lam:.3g} (test queries vs train database)"),
            figure_output(fig),
        ]

    def _summary(self, res: dict[str, Any]) -> str:
        summary = ", ".join(f"{m} {res['map'][m]:.3f}" for m in self.methods)
        return f"{res['bits']} bits, λ = {res['lam']:.3g}: mAP {summary}"

    def _history_row(self, res: dict[str, Any]) -> dict[str, Any]:
        return {"bits": res["bits"], "λ": res["lam"], **{f"mAP {m}": v for m, v in res["map"].items()}}
