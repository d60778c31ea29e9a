"""Update strategies for a hash model facing new classes; all train the same :class:`~hashlab.module.HashingModule`.

Each strategy turns "task ``t`` arrived" into an :class:`UpdatePlan`: which model to train (a fresh one or the
current one continued), on which items, with which extra loss terms (``HashingModule.extra_loss_terms``) and
callbacks, and how the database is back-filled afterwards:

* ``frozen``   - stored codes are kept as they are; only the new items are encoded (no re-hashing);
* ``reencode`` - the updated model re-encodes the stored items; only those whose code changed are rewritten;
* ``extend``   - code extension: legacy bits stay, the extra bits of stored items are computed by a forward pass.

Strategies (Crawford & Ahuja, undated preprint, §3; Xu et al. 2023; the docstring of each class gives the loss):
``naive`` fine-tune on the new task; ``full`` retrain from scratch on everything so far (upper bound, cost
reference); ``replay`` with a class-balanced reservoir; ``structured`` replay of prototypes + boundary items;
``distill`` code distillation with the asymmetric lifelong loss against the frozen stored codes; ``lwf`` output
distillation; ``extend`` extra bits with frozen legacy bits.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import pytorch_lightning as pl
import torch

from hashlab.continual.loss_terms import AsymmetricCodeTerm, TargetTerm
from hashlab.continual.replay import ClassBalancedReservoir, check_buffer_size, structure_aware_selection

if TYPE_CHECKING:
    from hashlab.continual.learner import ContinualState
    from hashlab.continual.stream import Task

__all__ = [
    "STRATEGIES",
    "CodeDistillation",
    "CodeExtension",
    "FullRetrain",
    "LwF",
    "NaiveFinetune",
    "Replay",
    "Strategy",
    "StructuredReplay",
    "UpdatePlan",
    "get_strategy",
]

BACKFILLS = ("frozen", "reencode")


@dataclass
class UpdatePlan:
    """What one update trains: model, training rows (database ids, features, labels), terms, callbacks, backfill."""

    model: Any
    ids: np.ndarray
    features: np.ndarray
    labels: np.ndarray
    terms: list = field(default_factory=list)
    callbacks: list = field(default_factory=list)
    backfill: str = "frozen"


class Strategy:
    """Base class: subclasses implement :meth:`plan`; :meth:`start` / :meth:`after_update` keep their memory."""

    name: ClassVar[str] = "base"
    default_backfill: ClassVar[str] = "frozen"

    def __init__(self, backfill: str | None = None):
        backfill = backfill or self.default_backfill
        if backfill not in BACKFILLS:
            raise ValueError(f"backfill must be one of {BACKFILLS}, got {backfill!r}")
        self.backfill = backfill

    @property
    def label(self) -> str:
        return self.name

    def start(self, state: ContinualState, task: Task) -> None:
        """Called once after the base task is trained and indexed."""

    def plan(self, state: ContinualState, task: Task) -> UpdatePlan:
        raise NotImplementedError

    def after_update(self, state: ContinualState, task: Task) -> None:
        """Called after the update is trained and the index swapped."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.label})"


class NaiveFinetune(Strategy):
    """Continue training the current model on the new task only (the lower bound)."""

    name = "naive"

    def plan(self, state: ContinualState, task: Task) -> UpdatePlan:
        return UpdatePlan(
            state.clone_model(),
            task.ids["train"],
            task.features["train"],
            task.labels["train"],
            backfill=self.backfill,
        )


class FullRetrain(Strategy):
    """Train a fresh model on all data so far and re-hash the whole database (the upper bound and cost reference)."""

    name = "full"
    default_backfill = "reencode"

    def plan(self, state: ContinualState, task: Task) -> UpdatePlan:
        ids, x, y = state.stream.accumulated(task.index)
        return UpdatePlan(state.fresh_model(), ids, x, y, backfill=self.backfill)


class _BufferMixin:
    memory: int

    def _check_memory(self, state: ContinualState, task: Task) -> None:
        check_buffer_size(self.memory, task.size("train"))

    def _with_buffer(self, state: ContinualState, task: Task, buffer_ids: np.ndarray):
        ids = np.concatenate([task.ids["train"], buffer_ids])
        x = np.concatenate([task.features["train"], state.db_features(buffer_ids)])
        y = np.concatenate([task.labels["train"], state.db_labels(buffer_ids)])
        is_buffer = np.r_[np.zeros(task.size("train"), bool), np.ones(len(buffer_ids), bool)]
        return ids, x, y, is_buffer


