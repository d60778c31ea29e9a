"""HashNet: Deep Learning to Hash by Continuation (Cao, Long, Wang, Yu, ICCV 2017)."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from .base import HashLoss, LossOutput, register_loss
from .dpsh import pairwise_nll


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
    and the activation ``h = tanh(beta z)``. ``beta`` is a mutable attribute raised during training by
    :class:`hashlab.callbacks.HashNetContinuation`. Defaults: ``alpha = 10 / bits`` (authors' code and
    DeepHash-pytorch), ``beta = 1`` (the first stage of the continuation). For multi-label data the paper's
    overlap weighting ``c_ij`` is not used: ``s_ij`` is binary (both thesis datasets are single-label).
    """

    name = "hashnet"
    family = "pairwise"

    def __init__(self, bits: int, n_classes: int, alpha: float | None = None, beta: float = 1.0) -> None:
        super().__init__(bits, n_classes)
        alpha = 10.0 / bits if alpha is None else float(alpha)
        if not (math.isfinite(alpha) and alpha > 0):
            raise ValueError(f"alpha must be a finite positive number, got {alpha}")
        self.alpha = alpha
        self.beta = beta

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
