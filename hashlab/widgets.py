"""Interactive ipywidgets front-ends that train through ``hashlab.experiment.run`` and redraw results.

- :class:`ExperimentExplorer`: dataset / backbone / method dropdowns, bit-length slider, margin slider (enabled only
  for losses with a ``margin``), epochs, and a Train button; shows the metric table, the Hamming distance histogram
  and the Hamming-KNN confusion matrix in an ``Output`` area.
- :class:`BitLengthExplorer`: the quickstart's bit-length slider; releasing it retrains at the new length and redraws
  the printed bit length, the metric table and a Hamming histogram.

Both run the same code path as notebooks and the CLI (``experiment.run``). A run disables the controls and shows
per-epoch progress; an exception is shown as a traceback in the output area and kept in ``last_error`` /
``last_traceback`` (``run_once`` also re-raises it, a click does not, since an exception raised inside a widget
callback would only reach the kernel log). Results are written to the ``Output`` widget's ``outputs`` directly, so
they render the same with or without a live kernel and can be inspected in tests. Embeddings are loaded once per
(dataset, backbone) and kept in memory (:func:`cached_embeddings`), so a click only trains the small hash head.
"""

from __future__ import annotations

import base64
import io
import time
import traceback
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets
import numpy as np
import pandas as pd
import pytorch_lightning as pl

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

    from hashlab.experiment import ExperimentResult
    from hashlab.features import EmbeddingSet

__all__ = [
    "BitLengthExplorer",
    "ExperimentExplorer",
    "cached_embeddings",
    "clear_embedding_cache",
    "loss_margin",
]

_EMBEDDINGS: dict[tuple[str, str], EmbeddingSet] = {}


def cached_embeddings(dataset: str, backbone: str) -> EmbeddingSet:
    """``hashlab.features.get_embeddings(dataset, backbone)``, loaded once per process and kept in memory."""
    key = (dataset, backbone)
    if key not in _EMBEDDINGS:
        from hashlab.features import get_embeddings

        _EMBEDDINGS[key] = get_embeddings(dataset, backbone)
    return _EMBEDDINGS[key]


def clear_embedding_cache() -> None:
    """Forget the in-memory embeddings (they are reloaded from the disk cache on the next run)."""
    _EMBEDDINGS.clear()


def loss_margin(method: str, bits: int = 32, n_classes: int = 10) -> float | None:
    """The default ``margin`` of loss ``method``, or None when that loss has no margin."""
    from hashlab.losses import get_loss

    loss = get_loss(method, bits=bits, n_classes=n_classes)
    margin = getattr(loss, "margin", None)
    return None if margin is None else float(margin)


# ------------------------------------------------------------------------------------------ output helpers
def figure_output(fig: Figure) -> dict[str, Any]:
    """A figure as an ``Output`` widget's display_data entry (PNG), so a handler can replace outputs in one go."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    png = base64.b64encode(buf.getvalue()).decode("ascii")
    return {
        "output_type": "display_data",
        "data": {"image/png": png, "text/plain": repr(fig)},
        "metadata": {},
    }


def table_output(frame: pd.DataFrame) -> dict[str, Any]:
    """A DataFrame as an ``Output`` widget's display_data entry (HTML and text)."""
    return {
        "output_type": "display_data",
        "data": {"text/html": frame.to_html(float_format="{:.4f}".format), "text/plain": frame.to_string()},
        "metadata": {},
    }


def stream_output(text: str, name: str = "stdout") -> dict[str, Any]:
    """Text as an ``Output`` widget's stream entry."""
    return {"output_type": "stream", "name": name, "text": text if text.endswith("\n") else text + "\n"}


def metrics_frame(result: ExperimentResult) -> pd.DataFrame:
    """One-row table of a result's test metrics (test queries vs train database), indexed by method and bits."""
    cfg = result.config
    row = {k: float(v) for k, v in result.metrics.items()}
    row["train_s"] = float(getattr(result, "train_seconds", float("nan")))
    return pd.DataFrame(
        [row], index=pd.MultiIndex.from_tuples([(cfg.method, cfg.bits)], names=["method", "bits"])
    )


class _EpochProgress(pl.Callback):
    """Lightning callback that moves an ``IntProgress`` bar and a label once per training epoch."""

    def __init__(self, bar: widgets.IntProgress, label: widgets.Label) -> None:
        self.bar, self.label = bar, label

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.bar.max = max(int(trainer.max_epochs or 1), 1)
        self.bar.value = 0
        self.label.value = f"training: epoch 0/{self.bar.max}"

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.bar.value = min(trainer.current_epoch + 1, self.bar.max)
        self.label.value = f"training: epoch {self.bar.value}/{self.bar.max}"


