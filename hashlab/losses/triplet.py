"""Plain triplet ranking loss on relaxed codes, with batch-all / batch-hard mining inside the batch."""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor

from .base import HashLoss, LossOutput, register_loss

Mining = Literal["all", "hard"]
Reduction = Literal["valid", "active"]


def triplet_hinge(
    dist: Tensor, sim: Tensor, margin: Tensor, mining: Mining = "all", reduction: Reduction = "valid"
) -> tuple[Tensor, Tensor]:
    r"""Mean of :math:`[m + d_{ap} - d_{an}]_+` over the triplets of one batch.

    ``dist``: (B, B) distances, ``sim``: (B, B) 0/1 label similarity, ``margin``: tensor broadcastable to
    (B, B, B) for ``mining="all"`` (indexed ``[a, p, n]``) or to (B,) for ``mining="hard"``.

    * ``mining="all"``: every valid triplet (``p != a``, ``s_ap = 1``, ``s_an = 0``); ``reduction="valid"``
      averages over all valid triplets, ``"active"`` over those with a positive hinge.
    * ``mining="hard"``: per anchor the farthest positive and the nearest negative (Hermans et al. 2017),
      averaged over anchors that have both.

    Returns ``(loss, fraction_active)``; both are 0 (keeping the graph) when the batch has no valid triplet.
    """
    n = dist.shape[0]
    eye = torch.eye(n, dtype=torch.bool, device=dist.device)
    pos = (sim > 0) & ~eye
    neg = sim <= 0
    zero = dist.sum() * 0.0
    if mining == "hard":
        has = pos.any(1) & neg.any(1)
        if not bool(has.any()):
            return zero, zero.detach()
        big = torch.finfo(dist.dtype).max
        d_ap = torch.where(pos, dist, torch.full_like(dist, -big)).max(1).values
        d_an = torch.where(neg, dist, torch.full_like(dist, big)).min(1).values
        m = margin.reshape(-1) if margin.dim() else margin
        vals = torch.clamp(m + d_ap - d_an, min=0)[has]
        return vals.mean(), (vals > 0).float().mean().detach()
    if mining != "all":
        raise ValueError(f"mining must be 'all' or 'hard', got {mining!r}")
    valid = pos[:, :, None] & neg[:, None, :]
    if not bool(valid.any()):
        return zero, zero.detach()
    vals = torch.clamp(margin + dist[:, :, None] - dist[:, None, :], min=0)[valid]
    active = vals > 0
    frac = active.float().mean().detach()
    if reduction == "valid":
        return vals.mean(), frac
    if reduction == "active":
        return (vals[active].mean() if bool(active.any()) else zero), frac
    raise ValueError(f"reduction must be 'valid' or 'active', got {reduction!r}")


def check_mining(mining: str, reduction: str) -> None:
    if mining not in ("all", "hard"):
        raise ValueError(f"mining must be 'all' or 'hard', got {mining!r}")
    if reduction not in ("valid", "active"):
        raise ValueError(f"reduction must be 'valid' or 'active', got {reduction!r}")


@register_loss
class TripletLoss(HashLoss):
    r"""Triplet ranking loss on relaxed codes (Schroff et al., FaceNet, CVPR 2015; thesis §2.3.3):

    .. math::
        L = \operatorname{mean}_{(a,p,n)} \big[m + \|h_a - h_p\|_2^2 - \|h_a - h_n\|_2^2\big]_+

    over all valid triplets of the batch (``mining="all"``, mean over valid triplets by default, or over active
    ones with ``reduction="active"``), or the batch-hard triplets (``mining="hard"``). Units: squared distances
    of relaxed ±1 codes, where one differing bit costs 4; the default ``margin = bits`` asks the negative to be
    at least ``L/4`` bits farther than the positive (our choice; the thesis gives no value for a plain triplet).
    """

    name = "triplet"
    family = "triplet"

    def __init__(
        self,
        bits: int,
        n_classes: int,
        margin: float | None = None,
        mining: Mining = "all",
        reduction: Reduction = "valid",
    ) -> None:
        super().__init__(bits, n_classes)
        check_mining(mining, reduction)
        self.margin = float(bits) if margin is None else margin
        self.mining = mining
        self.reduction = reduction

    def forward(self, h: Tensor, labels: Tensor, **context) -> LossOutput:
        labels = self.check_inputs(h, labels)
        dist = (h[:, None, :] - h[None, :, :]).pow(2).sum(-1)
        sim = self.similarity(labels)
        if self.mining == "hard":
            m = self._margin_like(dist[:, 0], per_anchor_dims=0)
        else:
            m = self._margin_like(dist[:, :, None].expand(-1, -1, dist.shape[0]), per_anchor_dims=2)
        loss, frac = triplet_hinge(dist, sim, m, self.mining, self.reduction)
        return LossOutput(loss, {"triplet": loss.detach(), "active_fraction": frac})
