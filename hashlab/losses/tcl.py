"""Triplet-Center Loss + softmax (He, Zhou, Zhou, Bai, Bai, CVPR 2018), the thesis's own hashing adaptation."""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .base import HashLoss, LossOutput, register_loss


@register_loss
class TCLLoss(HashLoss):
    r"""Triplet-center loss on the relaxed codes plus a softmax classifier (thesis §3.2.3, Eq. (1), Algorithm 9).

    He et al., "Triplet-Center Loss for Multi-View 3D Object Retrieval", CVPR 2018. Learnable centres
    :math:`c_y \in \mathbb{R}^L` (one per class, random init, trained with the network), and

    .. math::
        D(f, c) = \tfrac12 \|f - c\|_2^2, \qquad
        L_{TCL} = \sum_{i=1}^{M} \max\big(D(h_i, c_{y_i}) + m - \min_{j \ne y_i} D(h_i, c_j),\ 0\big),

    .. math::
        L = \lambda L_{TCL} + L_{softmax}, \qquad L_{softmax} = \operatorname{CE}(W h + b, y).

    Thesis values: ``m = 5``, ``lambda = 0.01``. ``f_i`` is taken to be the relaxed hash code ``h_i`` and the
    softmax classifier is a linear layer on ``h`` (the thesis names neither). ``reduction="sum"`` follows the
    thesis's :math:`\sum_{i=1}^M`; ``"mean"`` divides by the batch size. Single-label data only.
    """

    name = "tcl"
    family = "center"

    def __init__(
        self,
        bits: int,
        n_classes: int,
        margin: float = 5.0,
        tcl_weight: float = 0.01,
        reduction: Literal["sum", "mean"] = "sum",
    ) -> None:
        super().__init__(bits, n_classes)
        if n_classes < 2:
            raise ValueError("TCL needs at least 2 classes (it compares to the nearest other centre)")
        if tcl_weight < 0:
            raise ValueError(f"tcl_weight must be >= 0, got {tcl_weight}")
        if reduction not in ("sum", "mean"):
            raise ValueError(f"reduction must be 'sum' or 'mean', got {reduction!r}")
        self.margin = margin
        self.tcl_weight = float(tcl_weight)
        self.reduction = reduction
        self.centers = nn.Parameter(torch.randn(n_classes, bits))
        self.classifier = nn.Linear(bits, n_classes)

    def forward(self, h: Tensor, labels: Tensor, **context) -> LossOutput:
        labels = self.check_inputs(h, labels)
        if labels.dim() != 1:
            raise ValueError("TCL supports single-label data only: labels must have shape (B,)")
        centers = self.centers.to(h.dtype)
        d = 0.5 * (h[:, None, :] - centers[None, :, :]).pow(2).sum(-1)  # (B, C)
        d_own = d.gather(1, labels[:, None]).squeeze(1)
        d_other = d.masked_fill(F.one_hot(labels, self.n_classes).bool(), float("inf")).min(1).values
        m = self._margin_like(d_own, per_anchor_dims=0)
        per = torch.clamp(d_own + m - d_other, min=0)
        tcl = per.sum() if self.reduction == "sum" else per.mean()
        logits = self.classifier(h.to(self.classifier.weight.dtype))
        softmax = F.cross_entropy(logits, labels)
        total = self.tcl_weight * tcl + softmax
        return LossOutput(total, {"tcl": tcl.detach(), "softmax": softmax.detach()})
