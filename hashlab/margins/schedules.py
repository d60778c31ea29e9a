"""Margin schedules: pure schedule formulas plus thin Lightning callbacks that write ``loss.margin``.

A margin schedule sets the ``margin`` attribute of ``pl_module.loss`` (every hashlab loss with a margin exposes one:
DSH, triplet, DNNH, TCL, DSH-GAN ...) before each training step or epoch and logs it as ``"margin"``. A margin is a
non-negative scalar, a per-sample tensor ``(B,)`` or a per-pair tensor ``(B, B)``, in the loss's own units (for DSH:
squared Euclidean distance between relaxed codes, ``||u_i - u_j||^2 ~ 4 d_H``). With ``relative=True`` the schedule's
values are multipliers of the margin the loss had when training started, so one schedule fits every loss.

Formulas (``t`` = optimisation step, or epoch with ``interval="epoch"``):

- constant:        ``m(t) = m``
- linear warm-up:  ``m(t) = m0 + (m1 - m0) * min(t / T, 1)``
- cosine warm-up:  ``m(t) = m0 + (m1 - m0) * (1 - cos(pi * min(t / T, 1))) / 2``
- step:            ``m(t) = values[#{milestones <= t}]``
- margin-scalable (Yu, Wu, Dou & Bakker, "Deep hashing with self-supervised asymmetric semantic excavation and
  margin-scalable constraint", Neurocomputing 483, 2022): per-pair margins that shrink with the semantic similarity
  of the pair's labels, ``m_ij = m_min + (m_max - m_min) * (1 - s_ij)`` with ``s_ij = max(0, cos(l_i, l_j))`` for
  multi-hot labels (SADH's pair target ``theta_ij``, computed on the raw label vectors instead of LabNet codes). For
  single-label data ``s_ij = C[y_i, y_j]``, a class-similarity matrix; :func:`class_similarity_from_features` builds it
  from the cosine similarity of mean-centred class centroids of the training embeddings (confusable classes get
  smaller margins; ``C = I`` reduces to a fixed margin ``m_max`` on every dissimilar pair).
"""

from __future__ import annotations

import bisect
import math
import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch

from hashlab.checks import check_nonnegative
from hashlab.codes import label_similarity

__all__ = [
    "ConstantMargin",
    "CosineWarmup",
    "LinearWarmup",
    "MarginSchedule",
    "MarginScalable",
    "StepMargin",
    "check_margin",
    "class_similarity_from_features",
    "constant_margin",
    "cosine_warmup",
    "linear_warmup",
    "log_value",
    "margin_for_loss",
    "pair_similarity",
    "scalable_margins",
    "set_loss_margin",
    "step_margin",
]

MarginValue = float | torch.Tensor


# ----------------------------------------------------------------------------------------------- validation
def check_margin(margin: Any, batch_size: int | None = None, name: str = "margin") -> MarginValue:
    """Validate a margin: a finite non-negative scalar, ``(B,)`` per-sample, ``(B, B)`` per-pair or ``(B, 1, B)``
    per anchor-negative pair (triplet losses index their terms ``[a, p, n]``) tensor.

    Returns a float for scalars and a float tensor otherwise. Raises ``ValueError`` naming the problem: negative,
    NaN/inf, an unsupported shape, or (when ``batch_size`` is given) a batch dimension other than ``B``.
    """
    if isinstance(margin, torch.Tensor | np.ndarray) and np.ndim(margin) > 0:
        t = torch.as_tensor(margin, dtype=torch.float32) if isinstance(margin, np.ndarray) else margin.float()
        shape = tuple(t.shape)
        ok = (
            t.ndim == 1
            or (t.ndim == 2 and shape[0] == shape[1])
            or (t.ndim == 3 and shape[1] == 1 and shape[0] == shape[2])
        )
        if not ok:
            raise ValueError(
                f"{name} must be a scalar, (B,) per-sample, (B, B) per-pair or (B, 1, B) anchor-negative margins, "
                f"got shape {shape}"
            )
        if batch_size is not None and shape[0] != batch_size:
            raise ValueError(
                f"{name} has shape {shape} but the batch has {batch_size} samples "
                f"(expected ({batch_size},), ({batch_size}, {batch_size}) or ({batch_size}, 1, {batch_size}))"
            )
        if not torch.isfinite(t).all():
            raise ValueError(f"{name} contains {int((~torch.isfinite(t)).sum())} NaN/inf value(s)")
        if (t < 0).any():
            raise ValueError(f"{name} must be >= 0, found min {float(t.min()):.4g}")
        return t
    return check_nonnegative(margin.item() if hasattr(margin, "item") else margin, name)


