"""Plain triplet ranking loss on relaxed codes, and the triplet formation shared by the triplet losses.

Triplets are formed inside each batch: ``mining="sampled"`` (default) draws ``max_triplets`` of the batch's
valid triplets uniformly at random (seeded; all of them when there are fewer; cost ``O(B^2 + max_triplets)``),
``"all"`` takes every valid triplet (batch-all, ``O(B^3)``), ``"hard"`` each anchor's farthest positive and
nearest negative (Hermans et al. 2017).
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor

from hashlab.checks import check_positive_int

from .base import HashLoss, LossOutput, register_loss

Mining = Literal["sampled", "all", "hard"]
Reduction = Literal["valid", "active"]

#: Default bound on the triplets of one batch for ``mining="sampled"``.
MAX_TRIPLETS = 4096


def sample_triplets(
    sim: Tensor, generator: torch.Generator, max_triplets: int = MAX_TRIPLETS
) -> tuple[Tensor, Tensor, Tensor]:
    """Indices ``(a, p, n)`` of the batch's triplets: all of them, or ``max_triplets`` drawn uniformly.

    ``sim`` is the (B, B) 0/1 label similarity; a valid triplet has ``a != p``, ``s_ap = 1`` and ``s_an = 0``.
    When the batch has at most ``max_triplets`` valid triplets they are all returned (batch-all, in index
    order). Otherwise ``max_triplets`` triplets are drawn uniformly at random, with replacement, from the valid
    ones: an (anchor, positive) pair with probability proportional to its anchor's number of negatives, then one
    of those negatives uniformly. The mean hinge over them is then an unbiased estimate of the batch-all mean at
    ``O(B^2 + max_triplets)`` cost instead of ``O(B^3)``. All draws use ``generator`` (on the CPU), so a seeded
    generator gives the same triplets for the same batches. Returns index tensors on ``sim``'s device (empty
    when the batch has no valid triplet).
    """
    check_positive_int(max_triplets, "max_triplets")
    s = sim.detach().to("cpu") > 0
    n = s.shape[0]
    neg = ~s
    n_neg = neg.sum(1)
    pairs = (s & ~torch.eye(n, dtype=torch.bool) & (n_neg > 0)[:, None]).nonzero()
    empty = torch.zeros(0, dtype=torch.long, device=sim.device)
    if pairs.shape[0] == 0:
        return empty, empty, empty
    weights = n_neg[pairs[:, 0]]
    if int(weights.sum()) <= max_triplets:
        # few enough: every valid triplet, as batch-all
        pair_idx, nidx = neg[pairs[:, 0]].nonzero(as_tuple=True)
        a, p = pairs[pair_idx, 0], pairs[pair_idx, 1]
    else:
        pick = torch.multinomial(weights.double(), max_triplets, replacement=True, generator=generator)
        a, p = pairs[pick, 0], pairs[pick, 1]
        # a uniform negative of each anchor: the r-th of its negatives, r uniform in [0, n_neg(a))
        r = (torch.rand(max_triplets, generator=generator, dtype=torch.float64) * n_neg[a]).long()
        r = torch.minimum(r, n_neg[a] - 1)
        order = torch.argsort((~neg).to(torch.int8), dim=1, stable=True)  # each row: its negatives first
        nidx = order[a, r]
    return a.to(sim.device), p.to(sim.device), nidx.to(sim.device)


def triplet_hinge(
    dist: Tensor,
    sim: Tensor,
    margin: Tensor,
    mining: Mining = "all",
    reduction: Reduction = "valid",
    generator: torch.Generator | None = None,
    max_triplets: int = MAX_TRIPLETS,
) -> tuple[Tensor, Tensor]:
    r"""Mean of :math:`[m + d_{ap} - d_{an}]_+` over the triplets of one batch.

    ``dist``: (B, B) distances, ``sim``: (B, B) 0/1 label similarity, ``margin``: tensor broadcastable to
    (B, B, B) (indexed ``[a, p, n]``) for ``mining="all"``/``"sampled"``, or to (B,) for ``mining="hard"``.

    * ``mining="sampled"``: the triplets of :func:`sample_triplets` (needs ``generator``).
    * ``mining="all"``: every valid triplet (``p != a``, ``s_ap = 1``, ``s_an = 0``).
    * ``mining="hard"``: per anchor the farthest positive and the nearest negative (Hermans et al. 2017),
      averaged over anchors that have both.

    ``reduction="valid"`` averages over the formed triplets, ``"active"`` over those with a positive hinge.
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
    if mining == "sampled":
        if generator is None:
            raise ValueError("mining='sampled' needs a torch.Generator (the loss owns a seeded one)")
        a, p, k = sample_triplets(sim, generator, max_triplets)
        if a.numel() == 0:
            return zero, zero.detach()
        m = margin.expand(n, n, n)[a, p, k] if margin.dim() else margin
        vals = torch.clamp(m + dist[a, p] - dist[a, k], min=0)
    elif mining == "all":
        valid = pos[:, :, None] & neg[:, None, :]
        if not bool(valid.any()):
            return zero, zero.detach()
        vals = torch.clamp(margin + dist[:, :, None] - dist[:, None, :], min=0)[valid]
    else:
        raise ValueError(f"mining must be 'sampled', 'all' or 'hard', got {mining!r}")
    active = vals > 0
    frac = active.float().mean().detach()
    if reduction == "valid":
        return vals.mean(), frac
    if reduction == "active":
        return (vals[active].mean() if bool(active.any()) else zero), frac
    raise ValueError(f"reduction must be 'valid' or 'active', got {reduction!r}")


