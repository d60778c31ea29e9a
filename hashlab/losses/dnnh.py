"""DNNH: Simultaneous Feature Learning and Hash Coding with Deep Neural Networks (Lai, Pan, Liu, Yan, CVPR 2015)."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from .base import HashLoss, LossOutput, register_loss
from .triplet import MAX_TRIPLETS, Mining, Reduction, TripletMiningMixin


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
class DNNHLoss(TripletMiningMixin, HashLoss):
    r"""Triplet ranking loss with margin 1 on sigmoid-relaxed codes, for the divide-and-encode head.

    Lai, Pan, Liu, Yan, "Simultaneous Feature Learning and Hash Coding with Deep Neural Networks", CVPR 2015
    (thesis §3.2.2):

    .. math::
        L = \operatorname{mean}_{(i,j,k)} \max\big(0,\; m + \|s_i - s_j\|_2^2 - \|s_i - s_k\|_2^2\big),
        \qquad s = \tfrac12 (h + 1) \in [0, 1]^L,\ m = 1 \text{ (paper and thesis)}.

    Triplets: the paper trains on triplets of images (query, similar, dissimilar) drawn from the training set and
    gives no mining rule. hashlab forms them per batch (``mining="sampled"``, default): ``max_triplets`` (4096)
    of the batch's valid triplets drawn uniformly at random (all of them when there are fewer), from a generator
    seeded by ``seed``, mean over them: an unbiased estimate of the batch-all mean. Batch-all (``mining="all"``, every
    valid triplet, ``O(B^3)``; 25x the pairwise methods' training time in issue 13) and batch-hard (``"hard"``) are
    options; ``reduction="active"`` averages over triplets with a positive hinge.

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
        mining: Mining = "sampled",
        reduction: Reduction = "valid",
        max_triplets: int = MAX_TRIPLETS,
        seed: int = 0,
    ) -> None:
        super().__init__(bits, n_classes)
        self._init_mining(mining, reduction, max_triplets, seed)
        if not (0 <= epsilon <= 0.5) or not math.isfinite(epsilon):
            raise ValueError(f"epsilon must lie in [0, 0.5], got {epsilon}")
        self.margin = margin
        self.epsilon = float(epsilon)
        self.threshold_in_training = bool(threshold_in_training)

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
        loss, frac = self.hinge(dist, self.similarity(labels), lambda ref, k: self._margin_like(ref, k))
        return LossOutput(loss, {"triplet": loss.detach(), "active_fraction": frac})
