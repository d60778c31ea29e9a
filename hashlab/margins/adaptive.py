"""Density-adaptive margins with a hysteresis controller, and pinned anchor prototypes.

Crawford & Ahuja ("Continual Deep Hash Learning for Dynamic Image Databases with Margin-Adaptive Semantic
Preservation", undated preprint, §4) describe, without formulas:
per-example margins "derived from the local density and the global separation between its assigned cluster and the
nearest foreign cluster" (ambiguous examples get a larger margin, well-clustered ones a smaller one), applied through
"a hysteresis controller that applies margin updates in a damped, smoothed fashion, integrating evidence over multiple
update cycles", and "anchor points ... whose hash codes are pinned and not allowed to drift beyond a tight radius".
The formulas below are hashlab's concrete reading of these three mechanisms, not the paper's.

Density-adaptive target margin of item ``i`` with relaxed code ``u_i`` (distances ``d(u, v) = ||u - v||^2 / 4``, the
Hamming distance for ±1 codes):

- ambiguity ``a_i = d(u_i, c_{y_i}) / d(u_i, c_foreign(i))`` with ``c_y`` the class centroids and ``c_foreign(i)`` the
  nearest centroid of another class;
- local density ``rho_i`` = mean cosine similarity of ``u_i`` to its ``k`` nearest neighbours;
- ``m_i = clip(m0 * (1 + kappa * (a_i - mean(a)) - nu * (rho_i - mean(rho))), m_min, m_max)``; per pair
  ``m_ij = (m_i + m_j) / 2``.

Hysteresis controller, per element: EMA ``s_t = (1 - beta) s_{t-1} + beta m*_t`` of the targets; a change is committed
only after the raw target has left the band ``|m*_t - m_{t-1}| > band`` on the same side for ``patience`` consecutive
updates, and then ``m_t = m_{t-1} + clip(s_t - m_{t-1}, -max_step, max_step)``. A one-update spike never accumulates
``patience`` deviations and is ignored; a sustained change is followed. ``beta=1, band=0, patience=1`` is undamped.

Anchor prototypes (pinned codes ``b_a``, chosen by iCaRL herding): whenever an optimiser step leaves some anchor
farther than Hamming radius ``r`` from its pinned code, corrective steps minimise the sign-agreement hinge
``L_anchor = sum_a sum_k max(0, delta - b_ak u_ak)`` (over every anchor, or only those outside the radius) until every
anchor is back within ``r``. The soft variant ``sum_a max(0, ||u_a - b_a||^2 / 4 - r)`` is not a bound on
the Hamming drift of ``sign(u_a)``, so hashlab enforces the radius on the binarised codes instead.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch

from hashlab.checks import check_finite, check_nonnegative
from hashlab.continual.replay import herding
from hashlab.margins.schedules import check_margin, log_value, margin_for_loss, set_loss_margin

__all__ = [
    "AnchorPrototypes",
    "DensityAdaptiveMargin",
    "HysteresisController",
    "anchor_drift",
    "anchor_penalty",
    "density_margins",
    "density_statistics",
    "herding_prototypes",
    "pair_margins",
]


def _as_float_tensor(x: Any, name: str) -> torch.Tensor:
    t = torch.as_tensor(np.asarray(x) if not isinstance(x, torch.Tensor) else x).float()
    check_finite(t, name)
    return t


# ----------------------------------------------------------------------------------------------- density margins
def density_statistics(codes: Any, labels: Any, k: int = 10) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-item ambiguity ``a_i`` and local density ``rho_i`` (see module docstring); returns two ``(N,)`` tensors.

    ``codes``: relaxed or ±1 codes ``(N, L)``; ``labels``: ``(N,)`` class ids (at least two classes present).
    """
    u = _as_float_tensor(codes, "codes")
    y = torch.as_tensor(np.asarray(labels) if not isinstance(labels, torch.Tensor) else labels).long()
    if u.ndim != 2 or y.ndim != 1 or u.shape[0] != y.shape[0]:
        raise ValueError(f"need codes (N, L) and labels (N,), got {tuple(u.shape)} and {tuple(y.shape)}")
    n = u.shape[0]
    if not 1 <= k < n:
        raise ValueError(f"k must be in 1..N-1 = {n - 1}, got {k}")
    classes, inv = torch.unique(y, return_inverse=True)
    if len(classes) < 2:
        raise ValueError("density margins need at least two classes (distance to the nearest foreign class)")
    onehot = torch.nn.functional.one_hot(inv, len(classes)).float()
    centroids = (onehot.T @ u) / onehot.sum(0)[:, None]
    d_cent = torch.cdist(u, centroids).pow(2) / 4.0  # (N, C) in Hamming units
    own = d_cent.gather(1, inv[:, None]).squeeze(1)
    foreign = d_cent.masked_fill(onehot.bool(), float("inf")).min(1).values
    ambiguity = own / foreign.clamp_min(1e-6)
    unit = u / u.norm(dim=1, keepdim=True).clamp_min(1e-12)
    cos = unit @ unit.T
    cos.fill_diagonal_(-float("inf"))
    density = cos.topk(k, dim=1).values.mean(1)
    return ambiguity, density


