"""CSQ: Central Similarity Quantization (Yuan, Wang, Xu, Cheng, Feng, Tay, CVPR 2020)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from .base import HashLoss, LossOutput, register_loss, sign_codes


def hadamard(n: int) -> Tensor:
    """Sylvester Hadamard matrix of order ``n`` (a power of two), entries ±1."""
    if n < 1 or n & (n - 1):
        raise ValueError(f"Hadamard order must be a power of two, got {n}")
    h = torch.ones(1, 1)
    while h.shape[0] < n:
        h = torch.cat([torch.cat([h, h], 1), torch.cat([h, -h], 1)], 0)
    return h


def hash_centers(n_classes: int, bits: int, seed: int = 0, tries: int = 100) -> Tensor:
    """CSQ hash centres (C, L) in ±1.

    Rows of ``[H; -H]`` for the Hadamard matrix ``H`` of order ``bits`` when ``bits`` is a power of two and
    ``n_classes <= 2 bits`` (pairwise Hamming distance ``>= L/2``); otherwise Bernoulli(0.5) draws, keeping the
    draw (out of ``tries``, seeded) with the largest minimum pairwise Hamming distance.
    """
    if bits & (bits - 1) == 0 and n_classes <= 2 * bits:
        h = hadamard(bits)
        return torch.cat([h, -h], 0)[:n_classes].clone()
    gen = torch.Generator().manual_seed(seed)
    best, best_d = None, -1.0
    for _ in range(max(1, tries)):
        c = torch.randint(0, 2, (n_classes, bits), generator=gen).float() * 2 - 1
        if n_classes < 2:
            return c
        d = (bits - c @ c.T) / 2
        d.fill_diagonal_(float(bits))
        md = float(d.min())
        if md > best_d:
            best, best_d = c, md
    assert best is not None
    return best


@register_loss
class CSQLoss(HashLoss):
    r"""Binary cross-entropy to a per-class hash centre plus a quantization penalty.

    Yuan et al., "Central Similarity Quantization for Efficient Image and Video Retrieval", CVPR 2020:

    .. math::
        L = \operatorname{mean}_{i,k} \operatorname{BCE}\big(\tfrac12(h_{ik} + 1), \tfrac12(c_{ik} + 1)\big)
            + \lambda \operatorname{mean}_{i,k} (|h_{ik}| - 1)^2

    with ``c_i`` the centre of sample ``i``'s class (:func:`hash_centers`: Hadamard rows, or Bernoulli when
    ``n_classes > 2L`` or ``L`` is not a power of two). Multi-label: ``c_i = sgn(sum_{k in y_i} c_k)`` with ties
    to +1 (the paper breaks ties at random). ``lambda = 1e-4`` (authors' code and DeepHash-pytorch).
    """

    name = "csq"
    family = "center"

    def __init__(self, bits: int, n_classes: int, quant_weight: float = 1e-4, seed: int = 0) -> None:
        super().__init__(bits, n_classes)
        if quant_weight < 0:
            raise ValueError(f"quant_weight must be >= 0, got {quant_weight}")
        self.quant_weight = float(quant_weight)
        self.seed = int(seed)
        self.register_buffer("centers", hash_centers(n_classes, bits, seed=self.seed))

    def targets(self, labels: Tensor) -> Tensor:
        """±1 centre of each sample (validated labels)."""
        if labels.dim() == 1:
            return self.centers[labels]
        return sign_codes(labels.to(self.centers.dtype) @ self.centers)

    def forward(self, h: Tensor, labels: Tensor, **context) -> LossOutput:
        labels = self.check_inputs(h, labels)
        c = self.targets(labels).to(h.dtype)
        p = (0.5 * (h + 1)).clamp(0.0, 1.0)
        center = F.binary_cross_entropy(p, 0.5 * (c + 1))
        quant = (h.abs() - 1).pow(2).mean()
        total = center + self.quant_weight * quant
        return LossOutput(total, {"center": center.detach(), "quantization": quant.detach()})