# --------------------------------------------------------------------------------------------- shared base
class _TrainingWidget:
    """Run ``experiment.run`` from a widget: disable controls, show progress, draw results or the error."""

    def __init__(self) -> None:
        self.output = widgets.Output(layout=widgets.Layout(border="1px solid #ddd", padding="4px"))
        self.progress = widgets.IntProgress(value=0, min=0, max=1, layout=widgets.Layout(width="220px"))
        self.status = widgets.Label(value="")
        self.result: ExperimentResult | None = None
        self.figures: dict[str, Figure] = {}
        self.last_error: BaseException | None = None
        self.last_traceback: str | None = None
        self.runs = 0
        self.widget: widgets.Widget = widgets.VBox()

    # subclasses provide these
    def _controls(self) -> Sequence[widgets.Widget]:  # pragma: no cover - abstract
        raise NotImplementedError

    def _config(self) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def _embeddings(self, config: Any) -> EmbeddingSet:  # pragma: no cover - abstract
        raise NotImplementedError

    def _render(self, result: ExperimentResult) -> list[dict[str, Any]]:  # pragma: no cover - abstract
        raise NotImplementedError

    def _busy(self, busy: bool) -> None:
        for control in self._controls():
            control.disabled = busy
        if busy:
            self.progress.value = 0
            self.progress.bar_style = "info"
            self.status.value = "loading embeddings ..."

    def run_once(self, raise_errors: bool = True) -> ExperimentResult | None:
        """Train with the current control values and redraw the output area.

        On failure the traceback replaces the output area's content, the exception is stored in ``last_error`` (and
        the formatted traceback in ``last_traceback``), and it is re-raised when ``raise_errors`` is True.
        """
        from hashlab import experiment  # looked up per call so a patched ``experiment.run`` is the one called

        self._busy(True)
        started = time.perf_counter()
        try:
            config = self._config()
            embeddings = self._embeddings(config)
            self.status.value = "training ..."
            result = experiment.run(
                config,
                embeddings=embeddings,
                callbacks=[_EpochProgress(self.progress, self.status)],
                progress=False,
            )
            outputs = self._render(result)
        except Exception as exc:
            self.last_error = exc
            self.last_traceback = traceback.format_exc()
            self.output.outputs = (
                stream_output(f"{type(exc).__name__} while training: {exc}", "stderr"),
                stream_output(self.last_traceback, "stderr"),
            )
            self.progress.bar_style = "danger"
            self.status.value = f"failed: {type(exc).__name__}: {exc}"
            if raise_errors:
                raise
            return None
        finally:
            self._busy(False)
        self.runs += 1
        self._publish(result, outputs, f"done in {time.perf_counter() - started:.1f} s (run {self.runs})")
        return result

    def show_result(self, result: ExperimentResult) -> None:
        """Draw an already trained result (e.g. the notebook's own run) without retraining."""
        self._publish(result, self._render(result), "showing a given result")

    def _publish(self, result: ExperimentResult, outputs: list[dict[str, Any]], status: str) -> None:
        self.result = result
        self.last_error = None
        self.last_traceback = None
        self.output.outputs = tuple(outputs)
        self.progress.value = self.progress.max
        self.progress.bar_style = "success"
        self.status.value = status

    def _on_click(self, _button: widgets.Button | None = None) -> None:
        self.run_once(raise_errors=False)

    def display(self) -> None:
        """Display the widget (also what a notebook shows when the explorer is a cell's last expression)."""
        from IPython.display import display

        display(self.widget)

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)


