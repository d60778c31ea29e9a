"""DPSH: Deep Pairwise Supervised Hashing (Li, Wang, Kang, IJCAI 2016)."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from .base import HashLoss, LossOutput, register_loss, sign_codes


def pairwise_nll(theta: Tensor, s: Tensor) -> Tensor:
    r"""Element-wise negative log-likelihood ``log(1 + e^{theta}) - s * theta`` (numerically stable softplus)."""
    return F.softplus(theta) - s * theta


@register_loss
class DPSHLoss(HashLoss):
    r"""Pairwise likelihood loss with a quantization penalty.

    Li, Wang, Kang, "Feature Learning based Deep Supervised Hashing with Pairwise Labels", IJCAI 2016
    (arXiv:1511.03855), thesis §3.2.1:

    .. math::
        \theta_{ij} = \tfrac12 h_i^\top h_j, \qquad
        L = \operatorname{mean}_{i \ne j}\big[\log(1 + e^{\theta_{ij}}) - s_{ij}\theta_{ij}\big]
            + \lambda \tfrac{1}{N L} \sum_i \|h_i - \operatorname{sgn}(h_i)\|_2^2 .

    Thesis typo corrected: the thesis prints ``-sum (s theta) - log(1+e^theta)``; the likelihood is
    ``-sum (s theta - log(1 + e^theta))``. The quantization term is divided by ``L`` (per-element mean) so that
    ``lambda`` does not depend on the code length; ``lambda = 0.1`` as in DeepHash-pytorch.
    """

    name = "dpsh"
    family = "pairwise"

    def __init__(self, bits: int, n_classes: int, quant_weight: float = 0.1) -> None:
        super().__init__(bits, n_classes)
        if quant_weight < 0:
            raise ValueError(f"quant_weight must be >= 0, got {quant_weight}")
        self.quant_weight = float(quant_weight)

    def quantization(self, h: Tensor) -> Tensor:
        """Per-element mean of ``(h - sgn(h))^2``."""
        return (h - sign_codes(h)).pow(2).mean()

    def forward(self, h: Tensor, labels: Tensor, **context) -> LossOutput:
        labels = self.check_inputs(h, labels)
        s = self.similarity(labels).to(h.dtype)
        theta = 0.5 * h @ h.T
        likelihood = self.pair_mean(pairwise_nll(theta, s))
        quant = self.quantization(h)
        total = likelihood + self.quant_weight * quant
        return LossOutput(total, {"likelihood": likelihood.detach(), "quantization": quant.detach()})
