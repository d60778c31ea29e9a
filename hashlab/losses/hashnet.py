"""HashNet: Deep Learning to Hash by Continuation (Cao, Long, Wang, Yu, ICCV 2017), with its continuation callback."""

from __future__ import annotations

import math
from typing import Literal, NamedTuple

import pytorch_lightning as pl
import torch
from torch import Tensor

from .base import HashLoss, LossOutput, register_loss
from .dpsh import pairwise_nll

__all__ = ["CONTINUATIONS", "Continuation", "HashNetContinuation", "HashNetLoss", "continuation_beta"]


class Continuation(NamedTuple):
    r"""A continuation schedule :math:`\beta_t = \beta_0 (1 + \gamma\, s \lfloor t / s \rfloor)^{p}`.

    ``t`` counts optimizer steps (``unit="step"``) or epochs (``unit="epoch"``), 0-based; ``s`` is how often
    ``beta`` changes (every ``step`` units).
    """

    unit: Literal["step", "epoch"]
    gamma: float
    power: float
    step: int


#: Named schedules. ``authors``: thuml/HashNet (pytorch/src/network.py: ``scale = (1 + 0.005 iter)^0.5``, recomputed
#: every 200 iterations). ``peer``: swuxyj/DeepHash-pytorch (``(epoch // 20 + 1)^0.5``). ``epoch``: hashlab's
#: former per-epoch schedule ``(1 + epoch)^0.5``.
CONTINUATIONS: dict[str, Continuation] = {
    "authors": Continuation("step", 0.005, 0.5, 200),
    "peer": Continuation("epoch", 0.05, 0.5, 20),
    "epoch": Continuation("epoch", 1.0, 0.5, 1),
}

#: ``variant`` -> (alpha as a function of bits, continuation name).
_VARIANTS = {
    "authors": (lambda bits: 10.0 / bits, "authors"),
    "peer": (lambda bits: 0.1, "peer"),
}


