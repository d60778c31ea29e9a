"""The configuration tree: every setting of a run, its one default, and the named presets.

A run is described by four small dataclasses, each deciding the defaults of its own fields and nothing else:

- :class:`DataConfig` — which images and features (dataset, backbone, image size, subsample);
- :class:`ModelConfig` — the hash head and its loss (method, bits, hidden widths, loss hyperparameters);
- :class:`TrainingConfig` — optimiser, epochs, batch size, seed, and where Lightning runs it (accelerator, devices,
  nodes, strategy, precision, threads);
- :class:`EvaluationConfig` — the retrieval protocol (KNN k, mAP cut-off, validation database size).

:class:`ExperimentConfig` holds one of each. It also accepts and exposes the fields by their flat names
(``ExperimentConfig(method="dsh", bits=24).bits``) because that is how notebooks, widgets and the CLI speak.

The presets (:data:`PRESETS`, :func:`preset`) are the only other place that names values: ``thesis`` (the default:
what ``hashlab train`` and ``hashlab reproduce`` run), ``quick`` (notebook cells and widgets), ``fast`` (the CI-sized
``reproduce --fast``), ``continual`` and ``federated`` (the many small models of those studies). The thesis states no
optimiser, learning rate, epochs, batch size, head or seed, so every training value below is hashlab's assumption,
listed in ``docs/assumptions.md``; the protocol values (KNN k = 7) are the thesis's.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field, fields
from typing import Any

from hashlab.checks import check_positive_int

PRECISIONS = (
    "32-true",
    "32",
    "16-mixed",
    "bf16-mixed",
    "16-true",
    "bf16-true",
    "64-true",
    "64",
    "transformer-engine",
)
ACCELERATORS = ("auto", "cpu", "gpu", "cuda", "mps", "tpu")


@dataclass
class DataConfig:
    """Which images and which features a run uses."""

    dataset: str = "digits"
    backbone: str = "pixels"
    size: int = 28
    subsample: tuple[int, int, int] | None = None

    def __post_init__(self) -> None:
        self.dataset = str(self.dataset).strip().lower()
        self.backbone = str(self.backbone).strip().lower()
        self.size = check_positive_int(self.size, "size")
        if self.subsample is not None:
            if len(self.subsample) != 3:
                raise ValueError(f"subsample needs three sizes (train, val, test), got {self.subsample!r}")
            self.subsample = tuple(
                check_positive_int(n, f"subsample[{s}]")
                for n, s in zip(self.subsample, ("train", "val", "test"), strict=True)
            )


@dataclass
class ModelConfig:
    """The hash head and the loss that trains it."""

    method: str = "dpsh"
    bits: int = 32
    hidden: tuple[int, ...] = (512,)
    loss_kwargs: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        from hashlab.heads import check_bits
        from hashlab.losses import available_losses

        self.method = str(self.method).strip().lower()
        if self.method not in available_losses():
            raise KeyError(f"unknown method {self.method!r}; available: {', '.join(available_losses())}")
        self.bits = check_bits(self.bits)
        if isinstance(self.hidden, int):
            self.hidden = (self.hidden,)
        self.hidden = tuple(check_positive_int(h, "hidden width") for h in self.hidden)
        if not isinstance(self.loss_kwargs, dict):
            raise ValueError(f"loss_kwargs must be a dict of loss hyperparameters, got {self.loss_kwargs!r}")
        self.loss_kwargs = dict(self.loss_kwargs)


@dataclass
class TrainingConfig:
    """How the head is optimised, and where Lightning runs it.

    ``accelerator``, ``devices``, ``num_nodes``, ``strategy`` and ``precision`` are passed to Lightning's
    ``Trainer`` unchanged (``strategy="ddp"``, ``devices=2`` trains on two processes); ``threads`` bounds torch's
    intra-op threads for the run (``None``: leave torch's setting alone).
    """

    epochs: int = 30
    batch_size: int = 128
    lr: float = 1e-3
    weight_decay: float = 1e-5
    seed: int = 0
    accelerator: str = "auto"
    devices: int | str = 1
    num_nodes: int = 1
    strategy: str = "auto"
    precision: str = "32-true"
    threads: int | None = None

    def __post_init__(self) -> None:
        import math

        self.epochs = check_positive_int(self.epochs, "epochs")
        self.batch_size = check_positive_int(self.batch_size, "batch_size")
        self.seed = check_positive_int(self.seed, "seed", minimum=0)
        if (
            isinstance(self.lr, bool)
            or not isinstance(self.lr, int | float)
            or not self.lr > 0
            or not math.isfinite(self.lr)
        ):
            raise ValueError(f"lr (learning rate) must be positive and finite, got {self.lr!r}")
        if not isinstance(self.weight_decay, int | float) or not self.weight_decay >= 0:
            raise ValueError(f"weight_decay must be >= 0, got {self.weight_decay!r}")
        self.accelerator = str(self.accelerator).lower()
        if self.accelerator not in ACCELERATORS:
            raise ValueError(
                f"unknown accelerator {self.accelerator!r}; choose one of {', '.join(ACCELERATORS)}"
            )
        if self.devices != "auto":
            self.devices = check_positive_int(self.devices, "devices")
        self.num_nodes = check_positive_int(self.num_nodes, "num_nodes")
        self.precision = str(self.precision)
        if self.precision not in PRECISIONS:
            raise ValueError(f"unknown precision {self.precision!r}; choose one of {', '.join(PRECISIONS)}")
        self.strategy = str(self.strategy).lower()
        if self.threads is not None:
            self.threads = check_positive_int(self.threads, "threads")

    @property
    def distributed(self) -> bool:
        """True when the run spans more than one process."""
        return self.num_nodes > 1 or (self.devices != "auto" and int(self.devices) > 1)


@dataclass
class EvaluationConfig:
    """The retrieval protocol: test queries against the training database, selection on validation queries.

    ``map_k``: cut-off of mAP@k (``None``: the whole database); it is clipped to the database size when the database
    is smaller. ``val_db_size``: validation queries are ranked against a fixed, seeded subsample of this many
    training items during training (``None``: all of them).
    """

    knn_k: int = 7
    map_k: int | None = 100
    val_db_size: int | None = 5000

    def __post_init__(self) -> None:
        self.knn_k = check_positive_int(self.knn_k, "knn_k")
        if self.map_k is not None:
            self.map_k = check_positive_int(self.map_k, "map_k")
        if self.val_db_size is not None:
            self.val_db_size = check_positive_int(self.val_db_size, "val_db_size")


SECTIONS: dict[str, type] = {
    "data": DataConfig,
    "model": ModelConfig,
    "training": TrainingConfig,
    "evaluation": EvaluationConfig,
}
FLAT_FIELDS: dict[str, str] = {f.name: section for section, cls in SECTIONS.items() for f in fields(cls)}
"""Every flat setting name and the section that owns it (``{"bits": "model", "epochs": "training", ...}``)."""


@dataclass(init=False)
class ExperimentConfig:
    """One run: a data, model, training and evaluation section.

    Build it from sections, from flat names, or both (flat names override the sections' values)::

        ExperimentConfig(method="dsh", bits=24, epochs=10)
        ExperimentConfig(model=ModelConfig(method="dsh"), training=preset("quick").training)
        preset("thesis", method="hashnet", bits=48)
    """

    data: DataConfig
    model: ModelConfig
    training: TrainingConfig
    evaluation: EvaluationConfig

    def __init__(
        self,
        data: DataConfig | None = None,
        model: ModelConfig | None = None,
        training: TrainingConfig | None = None,
        evaluation: EvaluationConfig | None = None,
        **flat: Any,
    ) -> None:
        unknown = sorted(set(flat) - set(FLAT_FIELDS))
        if unknown:
            raise TypeError(
                f"unknown setting(s) {', '.join(unknown)}; known: {', '.join(sorted(FLAT_FIELDS))}"
            )
        given = {"data": data, "model": model, "training": training, "evaluation": evaluation}
        for section, cls in SECTIONS.items():
            base = given[section] if given[section] is not None else cls()
            changes = {k: v for k, v in flat.items() if FLAT_FIELDS[k] == section}
            object.__setattr__(self, section, dataclasses.replace(base, **changes) if changes else base)

    def __getattr__(self, name: str) -> Any:
        section = FLAT_FIELDS.get(name)
        if section is None:
            raise AttributeError(f"{type(self).__name__} has no setting {name!r}")
        return getattr(object.__getattribute__(self, section), name)

    def __setattr__(self, name: str, value: Any) -> None:
        if name in SECTIONS:
            object.__setattr__(self, name, value)
        elif name in FLAT_FIELDS:
            section = getattr(self, FLAT_FIELDS[name])
            object.__setattr__(self, FLAT_FIELDS[name], dataclasses.replace(section, **{name: value}))
        else:
            raise AttributeError(f"{type(self).__name__} has no setting {name!r}")

    def replace(self, **changes: Any) -> ExperimentConfig:
        """A copy with some settings changed, by flat name or by section."""
        sections = {k: changes.pop(k) for k in list(changes) if k in SECTIONS}
        current = {s: sections.get(s, getattr(self, s)) for s in SECTIONS}
        return ExperimentConfig(**current, **changes)

    def to_dict(self) -> dict[str, Any]:
        """The resolved settings as one flat dict (what results and provenance record)."""
        out: dict[str, Any] = {}
        for section in SECTIONS:
            out.update(dataclasses.asdict(getattr(self, section)))
        return out

    def to_tree(self) -> dict[str, dict[str, Any]]:
        """The resolved settings by section."""
        return {section: dataclasses.asdict(getattr(self, section)) for section in SECTIONS}

    def describe(self) -> str:
        """The resolved configuration as aligned ``section.name = value`` lines (printed by every entry point)."""
        lines = []
        for section, values in self.to_tree().items():
            for name, value in values.items():
                lines.append(f"{section + '.' + name:<24} = {value!r}")
        return "\n".join(lines)


PRESETS: dict[str, dict[str, Any]] = {
    # the default of ExperimentConfig(): what `hashlab train` and `hashlab reproduce` run
    "thesis": {},
    # notebook cells and widgets: a few seconds per model on a laptop CPU
    "quick": {"epochs": 10, "batch_size": 128, "hidden": (256,), "threads": 1},
    # `hashlab reproduce --fast` (CI): digits with pixel features, a few epochs
    "fast": {"epochs": 3, "batch_size": 128, "lr": 3e-3, "hidden": (128,)},
    # continual hashing: many small updates, one thread each (equal epochs for every strategy)
    "continual": {"epochs": 20, "batch_size": 64, "hidden": (256,), "threads": 1, "map_k": None},
    # the convolutional autoencoder of semantic hashing (its training settings; tuned for minutes on a CPU)
    "autoencoder": {"epochs": 20, "batch_size": 64, "lr": 3e-3, "weight_decay": 0.0, "threads": 1},
    # federated hashing: local training on small clients
    "federated": {"method": "dsh", "epochs": 1, "batch_size": 64, "hidden": (256,), "map_k": None},
}
"""Named presets as differences from the defaults of the four sections."""


def preset(name: str, **overrides: Any) -> ExperimentConfig:
    """The named preset, with flat overrides (``preset("quick", method="dsh", bits=24)``)."""
    key = str(name).strip().lower()
    if key not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
    return ExperimentConfig(**{**PRESETS[key], **overrides})


def defaults() -> dict[str, Any]:
    """Every setting's one default, by flat name (read by the CLI to generate its options)."""
    return ExperimentConfig().to_dict()
