"""The bits/λ explorer widget: retrain the autoencoder variants and redraw their Hamming distance distributions."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from hashlab.autoencoder.comparison import AE_METHODS, METHOD_LABELS
from hashlab.autoencoder.model import _check_positive_int
from hashlab.autoencoder.training import train_autoencoder

__all__ = ["AutoencoderExplorer", "build_explorer"]


class AutoencoderExplorer:
    """Widget: sliders for bits and λ and a button that retrains the AE variants in ``methods`` (keys of
    :data:`AE_METHODS`) on the bundle's training images, then redraws their Hamming distance distributions
    (test queries). ``run()`` is the click handler; ``result`` holds the last run's bits, λ, mAP and codes."""

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
        import ipywidgets as widgets

        if bits not in bits_options:
            raise ValueError(f"bits={bits} must be one of bits_options={tuple(bits_options)}")
        unknown = sorted(set(methods) - set(AE_METHODS))
        if unknown:
            raise KeyError(f"unknown autoencoder method(s) {unknown}; available: {sorted(AE_METHODS)}")
        self.bundle, self.epochs, self.seed = bundle, _check_positive_int(epochs, "epochs"), seed
        self.methods = tuple(methods)
        self.bits = widgets.SelectionSlider(options=list(bits_options), value=bits, description="bits")
        self.lam = widgets.FloatLogSlider(value=lam, base=10, min=-3, max=1, step=0.25, description="λ")
        self.button = widgets.Button(description="Retrain", button_style="primary")
        self.status = widgets.HTML(value="Set bits and λ, then click Retrain.")
        self.output = widgets.Output()
        self.result: dict[str, Any] | None = None
        self.button.on_click(lambda _button: self.run())
        self.widget = widgets.VBox(
            [widgets.HBox([self.bits, self.lam, self.button]), self.status, self.output]
        )

    def run(self) -> dict[str, Any]:
        """Retrain the variants at the sliders' bits and λ, evaluate (test queries vs train database), redraw."""
        from IPython.display import display

        from hashlab.metrics import mean_average_precision
        from hashlab.plots import hamming_distance_histogram

        bits, lam = int(self.bits.value), float(self.lam.value)
        self.status.value = f"training {len(self.methods)} variants at {bits} bits, λ = {lam:.3g} …"
        train, test = self.bundle.train, self.bundle.test
        res: dict[str, Any] = {"bits": bits, "lam": lam, "map": {}, "codes": {}}
        t0 = time.perf_counter()
        for method in self.methods:
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
        res["seconds"] = time.perf_counter() - t0
        self.result = res
        fig = hamming_distance_histogram(
            {
                f"{METHOD_LABELS[m]}, mAP {res['map'][m]:.3f}: {bits}": res["codes"][m][0]
                for m in self.methods
            },
            test.labels,
            title=f"Hamming distances between test queries, {bits} bits, λ = {lam:.3g}",
        )
        self.output.clear_output(wait=True)
        with self.output:
            display(fig)
        summary = ", ".join(f"{m} {res['map'][m]:.3f}" for m in self.methods)
        self.status.value = f"{bits} bits, λ = {lam:.3g}: mAP {summary} ({res['seconds']:.1f} s)"
        return res


def build_explorer(bundle: Any, **kwargs: Any) -> AutoencoderExplorer:
    """Build the bits/λ explorer for ``bundle`` (display ``explorer.widget``)."""
    return AutoencoderExplorer(bundle, **kwargs)
