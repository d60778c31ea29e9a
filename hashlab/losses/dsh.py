"""DSH: Deep Supervised Hashing (Liu, Wang, Shan, Chen, CVPR 2016)."""

from __future__ import annotations

import torch
from torch import Tensor

from .base import HashLoss, LossOutput, register_loss


@register_loss
class DSHLoss(HashLoss):
    r"""Contrastive margin loss on the raw (un-squashed) head outputs plus the ``| |h| - 1 |_1`` regulariser.

    Liu et al., "Deep Supervised Hashing for Fast Image Retrieval", CVPR 2016 (thesis §3.2.1, Algorithm 2):

    .. math::
        L = \operatorname{mean}_{i \ne j}\Big[\tfrac12 s_{ij}\,d_{ij} + \tfrac12 (1-s_{ij})\,[m - d_{ij}]_+
            + \alpha \big(\|\,|h_i| - 1\|_1 + \|\,|h_j| - 1\|_1\big)\Big],
        \qquad d_{ij} = \|h_i - h_j\|_2^2 .

    Constants (paper §3.1-3.3 and DeepHash-pytorch agree on the first two):

    * activation: none. The paper's network ends in a linear layer ("no saturating nonlinearities") and the
      regulariser pulls outputs towards ±1; DeepHash-pytorch also trains on raw outputs. hashlab's former
      default squashed them with ``tanh`` first; with ``m = 2L`` that was clearly worse (digits, 24 bits: mAP
      0.80 vs 0.92, ``docs/assumptions.md``), so it is not kept.
    * margin ``m = 2L`` (``L`` = bits; paper: ``m = 2k``; DeepHash-pytorch ``m = 2 * bit``). Two ±1 codes at
      Hamming distance ``k`` have ``d = 4k``, so dissimilar pairs are pushed at least ``L/2`` bits apart.
    * ``alpha = 0.01`` (paper), on the per-pair sum over both codes' elements as written above, i.e.
      ``2 alpha L`` times the per-element mean. DeepHash-pytorch puts ``0.1`` on the per-element mean
      (``alpha * (1 - |u|).abs().mean()``), which is ``0.1 / (2L)`` here.
    * reduction: mean over the ordered pairs ``i != j`` of the batch (paper: sum over the pairs of a mini-batch;
      the mean only rescales the learning rate). The thesis writes ``s_ij`` and ``s^o_ij`` for the same label
      similarity.
    """

    name = "dsh"
    family = "pairwise"

    def __init__(self, bits: int, n_classes: int, margin: float | None = None, alpha: float = 0.01) -> None:
        super().__init__(bits, n_classes)
        self.margin = 2.0 * bits if margin is None else margin
        if not alpha >= 0:
            raise ValueError(f"alpha must be >= 0, got {alpha}")
        self.alpha = float(alpha)

    def activation(self, z: Tensor) -> Tensor:
        """The raw head output (paper): no squashing."""
        return z

    def forward(self, h: Tensor, labels: Tensor, **context) -> LossOutput:
        labels = self.check_inputs(h, labels)
        s = self.similarity(labels).to(h.dtype)
        dist = (h[:, None, :] - h[None, :, :]).pow(2).sum(-1)
        m = self._margin_like(dist, per_anchor_dims=1)
        pair = 0.5 * s * dist + 0.5 * (1 - s) * torch.clamp(m - dist, min=0)
        contrastive = self.pair_mean(pair)
        # mean over pairs i != j of r_i + r_j, with r_i = || |h_i| - 1 ||_1 (each sample is in 2(B-1) of them)
        reg = 2.0 * (h.abs() - 1).abs().sum(1).mean() if h.shape[0] > 1 else h.sum() * 0.0
        total = contrastive + self.alpha * reg
        return LossOutput(total, {"contrastive": contrastive.detach(), "regularizer": reg.detach()})