def margin_for_loss(loss: Any, pair: torch.Tensor, sample: torch.Tensor) -> torch.Tensor:
    """Pick the form of a batch's margins that ``loss`` reads correctly.

    Pairwise losses (``family == "pairwise"``, e.g. DSH) and triplet losses that index triplets by (anchor,
    negative) (``mining`` ``"sampled"`` or ``"all"``: triplet, DNNH; they read a ``(B, B)`` margin as the (anchor,
    negative) pair's value) get the
    ``(B, B)`` per-pair margins; every other loss (batch-hard mining, DSH-GAN, TCL, CSQ) gets the ``(B,)`` per-sample
    (per-anchor) margins.
    """
    family = getattr(loss, "family", "")
    if family == "pairwise" or (family == "triplet" and getattr(loss, "mining", None) in ("sampled", "all")):
        return pair
    return sample


def _check_span(warmup: float, start: float, end: float) -> tuple[float, float, float]:
    start = check_nonnegative(start, "start margin")
    end = check_nonnegative(end, "end margin")
    if (
        isinstance(warmup, bool)
        or not (isinstance(warmup, numbers.Real) and math.isfinite(warmup))
        or warmup < 0
    ):
        raise ValueError(f"warm-up length must be a finite number >= 0, got {warmup!r}")
    return float(warmup), start, end


# ----------------------------------------------------------------------------------------------- pure schedules
def constant_margin(t: float, value: float) -> float:
    """``m(t) = value``."""
    return check_nonnegative(value, "margin")


def _progress(t: float, warmup: float) -> float:
    if warmup == 0:
        return 1.0
    return min(max(float(t) / warmup, 0.0), 1.0)


def linear_warmup(t: float, warmup: float, start: float, end: float) -> float:
    """``m(t) = start + (end - start) * min(t / warmup, 1)`` (``end`` from the first step if ``warmup == 0``)."""
    warmup, start, end = _check_span(warmup, start, end)
    return start + (end - start) * _progress(t, warmup)


def cosine_warmup(t: float, warmup: float, start: float, end: float) -> float:
    """``m(t) = start + (end - start) * (1 - cos(pi * min(t / warmup, 1))) / 2`` (half-cosine ramp)."""
    warmup, start, end = _check_span(warmup, start, end)
    return start + (end - start) * (1.0 - math.cos(math.pi * _progress(t, warmup))) / 2.0


def _check_steps(milestones: Sequence[float], values: Sequence[float]) -> tuple[list[float], list[float]]:
    ms = [float(m) for m in milestones]
    if any(not math.isfinite(m) or m < 0 for m in ms) or any(
        b <= a for a, b in zip(ms, ms[1:], strict=False)
    ):
        raise ValueError(f"milestones must be finite, >= 0 and strictly increasing, got {list(milestones)}")
    if len(values) != len(ms) + 1:
        raise ValueError(
            f"step schedule needs len(values) == len(milestones) + 1, got {len(values)} and {len(ms)}"
        )
    return ms, [check_nonnegative(v, f"step margin values[{i}]") for i, v in enumerate(values)]


def step_margin(t: float, milestones: Sequence[float], values: Sequence[float]) -> float:
    """``m(t) = values[k]`` with ``k`` the number of milestones ``<= t`` (piecewise-constant)."""
    ms, vals = _check_steps(milestones, values)
    return vals[bisect.bisect_right(ms, float(t))]


