"""DSH: Deep Supervised Hashing (Liu, Wang, Shan, Chen, CVPR 2016)."""

from __future__ import annotations

import torch
from torch import Tensor

from .base import HashLoss, LossOutput, register_loss


@register_loss
class DSHLoss(HashLoss):
    r"""Contrastive margin loss on relaxed codes plus the ``| |h| - 1 |_1`` regulariser.

    Liu et al., "Deep Supervised Hashing for Fast Image Retrieval", CVPR 2016 (thesis §3.2.1):

    .. math::
        L = \operatorname{mean}_{i \ne j}\Big[\tfrac12 s_{ij}\,d_{ij} + \tfrac12 (1-s_{ij})\,[\epsilon - d_{ij}]_+\Big]
            + \alpha \operatorname{mean}_{i,k} \big|\,|h_{ik}| - 1\big|,
        \qquad d_{ij} = \|h_i - h_j\|_2^2 .

    Units: ``d`` is the squared Euclidean distance of relaxed codes, so for ``h`` in ``[-1, 1]^L`` it lies in
    ``[0, 4L]`` and two ±1 codes at Hamming distance ``k`` have ``d = 4k``. The default margin ``epsilon = 2L``
    (paper and DeepHash-pytorch: ``m = 2 * bits``) therefore asks dissimilar pairs to differ in at least ``L/2``
    bits. The thesis writes ``s_ij`` and ``s^o_ij`` interchangeably; both are the label similarity. The thesis's
    per-pair regulariser ``sum_{k=i,j}`` is taken as the per-element mean over the batch (weight ``alpha``;
    paper 0.01, DeepHash-pytorch 0.1, default 0.1).
    """

    name = "dsh"
    family = "pairwise"

    def __init__(self, bits: int, n_classes: int, margin: float | None = None, alpha: float = 0.1) -> None:
        super().__init__(bits, n_classes)
        self.margin = 2.0 * bits if margin is None else margin
        if alpha < 0:
            raise ValueError(f"alpha must be >= 0, got {alpha}")
        self.alpha = float(alpha)

    def forward(self, h: Tensor, labels: Tensor, **context) -> LossOutput:
        labels = self.check_inputs(h, labels)
        s = self.similarity(labels).to(h.dtype)
        dist = (h[:, None, :] - h[None, :, :]).pow(2).sum(-1)
        m = self._margin_like(dist, per_anchor_dims=1)
        pair = 0.5 * s * dist + 0.5 * (1 - s) * torch.clamp(m - dist, min=0)
        contrastive = self.pair_mean(pair)
        reg = (h.abs() - 1).abs().mean()
        total = contrastive + self.alpha * reg
        return LossOutput(total, {"contrastive": contrastive.detach(), "regularizer": reg.detach()})