class Replay(_BufferMixin, Strategy):
    """Fine-tune on the new task plus a class-balanced reservoir of ``memory`` past items (Algorithm R per class)."""

    name = "replay"
    default_backfill = "reencode"

    def __init__(self, memory: int = 100, seed: int = 0, backfill: str | None = None):
        super().__init__(backfill)
        self.memory, self.seed = check_buffer_size(memory, memory), seed

    @property
    def label(self) -> str:
        return f"{self.name}({self.memory})"

    def start(self, state: ContinualState, task: Task) -> None:
        self._check_memory(state, task)
        self.buffer = ClassBalancedReservoir(self.memory, seed=self.seed).update(
            task.ids["train"], task.labels["train"]
        )

    def buffer_ids(self) -> np.ndarray:
        return self.buffer.ids()

    def plan(self, state: ContinualState, task: Task) -> UpdatePlan:
        ids, x, y, _ = self._with_buffer(state, task, self.buffer_ids())
        return UpdatePlan(state.clone_model(), ids, x, y, backfill=self.backfill)

    def after_update(self, state: ContinualState, task: Task) -> None:
        self.buffer.update(task.ids["train"], task.labels["train"])


class StructuredReplay(Replay):
    """Replay of class prototypes (iCaRL herding) + boundary items (largest ambiguity), selected in code space.

    After each task the buffer is re-selected from (buffer ∪ new task) on the model's relaxed codes, with equal
    per-class quotas; ``boundary_fraction`` of each quota goes to boundary items.
    """

    name = "structured"

    def __init__(
        self, memory: int = 100, boundary_fraction: float = 0.5, seed: int = 0, backfill: str | None = None
    ):
        super().__init__(memory, seed, backfill)
        self.boundary_fraction = boundary_fraction

    def _select(self, state: ContinualState, pool: np.ndarray) -> None:
        with torch.no_grad():
            state.model.eval()
            u = state.model(torch.as_tensor(state.db_features(pool), dtype=torch.float32)).numpy()
        sel = structure_aware_selection(u, state.db_labels(pool), self.memory, self.boundary_fraction)
        self._ids = np.sort(pool[sel["all"]])
        self.selection = {k: pool[v] for k, v in sel.items()}

    def start(self, state: ContinualState, task: Task) -> None:
        self._check_memory(state, task)
        self._select(state, task.ids["train"])

    def buffer_ids(self) -> np.ndarray:
        return self._ids

    def after_update(self, state: ContinualState, task: Task) -> None:
        self._select(state, np.concatenate([self._ids, task.ids["train"]]))


class CodeDistillation(Replay):
    """Lifelong code distillation (hashlab's reading of Xu et al. 2023): stored codes frozen, never re-hashed.

    Trains the current model on the new task (+ a small reservoir of ``memory`` past items, 0 allowed) with
    ``L = L_method(batch) + gamma * mean (u_iᵀ b_j / k - s_ij)² + lambda * mean_{i in buffer} ||u_i - b_i||² / k``:
    the asymmetric term ties new codes to the frozen database codes ``b_j`` (similar -> same code, dissimilar ->
    ``dissimilar``); the pinning term keeps replayed items on their stored codes so old-class queries still land
    near them. Backfill is ``frozen``: stored codes are bit-identical after the update.

    Defaults (``memory=50, gamma=2, weight=0.3``) were picked by all-class mAP on the *validation* split of the
    digits 0-4 / 5-7 / 8-9 stream over gamma in {0.5, 1, 2} x weight in {0.1, 0.3, 1} (32 bits, 10 epochs).
    """

    name = "distill"
    default_backfill = "frozen"

    def __init__(
        self,
        memory: int = 50,
        gamma: float = 2.0,
        weight: float = 0.3,
        dissimilar: float = 0.0,
        seed: int = 0,
        backfill: str | None = None,
    ):
        super().__init__(memory, seed, backfill)
        if gamma < 0 or weight < 0:
            raise ValueError(f"distillation weights must be >= 0, got gamma={gamma}, weight={weight}")
        self.gamma, self.weight, self.dissimilar = float(gamma), float(weight), float(dissimilar)

    @property
    def label(self) -> str:
        return f"{self.name}(m={self.memory},w={self.weight:g})"

    def start(self, state: ContinualState, task: Task) -> None:
        self._check_memory(state, task)
        self.buffer = ClassBalancedReservoir(self.memory, seed=self.seed)
        if self.memory:
            self.buffer.update(task.ids["train"], task.labels["train"])

    def plan(self, state: ContinualState, task: Task) -> UpdatePlan:
        buf = self.buffer_ids()
        ids, x, y, is_buffer = self._with_buffer(state, task, buf)
        terms = []
        if self.gamma > 0:
            old_labels = state.db_labels(state.index.ids)
            terms.append(
                AsymmetricCodeTerm(
                    state.index.codes, old_labels, self.gamma, self.dissimilar, seed=self.seed + task.index
                )
            )
        if self.weight > 0 and len(buf):
            targets = np.zeros((len(ids), state.index.bits), np.float32)
            targets[is_buffer] = state.index.codes_for(buf)
            terms.append(TargetTerm(targets, self.weight, mask=is_buffer, name="pin"))
        return UpdatePlan(state.clone_model(), ids, x, y, terms=terms, backfill=self.backfill)

    def after_update(self, state: ContinualState, task: Task) -> None:
        if self.memory:
            self.buffer.update(task.ids["train"], task.labels["train"])