# ------------------------------------------------------------------------------------ experiment explorer
class ExperimentExplorer(_TrainingWidget):
    """Pick dataset, backbone, method, bits (and margin where the loss has one), train, see metrics and plots.

    A click calls ``hashlab.experiment.run`` on the in-memory embeddings of the selected (dataset, backbone)
    (:func:`cached_embeddings`). ``embeddings`` (optional, e.g. a subsample) is used instead whenever its
    (dataset, backbone) is the one selected; ``subsample`` then subsamples further.
    """

    def __init__(
        self,
        *,
        dataset: str = "digits",
        backbone: str = "pixels",
        method: str = "dpsh",
        bits: int = 32,
        epochs: int = 10,
        datasets: Sequence[str] | None = None,
        backbones: Sequence[str] | None = None,
        methods: Sequence[str] | None = None,
        bit_range: tuple[int, int, int] = (8, 64, 4),
        embeddings: EmbeddingSet | None = None,
        subsample: tuple[int, int, int] | None = None,
        seed: int = 0,
        batch_size: int = 128,
        lr: float = 1e-3,
        knn_k: int = 7,
    ) -> None:
        super().__init__()
        from hashlab.losses import available_losses

        self.given_embeddings = embeddings
        if embeddings is not None:
            dataset, backbone = embeddings.dataset, embeddings.backbone
        if datasets is None:
            from hashlab.data import available_datasets

            datasets = available_datasets()
        if backbones is None:
            from hashlab.features import available_backbones

            backbones = available_backbones()
        methods = list(methods) if methods is not None else available_losses()
        for name, value, choices in (
            ("dataset", dataset, datasets),
            ("backbone", backbone, backbones),
            ("method", method, methods),
        ):
            if value not in choices:
                raise ValueError(f"unknown {name} {value!r}; choose one of {list(choices)}")
        lo, hi, step = bit_range
        if not 1 <= lo <= bits <= hi:
            raise ValueError(f"bits={bits} must lie in bit_range [{lo}, {hi}]")
        if epochs < 1:
            raise ValueError(f"epochs must be >= 1, got {epochs}")
        self.subsample, self.seed, self.batch_size, self.lr, self.knn_k = (
            subsample,
            seed,
            batch_size,
            lr,
            knn_k,
        )

        style = {"description_width": "80px"}
        self.dataset = widgets.Dropdown(
            options=list(datasets), value=dataset, description="dataset", style=style
        )
        self.backbone = widgets.Dropdown(
            options=list(backbones), value=backbone, description="backbone", style=style
        )
        self.method = widgets.Dropdown(options=methods, value=method, description="method", style=style)
        self.bits = widgets.IntSlider(
            value=bits, min=lo, max=hi, step=step, description="bits", continuous_update=False, style=style
        )
        self.margin = widgets.FloatSlider(
            value=0.0, min=0.0, max=1.0, step=0.01, description="margin", continuous_update=False, style=style
        )
        self.epochs = widgets.BoundedIntText(value=epochs, min=1, max=500, description="epochs", style=style)
        self.train_button = widgets.Button(description="Train", button_style="primary", icon="play")
        self.train_button.on_click(self._on_click)
        self.method.observe(self._on_method_change, names="value")
        self.bits.observe(
            self._on_method_change, names="value"
        )  # a margin's default may scale with L (DSH: 2L)
        self._on_method_change()
        self.widget = widgets.VBox(
            [
                widgets.HBox([self.dataset, self.backbone, self.method]),
                widgets.HBox([self.bits, self.margin, self.epochs]),
                widgets.HBox([self.train_button, self.progress, self.status]),
                self.output,
            ]
        )

    @property
    def has_margin(self) -> bool:
        """Whether the selected loss has a ``margin`` (the margin slider is enabled only then)."""
        return self._default_margin is not None

    def _on_method_change(self, _change: Any = None) -> None:
        """Enable the margin slider for losses with a margin and reset it to that loss's default at these bits."""
        self._default_margin = loss_margin(self.method.value, bits=self.bits.value)
        if self._default_margin is None:
            self.margin.disabled = True
            self.margin.tooltip = f"{self.method.value} has no margin"
            return
        default = self._default_margin
        self.margin.max = max(4.0 * default, 1.0)
        self.margin.min = 0.0
        self.margin.step = self.margin.max / 200
        self.margin.value = default
        self.margin.disabled = False
        self.margin.tooltip = f"{self.method.value} margin (default {default:g} at {self.bits.value} bits)"

    def _controls(self) -> Sequence[widgets.Widget]:
        return [self.dataset, self.backbone, self.method, self.bits, self.epochs, self.train_button]

    def _busy(self, busy: bool) -> None:
        super()._busy(busy)
        self.margin.disabled = busy or not self.has_margin
        self.train_button.description = "Training ..." if busy else "Train"

    def _config(self) -> Any:
        from hashlab.experiment import ExperimentConfig

        loss_kwargs = {"margin": float(self.margin.value)} if self.has_margin else {}
        return ExperimentConfig(
            dataset=self.dataset.value,
            backbone=self.backbone.value,
            method=self.method.value,
            bits=int(self.bits.value),
            epochs=int(self.epochs.value),
            batch_size=self.batch_size,
            lr=self.lr,
            seed=self.seed,
            loss_kwargs=loss_kwargs,
            knn_k=self.knn_k,
            subsample=self.subsample,
        )

    def _embeddings(self, config: Any) -> EmbeddingSet:
        given = self.given_embeddings
        if given is not None and (given.dataset, given.backbone) == (config.dataset, config.backbone):
            embeddings = given
        else:
            embeddings = cached_embeddings(config.dataset, config.backbone)
        if config.subsample is not None:  # run() subsamples only embeddings it loads itself
            embeddings = embeddings.subsample(*config.subsample, seed=config.seed)
        return embeddings

    def _render(self, result: ExperimentResult) -> list[dict[str, Any]]:
        from hashlab import metrics, plots

        cfg = result.config
        margin = f", margin {cfg.loss_kwargs['margin']:.3g}" if "margin" in cfg.loss_kwargs else ""
        header = (
            f"{cfg.method} | {cfg.bits} bits{margin} | {cfg.dataset} / {cfg.backbone} | {cfg.epochs} epochs | "
            f"test queries vs train database, Hamming KNN k={cfg.knn_k}"
        )
        test_codes, train_codes = result.codes["test"], result.codes["train"]
        test_labels, train_labels = np.asarray(result.labels["test"]), np.asarray(result.labels["train"])
        hist = plots.hamming_distance_histogram(
            test_codes, test_labels, title=f"{cfg.method}, {cfg.bits} bits: test-set pairs"
        )
        self.figures = {"hamming": hist}
        outputs = [stream_output(header), table_output(metrics_frame(result)), figure_output(hist)]
        if test_labels.ndim == 1:
            pred = metrics.knn_predict(test_codes, train_codes, train_labels, k=cfg.knn_k)
            n_classes = len(result.class_names)
            cm = plots.confusion_matrix_plot(
                metrics.confusion_matrix(test_labels, pred, n_classes),
                result.class_names,
                title=f"Confusion Matrix ({cfg.method}, {cfg.bits} bits, Hamming KNN k={cfg.knn_k})",
            )
            self.figures["confusion"] = cm
            outputs.append(figure_output(cm))
        else:
            outputs.append(stream_output("multi-label data: no confusion matrix"))
        return outputs