def density_margins(
    codes: Any,
    labels: Any,
    m0: float,
    kappa: float = 1.0,
    nu: float = 1.0,
    k: int = 10,
    m_min: float = 0.0,
    m_max: float | None = None,
) -> torch.Tensor:
    """Target margins ``m_i = clip(m0 (1 + kappa (a_i - mean a) - nu (rho_i - mean rho)), m_min, m_max)``, ``(N,)``."""
    m0 = check_nonnegative(m0, "m0")
    m_min = check_nonnegative(m_min, "m_min")
    m_max = float("inf") if m_max is None else check_nonnegative(m_max, "m_max")
    if m_min > m_max:
        raise ValueError(f"m_min ({m_min}) must not exceed m_max ({m_max})")
    for name, v in (("kappa", kappa), ("nu", nu)):
        if not math.isfinite(v):
            raise ValueError(f"{name} must be finite, got {v}")
    a, rho = density_statistics(codes, labels, k)
    m = m0 * (1.0 + kappa * (a - a.mean()) - nu * (rho - rho.mean()))
    return m.clamp(m_min, m_max)


def pair_margins(sample_margins: torch.Tensor) -> torch.Tensor:
    """Per-pair margins from per-sample margins: ``m_ij = (m_i + m_j) / 2``, shape ``(B, B)``."""
    m = check_margin(sample_margins, name="per-sample margins")
    if not isinstance(m, torch.Tensor) or m.ndim != 1:
        raise ValueError("pair_margins expects a 1-D (B,) tensor of per-sample margins")
    return (m[:, None] + m[None, :]) / 2.0


# ----------------------------------------------------------------------------------------------- hysteresis
class HysteresisController:
    """Damped margin controller with an EMA and a hysteresis band (elementwise over a scalar or a tensor).

    ``update(target)`` returns the committed margin. See the module docstring for the rule. ``beta`` in (0, 1],
    ``band >= 0``, ``patience >= 1``, ``max_step > 0`` (``inf`` = unbounded).
    """

    def __init__(
        self,
        initial: Any,
        beta: float = 0.3,
        band: float = 0.0,
        patience: int = 3,
        max_step: float = math.inf,
    ):
        if not (0.0 < beta <= 1.0):
            raise ValueError(f"beta must be in (0, 1], got {beta}")
        if not (band >= 0 and math.isfinite(band)):
            raise ValueError(f"band must be finite and >= 0, got {band}")
        if int(patience) != patience or patience < 1:
            raise ValueError(f"patience must be an integer >= 1, got {patience}")
        if not max_step > 0:
            raise ValueError(f"max_step must be > 0, got {max_step}")
        self.beta, self.band, self.patience, self.max_step = (
            float(beta),
            float(band),
            int(patience),
            float(max_step),
        )
        init = torch.as_tensor(initial, dtype=torch.float32).clone()
        check_margin(init if init.ndim else float(init), name="initial margin")
        self.committed = init
        self.smoothed = init.clone()
        self.count = torch.zeros_like(init)
        self.side = torch.zeros_like(init)

    @classmethod
    def undamped(cls, initial: Any) -> HysteresisController:
        """Follows every target immediately (``beta=1, band=0, patience=1``)."""
        return cls(initial, beta=1.0, band=0.0, patience=1)

    @classmethod
    def ema(cls, initial: Any, beta: float = 0.3) -> HysteresisController:
        """EMA smoothing only, no band (``band=0, patience=1``)."""
        return cls(initial, beta=beta, band=0.0, patience=1)

    def update(self, target: Any) -> torch.Tensor:
        """Feed one target (same shape as ``initial``); return the committed margin after this update."""
        t = torch.as_tensor(target, dtype=torch.float32)
        if t.shape != self.committed.shape:
            raise ValueError(
                f"target shape {tuple(t.shape)} != controller shape {tuple(self.committed.shape)}"
            )
        check_margin(t if t.ndim else float(t), name="target margin")
        self.smoothed = (1.0 - self.beta) * self.smoothed + self.beta * t
        diff = t - self.committed
        side = torch.sign(diff)
        outside = diff.abs() > self.band
        same = outside & (side == self.side)
        self.count = torch.where(same, self.count + 1, outside.float())
        self.side = torch.where(outside, side, torch.zeros_like(side))
        commit = self.count >= self.patience
        step = (self.smoothed - self.committed).clamp(-self.max_step, self.max_step)
        self.committed = torch.where(commit, self.committed + step, self.committed).clamp_min(0.0)
        return self.committed.clone()