def continuation_beta(
    t: int, beta0: float = 1.0, gamma: float = 1.0, power: float = 0.5, step: int = 1
) -> float:
    r"""HashNet continuation scale :math:`\beta_t = \beta_0 (1 + \gamma\, s \lfloor t/s \rfloor)^{p}` (``s = step``).

    With ``step=1`` this is :math:`\beta_0 (1 + \gamma t)^p`. See :data:`CONTINUATIONS` for the named schedules.
    """
    if t < 0:
        raise ValueError(f"t must be >= 0, got {t}")
    if step < 1:
        raise ValueError(f"step must be >= 1, got {step}")
    return float(beta0 * (1.0 + gamma * step * (int(t) // step)) ** power)


@register_loss
class HashNetLoss(HashLoss):
    r"""Weighted maximum likelihood with an adaptive sigmoid, trained by continuation of ``tanh(beta z)``.

    Cao et al., "HashNet: Deep Learning to Hash by Continuation", ICCV 2017 (thesis §3.2.1, Algorithm 6):

    .. math::
        L = \frac{1}{|S|} \sum_{i \ne j} w_{ij}\big[\log(1 + e^{\alpha \langle h_i, h_j\rangle})
            - \alpha s_{ij} \langle h_i, h_j\rangle\big], \qquad
        w_{ij} = \begin{cases} |S| / |S_1| & s_{ij} = 1 \\ |S| / |S_0| & s_{ij} = 0 \end{cases}

    with ``S`` the set of batch pairs ``i != j``, ``S_1``/``S_0`` its similar/dissimilar pairs (so the loss is the
    mean over similar pairs plus the mean over dissimilar pairs; a class absent from the batch contributes 0),
    and the activation ``h = tanh(beta z)``, ``beta`` raised during training by :class:`HashNetContinuation`
    (returned by :meth:`callbacks`). The paper states the weights and the sequence
    :math:`1 = \beta_0 < \beta_1 < \dots`; the constants come from code:

    * ``variant="authors"`` (default), the authors' code thuml/HashNet (pytorch/src/train.py, network.py):
      ``alpha = 10 / bits`` (``sigmoid_param = 10 / hash_bit``) and ``beta = (1 + 0.005 t)^0.5`` over optimizer
      steps ``t``, recomputed every 200 steps (:data:`CONTINUATIONS` ``"authors"``).
    * ``variant="peer"``, swuxyj/DeepHash-pytorch (HashNet.py): ``alpha = 0.1`` and
      ``beta = (epoch // 20 + 1)^0.5``. With few epochs this stays near ``beta = 1``.

    ``alpha`` and ``continuation`` (a key of :data:`CONTINUATIONS`; ``"epoch"`` is hashlab's former
    ``(1 + epoch)^0.5``) override the variant's values. The authors' code uses ``log(1 + e^x) ~ x`` above
    ``x = 15``; :func:`~hashlab.losses.dpsh.pairwise_nll` is the stable softplus, equal to it. For multi-label data
    the paper's overlap weighting ``c_ij`` is not used: ``s_ij`` is binary (both thesis datasets are single-label).
    """

    name = "hashnet"
    family = "pairwise"

    def __init__(
        self,
        bits: int,
        n_classes: int,
        alpha: float | None = None,
        beta: float = 1.0,
        variant: Literal["authors", "peer"] = "authors",
        continuation: str | None = None,
    ) -> None:
        super().__init__(bits, n_classes)
        if variant not in _VARIANTS:
            raise ValueError(f"HashNet variant must be one of {sorted(_VARIANTS)}, got {variant!r}")
        default_alpha, default_continuation = _VARIANTS[variant]
        alpha = default_alpha(self.bits) if alpha is None else float(alpha)
        if not (math.isfinite(alpha) and alpha > 0):
            raise ValueError(f"alpha must be a finite positive number, got {alpha}")
        continuation = default_continuation if continuation is None else continuation
        if continuation not in CONTINUATIONS:
            raise ValueError(
                f"HashNet continuation must be one of {sorted(CONTINUATIONS)}, got {continuation!r}"
            )
        self.alpha = alpha
        self.beta = beta
        self.variant = variant
        self.continuation = continuation

    @property
    def beta(self) -> float:
        """Continuation scale of the activation ``tanh(beta z)``."""
        return self.__dict__["_beta"]

    @beta.setter
    def beta(self, value: float) -> None:
        value = float(value)
        if not (math.isfinite(value) and value > 0):
            raise ValueError(f"HashNet beta must be a finite positive number, got {value}")
        self.__dict__["_beta"] = value

    def beta_at(self, epoch: int, global_step: int) -> float:
        """``beta`` of this loss's continuation schedule after ``global_step`` optimizer steps / at ``epoch``."""
        sched = CONTINUATIONS[self.continuation]
        t = global_step if sched.unit == "step" else epoch
        return continuation_beta(t, 1.0, sched.gamma, sched.power, sched.step)

    def callbacks(self) -> list[pl.Callback]:
        """The continuation: a :class:`HashNetContinuation` that follows :attr:`continuation`."""
        return [HashNetContinuation()]

    def activation(self, z: Tensor) -> Tensor:
        return torch.tanh(self.beta * z)

    def forward(self, h: Tensor, labels: Tensor, **context) -> LossOutput:
        labels = self.check_inputs(h, labels)
        n = h.shape[0]
        if n < 2:
            zero = h.sum() * 0.0
            return LossOutput(zero, {"weighted_likelihood": zero.detach()})
        s = self.similarity(labels).to(h.dtype)
        ip = self.alpha * (h @ h.T)
        nll = pairwise_nll(ip, s)
        off = self.offdiag_mask(n, h.device)
        pos = off & (s > 0)
        neg = off & (s <= 0)
        n_pos, n_neg = pos.sum(), neg.sum()
        n_all = off.sum()
        w = torch.zeros_like(nll)
        w = torch.where(pos, n_all / n_pos.clamp(min=1), w)
        w = torch.where(neg, n_all / n_neg.clamp(min=1), w)
        total = (w * nll)[off].sum() / n_all
        return LossOutput(total, {"weighted_likelihood": total.detach()})


class HashNetContinuation(pl.Callback):
    """Set the HashNet loss's ``beta`` from its continuation schedule before every training batch; log it per epoch.

    The schedule is the loss's own (:meth:`HashNetLoss.beta_at`, i.e. its ``continuation``) unless ``continuation``
    names another key of :data:`CONTINUATIONS`. ``beta_max`` caps it. ``beta`` is recomputed from the trainer's
    ``global_step`` / ``current_epoch``, so resumed runs continue the schedule. ``history`` keeps one
    ``(epoch, beta)`` pair per epoch (the value at the epoch's start).
    """

    def __init__(self, continuation: str | None = None, beta_max: float | None = None) -> None:
        super().__init__()
        if continuation is not None and continuation not in CONTINUATIONS:
            raise ValueError(f"continuation must be one of {sorted(CONTINUATIONS)}, got {continuation!r}")
        if beta_max is not None and not (math.isfinite(beta_max) and beta_max >= 1.0):
            raise ValueError(f"beta_max must be finite and >= 1 (the schedule starts at 1), got {beta_max}")
        self.continuation = continuation
        self.beta_max = beta_max
        self.history: list[tuple[int, float]] = []

    @staticmethod
    def find_loss(pl_module: pl.LightningModule) -> HashNetLoss:
        loss = getattr(pl_module, "loss", None)
        if isinstance(loss, HashNetLoss):
            return loss
        for mod in pl_module.modules():
            if isinstance(mod, HashNetLoss):
                return mod
        raise AttributeError(
            f"HashNetContinuation needs a HashNet loss (method 'hashnet'); {type(pl_module).__name__} has none"
        )

    def beta_for(self, loss: HashNetLoss, epoch: int, global_step: int) -> float:
        if self.continuation is None:
            beta = loss.beta_at(epoch, global_step)
        else:
            sched = CONTINUATIONS[self.continuation]
            t = global_step if sched.unit == "step" else epoch
            beta = continuation_beta(t, 1.0, sched.gamma, sched.power, sched.step)
        return min(beta, float(self.beta_max)) if self.beta_max is not None else beta

    def _apply(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> HashNetLoss:
        loss = self.find_loss(pl_module)
        loss.beta = self.beta_for(loss, int(trainer.current_epoch), int(trainer.global_step))
        return loss

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        loss = self._apply(trainer, pl_module)
        self.history.append((int(trainer.current_epoch), loss.beta))
        pl_module.log("hashnet_beta", loss.beta, on_step=False, on_epoch=True, batch_size=1)

    def on_train_batch_start(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch, batch_idx: int
    ) -> None:
        self._apply(trainer, pl_module)