# ----------------------------------------------------------------------------------------------- margin-scalable
def pair_similarity(labels: torch.Tensor, class_similarity: torch.Tensor | None = None) -> torch.Tensor:
    """Semantic similarity ``s_ij`` in [0, 1] of every pair in a batch, shape ``(B, B)``.

    Multi-hot labels ``(B, C)``: ``s_ij = max(0, cos(l_i, l_j))`` (0 for an all-zero label row). Single-label ``(B,)``:
    ``s_ij = C[y_i, y_j]`` with ``C = class_similarity`` (default identity: ``s_ij = [y_i == y_j]``).
    """
    labels = torch.as_tensor(labels)
    if labels.ndim == 2:
        lab = labels.float()
        norm = lab.norm(dim=1, keepdim=True).clamp_min(1e-12)
        unit = lab / norm
        return (unit @ unit.T).clamp(0.0, 1.0)
    if labels.ndim != 1:
        raise ValueError(
            f"labels must be (B,) class ids or (B, C) multi-hot, got shape {tuple(labels.shape)}"
        )
    y = labels.long()
    if class_similarity is None:
        return label_similarity(y).float()
    c = torch.as_tensor(class_similarity, dtype=torch.float32, device=y.device)
    if c.ndim != 2 or c.shape[0] != c.shape[1]:
        raise ValueError(f"class_similarity must be a square (C, C) matrix, got shape {tuple(c.shape)}")
    if int(y.max()) >= c.shape[0] or int(y.min()) < 0:
        raise ValueError(
            f"labels range {int(y.min())}..{int(y.max())} outside class_similarity of size {c.shape[0]}"
        )
    return c[y[:, None], y[None, :]]


def scalable_margins(similarity: torch.Tensor, m_max: float, m_min: float = 0.0) -> torch.Tensor:
    """Margin-scalable per-pair margins ``m_ij = m_min + (m_max - m_min) * (1 - s_ij)`` (Yu et al. 2022)."""
    m_max = check_nonnegative(m_max, "m_max")
    m_min = check_nonnegative(m_min, "m_min")
    if m_min > m_max:
        raise ValueError(f"m_min ({m_min}) must not exceed m_max ({m_max})")
    s = torch.as_tensor(similarity, dtype=torch.float32)
    if s.ndim != 2 or s.shape[0] != s.shape[1]:
        raise ValueError(f"similarity must be a square (B, B) matrix, got shape {tuple(s.shape)}")
    if not torch.isfinite(s).all() or (s < -1e-6).any() or (s > 1 + 1e-6).any():
        raise ValueError("similarity values must be finite and within [0, 1]")
    return m_min + (m_max - m_min) * (1.0 - s.clamp(0.0, 1.0))


def class_similarity_from_features(features: Any, labels: Any, n_classes: int | None = None) -> np.ndarray:
    """Class-similarity matrix for single-label data: ``C_ab = max(0, cos(mu_a - mu, mu_b - mu))``, ``C_aa = 1``.

    ``mu_a`` is the mean training embedding of class ``a`` and ``mu`` the overall mean (centring removes the shared
    direction that makes every raw centroid look alike). Returns float32 ``(C, C)``; raises on an empty class.
    """
    x = np.asarray(features, dtype=np.float64)
    y = np.asarray(labels)
    if x.ndim != 2 or y.ndim != 1 or len(x) != len(y):
        raise ValueError(f"need features (N, D) and labels (N,), got {x.shape} and {y.shape}")
    n_classes = int(y.max()) + 1 if n_classes is None else int(n_classes)
    counts = np.bincount(y, minlength=n_classes)
    if (counts == 0).any():
        raise ValueError(f"classes {np.flatnonzero(counts == 0).tolist()} have no samples")
    cent = np.stack([x[y == c].mean(0) for c in range(n_classes)]) - x.mean(0)
    unit = cent / np.maximum(np.linalg.norm(cent, axis=1, keepdims=True), 1e-12)
    sim = np.clip(unit @ unit.T, 0.0, 1.0)
    np.fill_diagonal(sim, 1.0)
    return sim.astype(np.float32)


