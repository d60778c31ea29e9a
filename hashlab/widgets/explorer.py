"""The experiment explorers: train one hash head through ``hashlab.experiment.run`` and redraw its results.

- :class:`ExperimentExplorer`: dataset / backbone / method dropdowns (offering only what is available here:
  :func:`available_offline`), bit-length slider, margin slider (enabled only for losses with a ``margin``), epochs
  and a Train button; shows the metric table, the Hamming distance histogram and the Hamming-KNN confusion matrix,
  and a history table of all runs so settings can be compared side by side.
- :class:`BitLengthExplorer`: the quickstart's bit-length slider; releasing it retrains at the new length and redraws
  the printed bit length, the metric table and a Hamming histogram.

Both run the same code path as notebooks and the CLI (``experiment.run``). Embeddings are loaded once per
(dataset, backbone) and kept in memory (:func:`cached_embeddings`), so a click only trains the small hash head.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets
import numpy as np
import pandas as pd
import pytorch_lightning as pl

from hashlab.widgets.base import HashlabWidget, figure_output, stream_output, table_output

if TYPE_CHECKING:  # pragma: no cover
    from hashlab.experiment import ExperimentResult
    from hashlab.features import EmbeddingSet

__all__ = [
    "BitLengthExplorer",
    "ExperimentExplorer",
    "OfflineChoices",
    "available_offline",
    "cached_embeddings",
    "clear_embedding_cache",
    "loss_margin",
    "metrics_frame",
]

_EMBEDDINGS: dict[tuple[str, str], EmbeddingSet] = {}


# ------------------------------------------------------------------------------------ what is on disk here
@dataclass
class OfflineChoices:
    """Datasets (name -> folder holding its file, None when no file is needed) and backbones usable offline."""

    datasets: dict[str, Path | None] = field(default_factory=dict)
    backbones: list[str] = field(default_factory=list)


MAX_EPOCHS = 500
"""Upper bound of the explorer's epochs box (a value beyond it is refused, never clamped)."""


def _medmnist_roots() -> list[Path]:
    """Where MedMNIST files are looked for: this project's data folder, then a shared read-only copy beside the
    repository (the same search notebook 01 uses)."""
    from hashlab.config import REPO_ROOT, data_dir

    return [data_dir() / "medmnist", REPO_ROOT.parent / "shared" / "data" / "medmnist"]


def _weights_on_disk(backbone: str) -> bool:
    import torch

    checkpoints = Path(torch.hub.get_dir()) / "checkpoints"
    if backbone == "vit_b_16":
        from torchvision.models import ViT_B_16_Weights

        return (checkpoints / os.path.basename(ViT_B_16_Weights.IMAGENET1K_V1.url)).is_file()
    if backbone == "dinov2_vitb14":
        from hashlab.features import DINOV2_URL

        code = Path(torch.hub.get_dir()) / "facebookresearch_dinov2_main"
        return code.is_dir() and (checkpoints / os.path.basename(DINOV2_URL)).is_file()
    return False


def _cached_features(dataset: str, backbone: str, size: int) -> bool:
    from hashlab.features import cache_path

    try:
        return all(
            cache_path(dataset, backbone, size, "default", s).is_file() for s in ("train", "val", "test")
        )
    except (KeyError, ValueError):
        return False


def available_offline(size: int = 28) -> OfflineChoices:
    """The datasets and backbones the explorer can use on this machine without a download.

    Datasets: every name for which :func:`hashlab.data.available_offline` finds the files (``digits`` always), a
    MedMNIST flag also when its file is in the shared copy beside the repository (the same search notebook 01 uses),
    and any dataset whose features are already cached. Backbones: ``pixels``, and each network whose pretrained
    weights are in the torch hub cache (or whose features are cached).
    """
    from hashlab import data
    from hashlab.features import available_backbones

    flags = set(data.medmnist_flags())
    datasets: dict[str, Path | None] = {}
    for name in data.available_datasets():
        if data.available_offline(name, size):
            datasets[name] = None
        elif name in flags:
            for root in _medmnist_roots()[1:]:
                if data.available_offline(name, size, root=root):
                    datasets[name] = root
                    break
    backbones = ["pixels"] + [b for b in available_backbones() if b != "pixels" and _weights_on_disk(b)]
    for name in data.available_datasets():
        for backbone in available_backbones():
            if _cached_features(name, backbone, size):
                datasets.setdefault(name, None)
                if backbone not in backbones:
                    backbones.append(backbone)
    ordered = {n: datasets[n] for n in data.available_datasets() if n in datasets}
    return OfflineChoices(ordered, [b for b in available_backbones() if b in backbones])


def cached_embeddings(dataset: str, backbone: str, root: str | os.PathLike | None = None) -> EmbeddingSet:
    """``hashlab.features.get_embeddings(dataset, backbone, root=root)``, loaded once per process, kept in memory."""
    key = (dataset, backbone)
    if key not in _EMBEDDINGS:
        from hashlab.features import get_embeddings

        _EMBEDDINGS[key] = get_embeddings(dataset, backbone, root=root)
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