class LwF(Strategy):
    """Learning without forgetting on hash outputs (Li & Hoiem 2016, as Crawford & Ahuja, undated preprint, §3, propose).

    ``L = L_method(new task) + lambda * mean_i ||u_i - u_old(x_i)||² / k`` with ``u_old`` the relaxed codes of the
    model before the update (no stored past data). Backfill ``reencode`` by default.
    """

    name = "lwf"
    default_backfill = "reencode"

    def __init__(self, weight: float = 1.0, backfill: str | None = None):
        super().__init__(backfill)
        if weight < 0:
            raise ValueError(f"distillation weight must be >= 0, got {weight}")
        self.weight = float(weight)

    @property
    def label(self) -> str:
        return f"{self.name}(w={self.weight:g})"

    def plan(self, state: ContinualState, task: Task) -> UpdatePlan:
        x = task.features["train"]
        with torch.no_grad():
            state.model.eval()
            old = state.model(torch.as_tensor(x, dtype=torch.float32)).numpy()
        terms = [TargetTerm(old, self.weight, name="lwf")] if self.weight > 0 else []
        return UpdatePlan(
            state.clone_model(),
            task.ids["train"],
            x,
            task.labels["train"],
            terms=terms,
            backfill=self.backfill,
        )


class _RestoreRows(pl.Callback):
    """Hard freeze of legacy bits: after every optimiser step, copy the saved legacy rows back (weight decay too)."""

    def __init__(self, params: dict[str, tuple[torch.nn.Parameter, torch.Tensor]]):
        self.params = params

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        with torch.no_grad():
            for p, saved in self.params.values():
                p[: len(saved)] = saved


class CodeExtension(Strategy):
    """Hash-code extension (Crawford & Ahuja, undated preprint, §3): ``extra_bits`` new bits per task; legacy bits frozen or regularised.

    The new model has ``k + extra_bits`` outputs; every weight is copied from the current model, the new output
    rows are initialised fresh. ``mode="hard"``: only the new output rows train (the rest of the network is frozen
    and the legacy rows restored after each step), so the legacy bits of every input are bit-identical.
    ``mode="soft"``: everything trains, with ``L = L_method + lambda * mean_i ||u_i[:k] - u_old(x_i)||² / k`` on the
    legacy bits. Stored items get their extra bits (and, in soft mode, possibly changed legacy bits) from one
    forward pass (backfill ``extend``). ``bits`` must stay a multiple of 8 for the index.
    """

    name = "extend"
    default_backfill = "frozen"

    def __init__(self, extra_bits: int = 16, mode: str = "hard", weight: float = 1.0):
        super().__init__("frozen")
        if extra_bits < 8 or extra_bits % 8:
            raise ValueError(f"extra_bits must be a positive multiple of 8, got {extra_bits}")
        if mode not in ("hard", "soft"):
            raise ValueError(f"mode must be 'hard' or 'soft', got {mode!r}")
        if weight < 0:
            raise ValueError(f"legacy-bit weight must be >= 0, got {weight}")
        self.extra_bits, self.mode, self.weight = int(extra_bits), mode, float(weight)
        self.backfill = "extend"

    @property
    def label(self) -> str:
        return f"{self.name}(+{self.extra_bits}{', soft' if self.mode == 'soft' else ''})"

    def plan(self, state: ContinualState, task: Task) -> UpdatePlan:
        old = state.model
        new = state.fresh_model(bits=old.bits + self.extra_bits)
        old_state, frozen_rows = old.state_dict(), {}
        hard = self.mode == "hard"
        with torch.no_grad():
            for name, p in new.named_parameters():
                src = old_state[name]
                if src.shape == p.shape:
                    p.copy_(src)
                    p.requires_grad_(not hard)
                elif src.shape[1:] == p.shape[1:] and src.shape[0] == old.bits:
                    p[: old.bits] = src
                    frozen_rows[name] = (p, src.clone())
                else:
                    raise ValueError(
                        f"cannot extend parameter {name}: {tuple(src.shape)} -> {tuple(p.shape)}"
                    )
        if not frozen_rows:
            raise ValueError("found no output layer to extend")
        x = task.features["train"]
        terms, callbacks = [], []
        if hard:
            callbacks.append(_RestoreRows(frozen_rows))
        elif self.weight > 0:
            with torch.no_grad():
                old.eval()
                legacy = old(torch.as_tensor(x, dtype=torch.float32)).numpy()
            terms.append(TargetTerm(legacy, self.weight, name="legacy"))
        return UpdatePlan(
            new,
            task.ids["train"],
            x,
            task.labels["train"],
            terms=terms,
            callbacks=callbacks,
            backfill="extend",
        )


STRATEGIES: dict[str, type[Strategy]] = {
    cls.name: cls
    for cls in (NaiveFinetune, FullRetrain, Replay, StructuredReplay, CodeDistillation, LwF, CodeExtension)
}


def get_strategy(name: str, **kwargs: Any) -> Strategy:
    """Build a strategy by name (``KeyError`` listing the names)."""
    if name not in STRATEGIES:
        raise KeyError(f"unknown strategy {name!r}; available: {', '.join(STRATEGIES)}")
    return STRATEGIES[name](**kwargs)
