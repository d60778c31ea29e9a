"""Lightning callbacks tied to losses: HashNet's continuation schedule for ``beta`` in ``tanh(beta z)``."""

from __future__ import annotations

import math

import pytorch_lightning as pl

from hashlab.losses import HashLoss

__all__ = ["HashNetContinuation", "continuation_beta"]


def continuation_beta(epoch: int, beta0: float = 1.0, gamma: float = 1.0, power: float = 0.5) -> float:
    r"""HashNet continuation scale :math:`\beta_t = \beta_0 (1 + \gamma t)^{p}` at (0-based) epoch ``t``.

    Cao et al. (ICCV 2017) raise ``beta`` per iteration with ``gamma = 0.005, power = 0.5``; DeepHash-pytorch uses
    ``(t // step + 1) ** 0.5`` per epoch. Per epoch with ``gamma = 1`` this reaches ``beta ~ 5.6`` after 30 epochs.
    """
    if epoch < 0:
        raise ValueError(f"epoch must be >= 0, got {epoch}")
    return float(beta0 * (1.0 + gamma * epoch) ** power)


class HashNetContinuation(pl.Callback):
    """Set the loss's ``beta`` to :func:`continuation_beta` at the start of every training epoch and log it.

    The loss is ``pl_module.loss`` (``HashingModule``) or the first :class:`HashLoss` sub-module with a ``beta``
    attribute. ``beta_max`` caps the schedule. The value is recomputed from ``trainer.current_epoch``, so resumed
    runs continue the schedule. ``history`` keeps ``(epoch, beta)`` pairs.
    """

    def __init__(
        self, beta0: float = 1.0, gamma: float = 1.0, power: float = 0.5, beta_max: float | None = None
    ) -> None:
        super().__init__()
        for pname, val in (("beta0", beta0), ("gamma", gamma), ("power", power)):
            if not (math.isfinite(val) and val >= 0):
                raise ValueError(f"{pname} must be finite and >= 0, got {val}")
        if beta0 <= 0:
            raise ValueError(f"beta0 must be > 0, got {beta0}")
        if beta_max is not None and not (beta_max >= beta0):
            raise ValueError(f"beta_max must be >= beta0, got {beta_max}")
        self.beta0, self.gamma, self.power, self.beta_max = float(beta0), float(gamma), float(power), beta_max
        self.history: list[tuple[int, float]] = []

    def beta_at(self, epoch: int) -> float:
        beta = continuation_beta(epoch, self.beta0, self.gamma, self.power)
        return min(beta, float(self.beta_max)) if self.beta_max is not None else beta

    @staticmethod
    def find_loss(pl_module: pl.LightningModule) -> HashLoss:
        loss = getattr(pl_module, "loss", None)
        if isinstance(loss, HashLoss) and hasattr(loss, "beta"):
            return loss
        for mod in pl_module.modules():
            if isinstance(mod, HashLoss) and hasattr(mod, "beta"):
                return mod
        raise AttributeError(
            f"HashNetContinuation needs a loss with a 'beta' attribute (method 'hashnet'); "
            f"{type(pl_module).__name__} has none"
        )

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        loss = self.find_loss(pl_module)
        epoch = int(trainer.current_epoch)
        loss.beta = self.beta_at(epoch)
        self.history.append((epoch, loss.beta))
        pl_module.log("hashnet_beta", loss.beta, on_step=False, on_epoch=True, batch_size=1)
