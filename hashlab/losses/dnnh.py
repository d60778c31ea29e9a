"""DNNH: Simultaneous Feature Learning and Hash Coding with Deep Neural Networks (Lai, Pan, Liu, Yan, CVPR 2015)."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from .base import HashLoss, LossOutput, register_loss
from .triplet import Mining, Reduction, check_mining, triplet_hinge


def piecewise_threshold(s: Tensor, epsilon: float = 0.1) -> Tensor:
    r"""DNNH's piece-wise threshold on sigmoid outputs ``s`` in ``[0, 1]``:

    .. math::
        g(s) = 0 \text{ if } s < 0.5 - \epsilon;\quad s \text{ if } 0.5 - \epsilon \le s \le 0.5 + \epsilon;\quad
        1 \text{ if } s > 0.5 + \epsilon.

    Saturated entries are constant (zero gradient); entries inside the band pass through unchanged.
    """
    if not (0 <= epsilon <= 0.5):
        raise ValueError(f"epsilon must lie in [0, 0.5], got {epsilon}")
    return torch.where(
        s < 0.5 - epsilon, torch.zeros_like(s), torch.where(s > 0.5 + epsilon, torch.ones_like(s), s)
    )


@register_loss
class DNNHLoss(HashLoss):
    r"""Triplet ranking loss with margin 1 on sigmoid-relaxed codes, for the divide-and-encode head.

    Lai et al., CVPR 2015 (thesis §3.2.2):

    .. math::
        L = \operatorname{mean}_{(i,j,k)} \max\big(0,\; m + \|s_i - s_j\|_2^2 - \|s_i - s_k\|_2^2\big),
        \qquad s = \tfrac12 (h + 1) \in [0, 1]^L,\ m = 1,

    over every valid triplet (anchor ``i``, positive ``j``, negative ``k``) of the batch (batch-all, mean over
    valid triplets; ``mining="hard"`` and ``reduction="active"`` are options).

    Codes stay ±1 in the library: the head output ``z`` goes through ``h = 2\,\sigma(z) - 1`` (= ``tanh(z/2)``),
    i.e. the sigmoid output ``s = \sigma(z)`` mapped by ``b = 2s - 1``; the Hamming distance between {0,1} codes
    equals that of the mapped ±1 codes, and ``sign(h) = sign(z)`` equals the thresholded sigmoid
    (``s >= 0.5 -> +1``). The loss is computed on ``s = (h + 1) / 2`` so that the thesis's margin 1 keeps its
    {0,1}-space units (in ±1 units it would be 4). With ``threshold_in_training=True`` the activation applies the
    piece-wise threshold :func:`piecewise_threshold` as in the paper (``h = 2 g(\sigma(z)) - 1``); by default it
    is off because saturated entries get zero gradient, which stalls a randomly initialised MLP head.
    ``head = "divide_encode"``: the module builds DNNH's divide-and-encode head (one slice per bit).
    """

    name = "dnnh"
    family = "triplet"
    head = "divide_encode"

    def __init__(
        self,
        bits: int,
        n_classes: int,
        margin: float = 1.0,
        epsilon: float = 0.1,
        threshold_in_training: bool = False,
        mining: Mining = "all",
        reduction: Reduction = "valid",
    ) -> None:
        super().__init__(bits, n_classes)
        check_mining(mining, reduction)
        if not (0 <= epsilon <= 0.5) or not math.isfinite(epsilon):
            raise ValueError(f"epsilon must lie in [0, 0.5], got {epsilon}")
        self.margin = margin
        self.epsilon = float(epsilon)
        self.threshold_in_training = bool(threshold_in_training)
        self.mining = mining
        self.reduction = reduction

    def activation(self, z: Tensor) -> Tensor:
        s = torch.sigmoid(z)
        if self.threshold_in_training:
            s = piecewise_threshold(s, self.epsilon)
        return 2.0 * s - 1.0

    def binarize_sigmoid(self, s: Tensor) -> Tensor:
        """{0,1} codes from sigmoid outputs via the piece-wise threshold and a final cut at 0.5."""
        return (piecewise_threshold(s, self.epsilon) >= 0.5).to(s.dtype)

    def forward(self, h: Tensor, labels: Tensor, **context) -> LossOutput:
        labels = self.check_inputs(h, labels)
        s = 0.5 * (h + 1.0)
        dist = (s[:, None, :] - s[None, :, :]).pow(2).sum(-1)
        if self.mining == "hard":
            m = self._margin_like(dist[:, 0], per_anchor_dims=0)
        else:
            m = self._margin_like(dist[:, :, None].expand(-1, -1, dist.shape[0]), per_anchor_dims=2)
        loss, frac = triplet_hinge(dist, self.similarity(labels), m, self.mining, self.reduction)
        return LossOutput(loss, {"triplet": loss.detach(), "active_fraction": frac})