# ----------------------------------------------------------------------------------------------- callbacks
def set_loss_margin(
    pl_module: pl.LightningModule, margin: MarginValue, batch_size: int | None = None
) -> None:
    """Validate ``margin`` and assign it to ``pl_module.loss.margin`` (raises if the loss has no margin)."""
    loss = getattr(pl_module, "loss", None)
    if loss is None or not hasattr(loss, "margin"):
        name = type(loss).__name__ if loss is not None else "<no pl_module.loss>"
        raise AttributeError(
            f"{name} has no 'margin' attribute: margin schedules need a loss with a margin (dsh, triplet, dnnh, tcl, ...)"
        )
    loss.margin = check_margin(margin, batch_size)


def log_value(margin: MarginValue) -> float:
    """The scalar that is logged as ``"margin"``: the value itself, or the mean of a tensor margin."""
    return float(margin.float().mean()) if isinstance(margin, torch.Tensor) else float(margin)


class MarginSchedule(pl.Callback):
    """Base class: subclasses implement :meth:`value` (``t`` = global step or epoch). Thin wrapper, no math here.

    ``relative=True`` multiplies :meth:`value` by the loss's margin at the start of training (``base``).
    ``history`` records ``(t, logged margin)`` for every assignment.
    """

    def __init__(self, interval: str = "step", relative: bool = False):
        if interval not in ("step", "epoch"):
            raise ValueError(f"interval must be 'step' or 'epoch', got {interval!r}")
        self.interval = interval
        self.relative = relative
        self.base = 1.0
        self.history: list[tuple[int, float]] = []

    def value(self, t: int) -> float:  # pragma: no cover - abstract
        raise NotImplementedError

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self.relative:
            current = getattr(getattr(pl_module, "loss", None), "margin", None)
            if current is None:
                raise AttributeError("relative margin schedule: pl_module.loss has no 'margin' attribute")
            self.base = check_nonnegative(current, "loss margin used as base of a relative schedule")

    def _apply(self, pl_module: pl.LightningModule, t: int, batch_size: int | None = None) -> None:
        margin = self.value(t)
        if self.relative:
            margin = margin * self.base
        set_loss_margin(pl_module, margin, batch_size)
        logged = log_value(pl_module.loss.margin)
        self.history.append((t, logged))
        pl_module.log(
            "margin", logged, on_step=self.interval == "step", on_epoch=True, batch_size=batch_size or 1
        )

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if self.interval == "step":
            self._apply(pl_module, trainer.global_step, _batch_size(batch))

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        if self.interval == "epoch":
            margin = self.value(trainer.current_epoch) * (self.base if self.relative else 1.0)
            set_loss_margin(pl_module, margin)
            self.history.append((trainer.current_epoch, log_value(margin)))

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if self.interval == "epoch":  # logging is not allowed in on_train_epoch_start
            pl_module.log(
                "margin", log_value(pl_module.loss.margin), on_step=False, on_epoch=True, batch_size=1
            )


def _batch_size(batch: Any) -> int | None:
    if isinstance(batch, list | tuple) and batch and isinstance(batch[0], torch.Tensor):
        return int(batch[0].shape[0])
    return None


class ConstantMargin(MarginSchedule):
    """``m(t) = value``."""

    def __init__(self, value: float, relative: bool = False):
        super().__init__("step", relative)
        self.margin = check_nonnegative(value, "margin")

    def value(self, t: int) -> float:
        return constant_margin(t, self.margin)


class LinearWarmup(MarginSchedule):
    """Linear ramp from ``start`` to ``end`` over ``warmup`` steps (or epochs with ``interval="epoch"``)."""

    def __init__(self, start: float, end: float, warmup: int, interval: str = "step", relative: bool = False):
        super().__init__(interval, relative)
        self.warmup, self.start, self.end = _check_span(warmup, start, end)

    def value(self, t: int) -> float:
        return linear_warmup(t, self.warmup, self.start, self.end)