# ------------------------------------------------------------------------------------ bit-length explorer
class BitLengthExplorer(_TrainingWidget):
    """A bit-length slider that retrains a hash head on fixed embeddings when released, then redraws.

    Shows "Bit length: L", the metric table (test queries vs train database) and the Hamming distance histogram of
    test-set pairs. ``config_kwargs`` are passed to ``ExperimentConfig`` (method, epochs, seed, ...).
    """

    def __init__(
        self,
        embeddings: EmbeddingSet,
        *,
        bits: int = 32,
        bit_range: tuple[int, int, int] = (4, 64, 4),
        **config_kwargs: Any,
    ) -> None:
        super().__init__()
        lo, hi, step = bit_range
        if not 1 <= lo <= bits <= hi:
            raise ValueError(f"bits={bits} must lie in bit_range [{lo}, {hi}]")
        if "bits" in config_kwargs or "dataset" in config_kwargs or "backbone" in config_kwargs:
            raise ValueError("bits, dataset and backbone are set by the explorer (bits slider, embeddings)")
        self.embeddings = embeddings
        self.config_kwargs = config_kwargs
        self.bits = widgets.IntSlider(
            value=bits,
            min=lo,
            max=hi,
            step=step,
            description="bit length",
            continuous_update=False,
            style={"description_width": "80px"},
        )
        self.bits.observe(self._on_bits_change, names="value")
        self.widget = widgets.VBox([widgets.HBox([self.bits, self.progress, self.status]), self.output])

    def _on_bits_change(self, _change: Any = None) -> None:
        self.run_once(raise_errors=False)

    def _controls(self) -> Sequence[widgets.Widget]:
        return [self.bits]

    def _config(self) -> Any:
        from hashlab.experiment import ExperimentConfig

        return ExperimentConfig(
            dataset=self.embeddings.dataset,
            backbone=self.embeddings.backbone,
            bits=int(self.bits.value),
            **self.config_kwargs,
        )

    def _embeddings(self, config: Any) -> EmbeddingSet:
        return self.embeddings

    def show_result(self, result: ExperimentResult) -> None:
        """Draw a result trained elsewhere on these embeddings; the slider moves to its bit length silently."""
        if (
            result.config.dataset != self.embeddings.dataset
            or result.config.backbone != self.embeddings.backbone
        ):
            raise ValueError(
                f"result is for {result.config.dataset}/{result.config.backbone}, the explorer for "
                f"{self.embeddings.dataset}/{self.embeddings.backbone}"
            )
        self.bits.unobserve(self._on_bits_change, names="value")
        try:
            self.bits.value = int(result.config.bits)
        finally:
            self.bits.observe(self._on_bits_change, names="value")
        super().show_result(result)

    def _render(self, result: ExperimentResult) -> list[dict[str, Any]]:
        from hashlab import plots

        cfg = result.config
        bits = int(result.codes["test"].shape[1])
        if bits != cfg.bits:
            raise RuntimeError(f"experiment returned {bits}-bit codes for a {cfg.bits}-bit configuration")
        hist = plots.hamming_distance_histogram(
            result.codes["test"], result.labels["test"], title=f"{cfg.method}, {bits} bits: test-set pairs"
        )
        self.figures = {"hamming": hist}
        header = f"Bit length: {bits} ({cfg.method} on {cfg.dataset}/{cfg.backbone}; test queries vs train database)"
        return [stream_output(header), table_output(metrics_frame(result)), figure_output(hist)]