# ----------------------------------------------------------------------------------------------- callback
class DensityAdaptiveMargin(pl.Callback):
    """Per-sample density-adaptive margins, smoothed by a :class:`HysteresisController`, written to the loss.

    Every ``every_n_steps`` optimisation steps (default: once per epoch) the training-split ``features`` (positions
    matching the batch index ``batch[2]``) are encoded with ``pl_module`` and new targets :func:`density_margins` fed to
    the controller. Before each batch the loss gets ``m[idx]`` (``per="sample"``, ``(B,)``), ``(m_i + m_j) / 2``
    (``per="pair"``, ``(B, B)``) or, with ``per="auto"``, the form the loss reads (:func:`margin_for_loss`). ``relative=True`` measures ``m0``, ``m_min``, ``m_max`` in units of the loss's
    starting margin. Logs ``"margin"`` (batch mean). ``trajectory`` holds the mean committed margin per update.
    """

    def __init__(
        self,
        features: Any,
        labels: Any,
        m0: float = 1.0,
        kappa: float = 1.0,
        nu: float = 1.0,
        k: int = 10,
        m_min: float = 0.0,
        m_max: float | None = None,
        beta: float = 0.3,
        band: float = 0.0,
        patience: int = 2,
        max_step: float = math.inf,
        every_n_steps: int | None = None,
        per: str = "auto",
        relative: bool = False,
    ):
        if per not in ("auto", "pair", "sample"):
            raise ValueError(f"per must be 'auto', 'pair' or 'sample', got {per!r}")
        if every_n_steps is not None and every_n_steps < 1:
            raise ValueError(f"every_n_steps must be >= 1, got {every_n_steps}")
        self.features = _as_float_tensor(features, "features")
        self.labels = torch.as_tensor(np.asarray(labels)).long()
        if self.labels.ndim != 1 or len(self.labels) != len(self.features):
            raise ValueError("DensityAdaptiveMargin needs single-label (N,) labels matching features (N, D)")
        self.params = dict(m0=m0, kappa=kappa, nu=nu, k=k, m_min=m_min, m_max=m_max)
        density_margins(
            torch.zeros(2, 1), torch.tensor([0, 1]), **{**self.params, "k": 1}
        )  # validates params
        self.ctrl_args = dict(beta=beta, band=band, patience=patience, max_step=max_step)
        self.every_n_steps, self.per, self.relative = every_n_steps, per, relative
        self.scale = 1.0
        self.controller: HysteresisController | None = None
        self.trajectory: list[float] = []

    @torch.no_grad()
    def targets(self, pl_module: pl.LightningModule) -> torch.Tensor:
        """Current target margins of every training item (in the schedule's units)."""
        was_training = pl_module.training
        pl_module.eval()
        try:
            u = pl_module(self.features.to(pl_module.device)).float().cpu()
        finally:
            pl_module.train(was_training)
        return density_margins(u, self.labels, **self.params)

    def _refresh(self, pl_module: pl.LightningModule) -> None:
        target = self.targets(pl_module)
        if self.controller is None:
            self.controller = HysteresisController(
                torch.full_like(target, self.params["m0"]), **self.ctrl_args
            )
        self.trajectory.append(log_value(self.controller.update(target)))

    def on_train_start(self, trainer, pl_module) -> None:
        if self.relative:
            self.scale = check_nonnegative(
                getattr(pl_module.loss, "margin", None), "loss margin (relative base)"
            )
        self.controller = None
        self._refresh(pl_module)

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        step = trainer.global_step
        if self.every_n_steps is not None and step > 0 and step % self.every_n_steps == 0:
            self._refresh(pl_module)
        if len(batch) < 3:
            raise ValueError(
                "DensityAdaptiveMargin needs batches (x, y, idx) with training-split positions idx"
            )
        idx = batch[2].long().cpu()
        m = self.controller.committed[idx] * self.scale
        if self.per == "auto":
            margin = margin_for_loss(pl_module.loss, pair_margins(m), m)
        else:
            margin = pair_margins(m) if self.per == "pair" else m
        set_loss_margin(pl_module, margin.to(batch[0].device), int(len(idx)))
        pl_module.log("margin", float(m.mean()), on_step=True, on_epoch=True, batch_size=int(len(idx)))

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        if self.every_n_steps is None:
            self._refresh(pl_module)