def check_mining(mining: str, reduction: str, max_triplets: int = MAX_TRIPLETS) -> None:
    """One clear error for a bad ``mining`` / ``reduction`` / ``max_triplets`` option."""
    if mining not in ("sampled", "all", "hard"):
        raise ValueError(f"mining must be 'sampled', 'all' or 'hard', got {mining!r}")
    if reduction not in ("valid", "active"):
        raise ValueError(f"reduction must be 'valid' or 'active', got {reduction!r}")
    check_positive_int(max_triplets, "max_triplets")


class TripletMiningMixin:
    """Seeded triplet formation for a triplet loss: ``mining``, ``reduction``, ``max_triplets``, ``seed``.

    The generator is created from ``seed`` at construction and advances with every batch, so two losses built
    with the same seed form the same triplets on the same batches; :meth:`reseed` restarts it.
    """

    mining: str
    reduction: str
    max_triplets: int
    seed: int

    def _init_mining(self, mining: str, reduction: str, max_triplets: int, seed: int) -> None:
        check_mining(mining, reduction, max_triplets)
        self.mining, self.reduction = mining, reduction
        self.max_triplets, self.seed = int(max_triplets), int(seed)
        self.reseed()

    def reseed(self, seed: int | None = None) -> None:
        """Restart the triplet sampler from ``seed`` (default: the constructor's)."""
        if seed is not None:
            self.seed = int(seed)
        self._generator = torch.Generator().manual_seed(self.seed)

    def hinge(self, dist: Tensor, sim: Tensor, margin_of) -> tuple[Tensor, Tensor]:
        """:func:`triplet_hinge` with this loss's options; ``margin_of(ref, per_anchor_dims)`` is ``_margin_like``."""
        n = dist.shape[0]
        if self.mining == "hard":
            m = margin_of(dist[:, 0], 0)
        else:
            m = margin_of(dist[:, :, None].expand(-1, -1, n), 2)
        return triplet_hinge(dist, sim, m, self.mining, self.reduction, self._generator, self.max_triplets)


@register_loss
class TripletLoss(TripletMiningMixin, HashLoss):
    r"""Triplet ranking loss on relaxed codes (Schroff, Kalenichenko, Philbin, FaceNet, CVPR 2015; thesis §2.3.3):

    .. math::
        L = \operatorname{mean}_{(a,p,n)} \big[m + \|h_a - h_p\|_2^2 - \|h_a - h_n\|_2^2\big]_+

    over the triplets of the batch: by default ``max_triplets`` of its valid triplets drawn uniformly (seeded; all
    of them when there are fewer; FaceNet takes all anchor-positive pairs with semi-hard negatives from large
    batches), or batch-all (``mining="all"``) or batch-hard (``"hard"``); mean over the formed triplets
    (``reduction="active"``: over those with a positive hinge). ``h = tanh(z)``. Units: squared distances of
    relaxed ±1 codes, where one differing bit costs 4; the default ``margin = bits`` asks the negative to be at
    least ``L/4`` bits farther than the positive (hashlab's choice; the thesis gives no value for a plain triplet).
    """

    name = "triplet"
    family = "triplet"

    def __init__(
        self,
        bits: int,
        n_classes: int,
        margin: float | None = None,
        mining: Mining = "sampled",
        reduction: Reduction = "valid",
        max_triplets: int = MAX_TRIPLETS,
        seed: int = 0,
    ) -> None:
        super().__init__(bits, n_classes)
        self._init_mining(mining, reduction, max_triplets, seed)
        self.margin = float(bits) if margin is None else margin

    def forward(self, h: Tensor, labels: Tensor, **context) -> LossOutput:
        labels = self.check_inputs(h, labels)
        dist = (h[:, None, :] - h[None, :, :]).pow(2).sum(-1)
        loss, frac = self.hinge(dist, self.similarity(labels), lambda ref, k: self._margin_like(ref, k))
        return LossOutput(loss, {"triplet": loss.detach(), "active_fraction": frac})
