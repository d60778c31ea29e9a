"""Hash heads: the trainable layers that map an input vector (an embedding) to ``L`` pre-activation outputs.

The thesis trains heads on frozen embeddings but does not specify their architecture; hashlab's default is an MLP
(``hidden`` widths, ReLU, optional dropout) ending in a linear layer of ``bits`` units (see docs/assumptions.md).
The loss decides the activation (tanh for most methods, ``tanh(beta z)`` for HashNet).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from hashlab.checks import check_positive_int

HEAD_KINDS = ("mlp", "divide_encode")


def check_bits(bits: int, max_bits: int = 4096) -> int:
    """Validate a code length: a positive integer no larger than ``max_bits``."""
    bits = check_positive_int(bits, "bit length (bits)")
    if bits > max_bits:
        raise ValueError(f"bit length (bits) must be in 1..{max_bits}, got {bits}")
    return bits


class MLPHead(nn.Module):
    """``in_dim -> hidden... -> bits`` with ReLU (and dropout) between layers, no output activation."""

    def __init__(self, in_dim: int, bits: int, hidden: Sequence[int] = (512,), dropout: float = 0.0):
        super().__init__()
        layers: list[nn.Module] = []
        width = in_dim
        for h in hidden:
            layers += [nn.Linear(width, h), nn.ReLU()]
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            width = h
        layers.append(nn.Linear(width, bits))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class DivideAndEncodeHead(nn.Module):
    """DNNH's divide-and-encode module (Lai et al., CVPR 2015), adapted to embedding inputs.

    A shared MLP maps the input to ``slice_dim * bits`` features, which are divided into ``bits`` slices;
    slice ``k`` is encoded by its own linear unit, so each bit sees only its own slice (reducing redundancy between
    bits). The paper uses 50-dimensional slices: ``slice_dim = 50``.
    """

    def __init__(
        self,
        in_dim: int,
        bits: int,
        hidden: Sequence[int] = (512,),
        slice_dim: int = 50,
        dropout: float = 0.0,
    ):
        super().__init__()
        self.bits, self.slice_dim = bits, slice_dim
        self.trunk = MLPHead(in_dim, slice_dim * bits, hidden, dropout)
        self.slice_weight = nn.Parameter(torch.randn(bits, slice_dim) / slice_dim**0.5)
        self.slice_bias = nn.Parameter(torch.zeros(bits))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        slices = torch.relu(self.trunk(x)).view(-1, self.bits, self.slice_dim)
        return (slices * self.slice_weight).sum(-1) + self.slice_bias


def build_head(
    kind: str, in_dim: int, bits: int, hidden: Sequence[int] = (512,), dropout: float = 0.0
) -> nn.Module:
    """Build a hash head by kind (``"mlp"`` or ``"divide_encode"``)."""
    bits = check_bits(bits)
    check_positive_int(in_dim, "input dimension (in_dim)")
    if kind == "mlp":
        return MLPHead(in_dim, bits, hidden, dropout)
    if kind == "divide_encode":
        return DivideAndEncodeHead(in_dim, bits, hidden, dropout=dropout)
    raise KeyError(f"unknown head kind {kind!r}; available: {', '.join(HEAD_KINDS)}")