def metrics_frame(result: ExperimentResult) -> pd.DataFrame:
    """One-row table of a result's test metrics (test queries vs train database), indexed by method and bits."""
    cfg = result.config
    row = {k: float(v) for k, v in result.metrics.items()}
    row["train_s"] = float(getattr(result, "train_seconds", float("nan")))
    return pd.DataFrame(
        [row], index=pd.MultiIndex.from_tuples([(cfg.method, cfg.bits)], names=["method", "bits"])
    )


class EpochProgress(pl.Callback):
    """Lightning callback that reports each finished training epoch to a widget's progress bar."""

    def __init__(self, widget: HashlabWidget) -> None:
        self.widget = widget

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        total = max(int(trainer.max_epochs or 1), 1)
        self.widget.report_progress(0, total, f"training: epoch 0/{total}")

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        total = self.widget.progress.max
        done = min(trainer.current_epoch + 1, total)
        self.widget.report_progress(done, total, f"training: epoch {done}/{total}")


# --------------------------------------------------------------------------------------------- shared base
class _TrainingWidget(HashlabWidget):
    """A :class:`HashlabWidget` whose work is one ``experiment.run`` on in-memory embeddings."""

    action = "training"

    def _config(self) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def _embeddings(self, config: Any) -> EmbeddingSet:  # pragma: no cover - abstract
        raise NotImplementedError

    def _compute(self) -> ExperimentResult:
        from hashlab import experiment  # looked up per call so a patched ``experiment.run`` is the one called

        config = self._config()
        self.status.value = "loading embeddings …"
        embeddings = self._embeddings(config)
        self.status.value = "training …"
        return experiment.run(config, embeddings=embeddings, callbacks=[EpochProgress(self)], progress=False)

    def _summary(self, result: ExperimentResult) -> str:
        return f"done: {result.config.method}, {result.config.bits} bits, run {self.runs}"

    def show_result(self, result: ExperimentResult) -> None:
        """Draw an already trained result (e.g. the notebook's own run) without retraining."""
        self._publish(result, self._render(result), "showing a given result")