# ----------------------------------------------------------------------------------------------- anchors
def herding_prototypes(features: Any, labels: Any, per_class: int = 2) -> np.ndarray:
    """Indices of ``per_class`` prototypes per class chosen by herding (Rebuffi et al., iCaRL, CVPR 2017).

    Greedily adds the item that keeps the mean of the chosen items closest to the class mean. Sorted by class.
    """
    x = np.asarray(features, dtype=np.float64)
    y = np.asarray(labels)
    if x.ndim != 2 or y.ndim != 1 or len(x) != len(y):
        raise ValueError(f"need features (N, D) and labels (N,), got {x.shape} and {y.shape}")
    if per_class < 1:
        raise ValueError(f"per_class must be >= 1, got {per_class}")
    chosen: list[int] = []
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        if len(idx) < per_class:
            raise ValueError(f"class {c} has {len(idx)} items, fewer than per_class={per_class}")
        chosen.extend(idx[herding(x[idx], per_class)].tolist())
    return np.asarray(chosen, dtype=np.int64)


def anchor_drift(relaxed: torch.Tensor, pinned: torch.Tensor) -> torch.Tensor:
    """Hamming distance between ``sign(relaxed)`` (sign(0) = +1) and the pinned ±1 codes, per anchor ``(A,)``."""
    signs = torch.where(relaxed >= 0, 1.0, -1.0)
    return (signs != pinned.to(signs.dtype)).sum(1)


def anchor_penalty(
    relaxed: torch.Tensor, pinned: torch.Tensor, radius: int, delta: float = 0.1, mode: str = "outside"
) -> torch.Tensor:
    """``sum_a w_a * sum_k max(0, delta - b_ak u_ak)``: sign-agreement hinge towards the pinned codes.

    ``mode="outside"``: ``w_a = [d_H(sign u_a, b_a) > radius]`` (0 when all anchors are within the radius);
    ``mode="all"``: ``w_a = 1`` (every anchor is held, which keeps corrections from trading one anchor for another).
    """
    if relaxed.shape != pinned.shape:
        raise ValueError(
            f"relaxed codes {tuple(relaxed.shape)} and pinned codes {tuple(pinned.shape)} differ"
        )
    if mode not in ("outside", "all"):
        raise ValueError(f"mode must be 'outside' or 'all', got {mode!r}")
    hinge = (delta - pinned.to(relaxed.dtype) * relaxed).clamp_min(0.0).sum(1)
    if mode == "all":
        return hinge.sum()
    outside = (anchor_drift(relaxed, pinned) > radius).float()
    return (outside * hinge).sum()


