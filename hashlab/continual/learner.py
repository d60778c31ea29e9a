"""Run a task stream through one update strategy and record what the continual metrics need.

:func:`train_base` trains the model on task 0 (shared by every strategy, so they start from the same codes).
:func:`run_stream` then, for each later task: asks the strategy for an :class:`UpdatePlan`, trains it with
Lightning (``hashlab.training.fit_arrays``: the same loop as every other hashlab run), measures code stability (how many
stored codes the updated model would change), back-fills the :class:`VersionedIndex` (swap only after success),
and evaluates the row ``R[t, :]`` of the mAP matrix - queries = test items of each task, database = the stored
codes of every training item seen so far (hashlab's protocol: database = train split, queries = test split).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytorch_lightning as pl

from hashlab.config import seed_everything, torch_threads
from hashlab.continual.metrics import UpdateCost, average_forgetting, backward_transfer, code_stability
from hashlab.continual.strategies import Strategy, UpdatePlan
from hashlab.continual.stream import ClassIncrementalStream, Task
from hashlab.continual.versioned_index import SwapReport, VersionedIndex, check_model_bits
from hashlab.metrics import mean_average_precision
from hashlab.module import HashingModule
from hashlab.settings import ExperimentConfig, preset
from hashlab.training import fit_arrays

__all__ = [
    "BaseModel",
    "ContinualConfig",
    "ContinualResult",
    "ContinualState",
    "GradientCounter",
    "run_stream",
    "train_base",
]


_PRESET = preset("continual").to_dict()


@dataclass
class ContinualConfig:
    """Model and training settings shared by every update (equal epochs for every strategy).

    Defaults are the ``continual`` preset of :mod:`hashlab.settings` (one place decides them).
    """

    bits: int = _PRESET["bits"]
    method: str = _PRESET["method"]
    hidden: tuple[int, ...] = _PRESET["hidden"]
    epochs: int = _PRESET["epochs"]
    batch_size: int = _PRESET["batch_size"]
    lr: float = _PRESET["lr"]
    weight_decay: float = _PRESET["weight_decay"]
    seed: int = _PRESET["seed"]
    loss_kwargs: dict[str, Any] = field(default_factory=dict)
    threads: int | None = _PRESET["threads"]

    def __post_init__(self) -> None:
        if self.batch_size < 2:
            raise ValueError(
                f"batch_size must be >= 2 (pairs are formed inside a batch), got {self.batch_size}"
            )
        self.experiment()  # validates every setting with the configuration tree's checks

    def experiment(self) -> ExperimentConfig:
        """These settings as an :class:`~hashlab.settings.ExperimentConfig` (the ``continual`` preset, changed)."""
        return preset(
            "continual",
            bits=self.bits,
            method=self.method,
            hidden=tuple(self.hidden),
            epochs=self.epochs,
            batch_size=self.batch_size,
            lr=self.lr,
            weight_decay=self.weight_decay,
            seed=self.seed,
            loss_kwargs=dict(self.loss_kwargs),
            threads=self.threads,
        )


class GradientCounter(pl.Callback):
    """Counts sample-gradient evaluations: the number of training items pushed through backward."""

    def __init__(self) -> None:
        self.count = 0

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.count += len(batch[0])


def _new_module(
    stream: ClassIncrementalStream, config: ContinualConfig, bits: int | None = None
) -> HashingModule:
    experiment = config.experiment()
    if bits is not None:
        experiment = experiment.replace(bits=bits)
    return HashingModule.from_config(experiment, in_dim=stream.in_dim, n_classes=stream.n_classes, map_k=None)


def _fit(
    model: HashingModule,
    x: np.ndarray,
    y: np.ndarray,
    config: ContinualConfig,
    val: tuple,
    extra=(),
    callbacks=(),
) -> UpdateCost:
    """Train ``model`` on (x, y) with the extra loss terms (no validation: ``val`` is unused); returns the cost."""
    if len(x) == 0:
        raise ValueError("an update has no training items")
    counter = GradientCounter()
    saved_terms = list(model.extra_loss_terms)
    model.extra_loss_terms = [*saved_terms, *extra]
    model.reset_prepared()  # a new training set: let the loss prepare per-item state again
    try:
        _, seconds, _ = fit_arrays(model, x, y, config.experiment().training, callbacks=[counter, *callbacks])
    finally:
        model.extra_loss_terms = saved_terms
    model.eval()
    return UpdateCost(train_seconds=seconds, sample_gradients=counter.count)


@dataclass
class BaseModel:
    """The model trained on task 0 and its cost; every strategy starts from a copy."""

    model: HashingModule
    cost: UpdateCost
    config: ContinualConfig


def train_base(stream: ClassIncrementalStream, config: ContinualConfig) -> BaseModel:
    """Train a fresh seeded model on task 0."""
    seed_everything(config.seed)
    model = _new_module(stream, config)
    task = stream[0]
    cost = _fit(
        model,
        task.features["train"],
        task.labels["train"],
        config,
        (task.features["val"], task.labels["val"]),
    )
    return BaseModel(model, cost, config)


class ContinualState:
    """What a strategy may read: stream, config, current model, live index, database feature/label lookup."""

    def __init__(self, stream: ClassIncrementalStream, config: ContinualConfig, model: HashingModule):
        self.stream, self.config, self.model = stream, config, model
        self.index = VersionedIndex(model.bits)
        self._features = np.asarray(stream.embeddings.train.features, dtype=np.float32)
        self._labels = np.asarray(stream.embeddings.train.labels)
        self.t = 0

    def db_features(self, ids: np.ndarray) -> np.ndarray:
        return self._features[np.asarray(ids, dtype=np.int64)]

    def db_labels(self, ids: np.ndarray) -> np.ndarray:
        return self._labels[np.asarray(ids, dtype=np.int64)]

    def fresh_model(self, bits: int | None = None) -> HashingModule:
        seed_everything(self.config.seed + 1000 * (self.t + 1))
        return _new_module(self.stream, self.config, bits or self.model.bits)

    def clone_model(self) -> HashingModule:
        """A copy of the current model (same config and weights) to continue training."""
        clone = HashingModule(**self.model.config)
        clone.load_state_dict(self.model.state_dict())
        seed_everything(self.config.seed + 1000 * (self.t + 1))
        return clone

    def load_checkpoint(self, path: str | Path) -> HashingModule:
        """Load a saved model as the current one; ``ValueError`` if its bit length differs from the index."""
        model = HashingModule.load(path)
        check_model_bits(model, self.index.bits, "the live index")
        self.model = model
        return model


@dataclass
class ContinualResult:
    """Everything measured on one stream with one strategy."""

    strategy: str
    R: np.ndarray
    old_map: list[float]
    new_map: list[float]
    all_map: list[float]
    costs: list[UpdateCost]
    stability: list[dict[str, float]]
    swaps: list[SwapReport]
    tasks: list[tuple[int, ...]]
    state: ContinualState | None = field(default=None, repr=False)

    @property
    def forgetting(self) -> float:
        return average_forgetting(self.R)

    @property
    def bwt(self) -> float:
        return backward_transfer(self.R)

    def update_cost(self) -> UpdateCost:
        """Total cost of the updates (tasks 1..T), excluding the shared base training."""
        out = UpdateCost()
        for c in self.costs[1:]:
            out.train_seconds += c.train_seconds
            out.sample_gradients += c.sample_gradients
            out.encoded_items += c.encoded_items
            out.encode_seconds += c.encode_seconds
        return out

    def summary(self) -> dict[str, Any]:
        cost = self.update_cost()
        stab = [s for s in self.stability[1:]]
        return {
            "strategy": self.strategy,
            "final_all_map": round(self.all_map[-1], 4),
            "final_old_map": round(self.old_map[-1], 4),
            "final_new_map": round(self.new_map[-1], 4),
            "forgetting": round(self.forgetting, 4),
            "bwt": round(self.bwt, 4),
            "train_s": round(cost.train_seconds, 3),
            "sample_grads": cost.sample_gradients,
            "reencoded": int(sum(s.n_rewritten for s in self.swaps[1:])),
            "codes_changed": round(float(np.mean([s["fraction_changed"] for s in stab])) if stab else 0.0, 4),
            "bit_flips": round(float(np.mean([s["mean_bit_flips"] for s in stab])) if stab else 0.0, 3),
        }


def _map(model: HashingModule, x: np.ndarray, y: np.ndarray, state: ContinualState) -> float:
    db_ids = state.index.ids
    return float(mean_average_precision(model.encode(x), state.index.codes, y, state.db_labels(db_ids)))


def _evaluate_row(state: ContinualState, t: int, r: np.ndarray) -> tuple[float, float, float]:
    stream, model = state.stream, state.model
    for j in range(t + 1):
        task = stream[j]
        r[t, j] = _map(model, task.features["test"], task.labels["test"], state)
    _, x_all, y_all = stream.accumulated(t, "test")
    all_map = _map(model, x_all, y_all, state)
    new_map = float(r[t, t])
    if t == 0:
        return all_map, all_map, new_map
    _, x_old, y_old = stream.accumulated(t - 1, "test")
    return _map(model, x_old, y_old, state), all_map, new_map


def _apply(state: ContinualState, plan: UpdatePlan, task: Task) -> tuple[SwapReport, UpdateCost]:
    """Back-fill the index for the trained plan (atomic swap); returns the swap report and encoding cost."""
    model = plan.model
    start = time.perf_counter()
    new_codes = model.encode(task.features["train"])
    old_ids = np.array(state.index.ids)
    if plan.backfill == "frozen":
        check_model_bits(model, state.index.bits)
        report = state.index.update(add_ids=task.ids["train"], add_codes=new_codes)
    elif plan.backfill in ("reencode", "extend"):
        report = state.index.update(
            add_ids=task.ids["train"],
            add_codes=new_codes,
            encoder=model.encode,
            features=state.db_features(old_ids),
            reencode_ids=old_ids,
        )
    else:
        raise ValueError(f"unknown backfill {plan.backfill!r}")
    seconds = time.perf_counter() - start
    return report, UpdateCost(encoded_items=report.n_added + report.n_encoded, encode_seconds=seconds)


def run_stream(
    stream: ClassIncrementalStream,
    strategy: Strategy,
    config: ContinualConfig | None = None,
    base: BaseModel | None = None,
) -> ContinualResult:
    """Run every task of ``stream`` through ``strategy``; see the module docstring."""
    if base is None:
        base = train_base(stream, config or ContinualConfig())
    with torch_threads(base.config.threads):
        return _run_stream(stream, strategy, base)


def _run_stream(stream: ClassIncrementalStream, strategy: Strategy, base: BaseModel) -> ContinualResult:
    config = base.config
    state = ContinualState(stream, config, HashingModule(**base.model.config))
    state.model.load_state_dict(base.model.state_dict())
    state.model.eval()
    first = stream[0]
    start = time.perf_counter()
    swap = state.index.update(
        add_ids=first.ids["train"], add_codes=state.model.encode(first.features["train"])
    )
    cost0 = UpdateCost(
        base.cost.train_seconds, base.cost.sample_gradients, swap.n_added, time.perf_counter() - start
    )
    n = len(stream)
    r = np.full((n, n), np.nan)
    old_map, all_map, new_map = (list(v) for v in zip(_evaluate_row(state, 0, r), strict=True))
    costs, stability, swaps = [cost0], [code_stability(state.index.codes, state.index.codes)], [swap]
    strategy.start(state, first)
    for t in range(1, n):
        task = stream[t]
        state.t = t
        plan = strategy.plan(state, task)
        _, x_val, y_val = stream.accumulated(t, "val")
        cost = _fit(
            plan.model, plan.features, plan.labels, config, (x_val, y_val), plan.terms, plan.callbacks
        )
        old_ids = np.array(state.index.ids)
        stability.append(code_stability(state.index.codes, plan.model.encode(state.db_features(old_ids))))
        swap, enc = _apply(state, plan, task)
        cost.encoded_items, cost.encode_seconds = enc.encoded_items, enc.encode_seconds
        state.model = plan.model
        strategy.after_update(state, task)
        o, a, nw = _evaluate_row(state, t, r)
        old_map.append(o)
        all_map.append(a)
        new_map.append(nw)
        costs.append(cost)
        swaps.append(swap)
    return ContinualResult(
        strategy.label,
        r,
        old_map,
        new_map,
        all_map,
        costs,
        stability,
        swaps,
        [task.classes for task in stream],
        state,
    )