# ------------------------------------------------------------------------------------ experiment explorer
class ExperimentExplorer(_TrainingWidget):
    """Pick dataset, backbone, method, bits (and margin where the loss has one), train, see metrics and plots.

    The dataset and backbone lists default to what is available here (:func:`available_offline`). A click calls
    ``hashlab.experiment.run`` on the in-memory embeddings of the selected (dataset, backbone)
    (:func:`cached_embeddings`). ``embeddings`` (optional, e.g. a subsample) is used instead whenever its
    (dataset, backbone) is the one selected; ``subsample`` then subsamples further. Every run adds a row to
    :attr:`history` (shown under the output).
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
        self.roots: dict[str, Path | None] = {}
        if datasets is None or backbones is None:
            offline = available_offline()
            self.roots = dict(offline.datasets)
            datasets = list(offline.datasets) if datasets is None else datasets
            backbones = offline.backbones if backbones is None else backbones
        datasets, backbones = list(datasets), list(backbones)
        if embeddings is not None:  # the given embeddings are available whatever is on disk
            datasets += [dataset] if dataset not in datasets else []
            backbones += [backbone] if backbone not in backbones else []
        methods = list(methods) if methods is not None else available_losses()
        for name, value, choices in (
            ("dataset", dataset, datasets),
            ("backbone", backbone, backbones),
            ("method", method, methods),
        ):
            if value not in choices:
                raise ValueError(f"unknown or unavailable {name} {value!r}; choose one of {list(choices)}")
        lo, hi, step = bit_range
        if not 1 <= lo <= bits <= hi:
            raise ValueError(f"bits={bits} must lie in bit_range [{lo}, {hi}]")
        if not 1 <= epochs <= MAX_EPOCHS:  # the epochs box would clamp silently otherwise
            raise ValueError(f"epochs must lie in [1, {MAX_EPOCHS}], got {epochs}")
        self.subsample, self.seed, self.batch_size = subsample, seed, batch_size
        self.lr, self.knn_k = lr, knn_k

        style = {"description_width": "80px"}
        self.dataset = widgets.Dropdown(options=datasets, value=dataset, description="dataset", style=style)
        self.backbone = widgets.Dropdown(
            options=backbones, value=backbone, description="backbone", style=style
        )
        self.method = widgets.Dropdown(options=methods, value=method, description="method", style=style)
        self.bits = widgets.IntSlider(
            value=bits, min=lo, max=hi, step=step, description="bits", continuous_update=False, style=style
        )
        self.margin = widgets.FloatSlider(
            value=0.0, min=0.0, max=1.0, step=0.01, description="margin", continuous_update=False, style=style
        )
        self.epochs = widgets.BoundedIntText(
            value=epochs, min=1, max=MAX_EPOCHS, description="epochs", style=style
        )
        self.train_button = self.button("Train")
        self.train_button.on_click(self._on_click)
        self.method.observe(self._on_method_change, names="value")
        # a margin's default may scale with L (DSH: 2L): the user's margin is rescaled with it, visibly
        self.bits.observe(self._on_bits_change, names="value")
        self._on_method_change()
        self._layout(
            widgets.HBox([self.dataset, self.backbone, self.method]),
            widgets.HBox([self.bits, self.margin, self.epochs]),
            widgets.HBox([self.train_button]),
            history=True,
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

    def _on_bits_change(self, change: Any = None) -> None:
        """Keep the user's margin across a bits change: unchanged if the loss's margin does not depend on L,
        rescaled by new/old default (said in the status line) if it does."""
        if not self.has_margin:
            self._on_method_change()
            return
        old_default, chosen = self._default_margin, float(self.margin.value)
        new_default = loss_margin(self.method.value, bits=self.bits.value)
        if new_default is None or not old_default or new_default == old_default:
            return
        scaled = chosen * new_default / old_default
        self._default_margin = new_default
        self.margin.max = max(4.0 * new_default, 1.0, scaled)
        self.margin.step = self.margin.max / 200
        self.margin.value = scaled
        self.margin.tooltip = (
            f"{self.method.value} margin (default {new_default:g} at {self.bits.value} bits)"
        )
        self.status.value = (
            f"margin rescaled with the code length: {chosen:g} at {change['old'] if change else '?'} bits "
            f"-> {scaled:g} at {self.bits.value} bits (the {self.method.value} margin is proportional to L)"
        )

    def _controls(self) -> Sequence[widgets.Widget]:
        return [self.dataset, self.backbone, self.method, self.bits, self.epochs, self.train_button]

    def set_busy(self, busy: bool, message: str = "") -> None:
        super().set_busy(busy, message)
        self.margin.disabled = busy or not self.has_margin

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
            embeddings = cached_embeddings(config.dataset, config.backbone, self.roots.get(config.dataset))
        if config.subsample is not None:  # run() subsamples only embeddings it loads itself
            embeddings = embeddings.subsample(*config.subsample, seed=config.seed)
        return embeddings

    def _history_row(self, result: ExperimentResult) -> dict[str, Any]:
        cfg = result.config
        row: dict[str, Any] = {
            "dataset": cfg.dataset,
            "backbone": cfg.backbone,
            "method": cfg.method,
            "bits": int(cfg.bits),
            "margin": float(cfg.loss_kwargs["margin"]) if "margin" in cfg.loss_kwargs else np.nan,
            "epochs": int(cfg.epochs),
        }
        row.update({k: float(v) for k, v in result.metrics.items()})
        return row

    def _render(self, result: ExperimentResult) -> list[dict[str, Any]]:
        from hashlab import metrics, viz

        cfg = result.config
        margin = f", margin {cfg.loss_kwargs['margin']:.3g}" if "margin" in cfg.loss_kwargs else ""
        header = (
            f"{cfg.method} | {cfg.bits} bits{margin} | {cfg.dataset} / {cfg.backbone} | {cfg.epochs} epochs | "
            f"test queries vs train database, Hamming KNN k={cfg.knn_k}"
        )
        test_codes, train_codes = result.codes["test"], result.codes["train"]
        test_labels, train_labels = np.asarray(result.labels["test"]), np.asarray(result.labels["train"])
        hist = viz.plot_hamming_histogram(
            test_codes, test_labels, title=f"{cfg.method}, {cfg.bits} bits: test-set pairs"
        )
        self.figures = {"hamming": hist}
        outputs = [stream_output(header), table_output(metrics_frame(result)), figure_output(hist)]
        if test_labels.ndim == 1:
            pred = metrics.knn_predict(test_codes, train_codes, train_labels, k=cfg.knn_k)
            n_classes = len(result.class_names)
            cm = viz.plot_confusion_matrix(
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
        self._layout(self.bits)

    def _on_bits_change(self, _change: Any = None) -> None:
        self.run(raise_errors=False)

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
        from hashlab import viz

        cfg = result.config
        bits = int(result.codes["test"].shape[1])
        if bits != cfg.bits:
            raise RuntimeError(f"experiment returned {bits}-bit codes for a {cfg.bits}-bit configuration")
        hist = viz.plot_hamming_histogram(
            result.codes["test"], result.labels["test"], title=f"{cfg.method}, {bits} bits: test-set pairs"
        )
        self.figures = {"hamming": hist}
        header = f"Bit length: {bits} ({cfg.method} on {cfg.dataset}/{cfg.backbone}; test queries vs train database)"
        return [stream_output(header), table_output(metrics_frame(result)), figure_output(hist)]