class AnchorPrototypes(pl.Callback):
    """Pin the codes of anchor prototypes within Hamming ``radius`` during training.

    ``anchors`` (indices into ``features``) default to :func:`herding_prototypes` (``per_class`` per class). Pinned
    codes are ``codes`` if given (e.g. from the previous model in continual training), else the model's codes at the
    start of training. After every optimisation step, while some anchor is outside the radius, corrective steps of a
    fresh optimiser (``optimizer="adam"`` or ``"sgd"``, learning rate ``lr``; the main optimiser state is untouched)
    minimise :func:`anchor_penalty` (``mode="all"``: hold every anchor; ``"outside"``: only those outside), at most
    ``max_iters`` of them; ``RuntimeError`` if the anchors are still outside. ``max_drift`` records the largest anchor
    drift after each step, ``corrections`` the number of corrective steps taken.
    """

    def __init__(
        self,
        features: Any,
        labels: Any = None,
        anchors: Any = None,
        per_class: int = 2,
        radius: int = 1,
        codes: Any = None,
        delta: float = 0.1,
        lr: float = 0.01,
        max_iters: int = 200,
        mode: str = "all",
        optimizer: str = "adam",
    ):
        if int(radius) != radius or radius < 0:
            raise ValueError(f"radius must be an integer >= 0 (Hamming bits), got {radius}")
        self.features = _as_float_tensor(features, "features")
        if anchors is None:
            if labels is None:
                raise ValueError(
                    "AnchorPrototypes needs labels to pick prototypes, or explicit anchor indices"
                )
            anchors = herding_prototypes(self.features.numpy(), labels, per_class)
        self.anchors = torch.as_tensor(np.asarray(anchors), dtype=torch.long)
        if self.anchors.ndim != 1 or len(self.anchors) == 0 or int(self.anchors.max()) >= len(self.features):
            raise ValueError(
                f"anchor indices must be a non-empty 1-D array within 0..{len(self.features) - 1}"
            )
        self.pinned = None if codes is None else torch.as_tensor(np.asarray(codes), dtype=torch.float32)
        if self.pinned is not None and (
            self.pinned.shape[0] != len(self.anchors) or (self.pinned.abs() != 1).any()
        ):
            raise ValueError(f"pinned codes must be ±1 with one row per anchor ({len(self.anchors)})")
        if mode not in ("outside", "all") or optimizer not in ("sgd", "adam"):
            raise ValueError(
                f"mode must be 'outside'/'all' and optimizer 'sgd'/'adam', got {mode!r}, {optimizer!r}"
            )
        self.radius, self.delta, self.lr, self.max_iters = (
            int(radius),
            float(delta),
            float(lr),
            int(max_iters),
        )
        self.mode, self.optimizer = mode, optimizer
        self.max_drift: list[int] = []
        self.corrections = 0

    def _relaxed(self, pl_module: pl.LightningModule) -> torch.Tensor:
        return pl_module(self.features[self.anchors].to(pl_module.device))

    def on_train_start(self, trainer, pl_module) -> None:
        was_training = pl_module.training
        pl_module.eval()
        with torch.no_grad():
            u = self._relaxed(pl_module)
        pl_module.train(was_training)
        if self.pinned is None:
            self.pinned = torch.where(u >= 0, 1.0, -1.0).cpu()
        elif self.pinned.shape != u.shape:
            raise ValueError(
                f"pinned codes have shape {tuple(self.pinned.shape)}, the model gives {tuple(u.shape)}"
            )

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        was_training = pl_module.training
        pl_module.eval()  # the codes that are served: no dropout / batch statistics
        pinned = self.pinned.to(pl_module.device)
        params = [p for p in pl_module.parameters() if p.requires_grad]
        opt = (torch.optim.SGD if self.optimizer == "sgd" else torch.optim.Adam)(params, lr=self.lr)
        try:
            with torch.enable_grad():
                for _ in range(self.max_iters + 1):
                    u = self._relaxed(pl_module)
                    drift = anchor_drift(u.detach(), pinned)
                    if int(drift.max()) <= self.radius:
                        break
                    opt.zero_grad(set_to_none=True)
                    anchor_penalty(u, pinned, self.radius, self.delta, self.mode).backward()
                    opt.step()
                    self.corrections += 1
                else:
                    raise RuntimeError(
                        f"AnchorPrototypes: anchors still drift {int(drift.max())} > radius {self.radius} bits after "
                        f"{self.max_iters} corrective steps (raise lr/max_iters or the radius)"
                    )
        finally:
            opt.zero_grad(set_to_none=True)
            pl_module.train(was_training)
        self.max_drift.append(int(drift.max()))
        pl_module.log("anchor_drift", float(drift.max()), on_step=True, on_epoch=True, batch_size=1)