class CosineWarmup(LinearWarmup):
    """Half-cosine ramp from ``start`` to ``end`` over ``warmup`` steps (slow-fast-slow)."""

    def value(self, t: int) -> float:
        return cosine_warmup(t, self.warmup, self.start, self.end)


class StepMargin(MarginSchedule):
    """Piecewise-constant: ``values[k]`` after the ``k``-th milestone (steps, or epochs with ``interval="epoch"``)."""

    def __init__(
        self,
        milestones: Sequence[int],
        values: Sequence[float],
        interval: str = "step",
        relative: bool = False,
    ):
        super().__init__(interval, relative)
        self.milestones, self.values = _check_steps(milestones, values)

    def value(self, t: int) -> float:
        return step_margin(t, self.milestones, self.values)


class MarginScalable(MarginSchedule):
    """Per-pair margin-scalable margins (Yu et al. 2022) computed from each batch's labels.

    ``m_ij = m_min + (m_max - m_min) * (1 - s_ij)`` with ``s_ij`` from :func:`pair_similarity` (multi-hot: label
    cosine; single-label: ``class_similarity[y_i, y_j]``, see :func:`class_similarity_from_features`), written in the
    form the loss reads (:func:`margin_for_loss`; per-anchor losses get the mean over the anchor's dissimilar pairs).
    The logged ``"margin"`` is the mean margin over the batch's dissimilar pairs (``s_ij < 1``).
    """

    def __init__(
        self,
        m_max: float,
        m_min: float = 0.0,
        class_similarity: Any = None,
        relative: bool = False,
    ):
        super().__init__("step", relative)
        self.m_max = check_nonnegative(m_max, "m_max")
        self.m_min = check_nonnegative(m_min, "m_min")
        if self.m_min > self.m_max:
            raise ValueError(f"m_min ({self.m_min}) must not exceed m_max ({self.m_max})")
        self.class_similarity = (
            None
            if class_similarity is None
            else torch.as_tensor(np.asarray(class_similarity), dtype=torch.float32)
        )
        if self.class_similarity is not None:
            c = self.class_similarity
            if c.ndim != 2 or c.shape[0] != c.shape[1]:
                raise ValueError(f"class_similarity must be square (C, C), got shape {tuple(c.shape)}")
            if not torch.isfinite(c).all() or (c < 0).any() or (c > 1).any():
                raise ValueError("class_similarity values must be finite and within [0, 1]")

    def margins(self, labels: torch.Tensor) -> torch.Tensor:
        """The ``(B, B)`` margins for a batch of labels (in the schedule's units, before ``relative`` scaling)."""
        return scalable_margins(pair_similarity(labels, self.class_similarity), self.m_max, self.m_min)

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        labels = batch[1]
        sim = pair_similarity(labels.cpu(), self.class_similarity)
        margin = scalable_margins(sim, self.m_max, self.m_min) * (self.base if self.relative else 1.0)
        dissimilar = sim < 1.0
        # per-anchor form: the mean margin over the anchor's dissimilar pairs (m_max * scale if it has none)
        top = self.m_max * (self.base if self.relative else 1.0)
        count = dissimilar.sum(1)
        per_anchor = torch.where(
            count > 0,
            (margin * dissimilar).sum(1) / count.clamp_min(1),
            torch.full_like(count, top, dtype=margin.dtype),
        )
        chosen = margin_for_loss(getattr(pl_module, "loss", None), margin, per_anchor)
        set_loss_margin(pl_module, chosen.to(labels.device), int(labels.shape[0]))
        logged = float(margin[dissimilar].mean()) if dissimilar.any() else 0.0
        self.history.append((trainer.global_step, logged))
        pl_module.log("margin", logged, on_step=True, on_epoch=True, batch_size=int(labels.shape[0]))
