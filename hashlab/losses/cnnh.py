"""CNNH: Supervised Hashing for Image Retrieval via Image Representation Learning (Xia et al., AAAI 2014)."""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from hashlab.codes import label_similarity

from .base import HashLoss, LossOutput, register_loss


def group_labels(
    train_labels: Tensor | np.ndarray, n_classes: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Group samples with identical labels: ``(group_label_rows (G, C) multi-hot, counts (G,), inverse (N,))``."""
    y = np.asarray(train_labels.cpu() if isinstance(train_labels, Tensor) else train_labels)
    if y.ndim == 1:
        if y.size and (not np.issubdtype(y.dtype, np.integer) or y.min() < 0 or y.max() >= n_classes):
            raise ValueError(f"train_labels of shape (N,) must be integer class ids in [0, {n_classes})")
        groups, inverse, counts = np.unique(y, return_inverse=True, return_counts=True)
        rows = np.zeros((len(groups), n_classes), dtype=np.float64)
        rows[np.arange(len(groups)), groups] = 1.0
        return rows, counts, inverse.reshape(-1)
    if y.ndim == 2 and y.shape[1] == n_classes:
        if y.size and not np.isin(y, (0, 1)).all():
            raise ValueError("multi-hot train_labels must contain only 0 and 1")
        rows, inverse, counts = np.unique(y.astype(np.int8), axis=0, return_inverse=True, return_counts=True)
        return rows.astype(np.float64), counts, inverse.reshape(-1)
    raise ValueError(f"train_labels must have shape (N,) or (N, {n_classes}), got {y.shape}")


def fit_group_codes(
    sim: np.ndarray, counts: np.ndarray, bits: int, sweeps: int = 10, seed: int = 0
) -> tuple[np.ndarray, list[float]]:
    r"""Discrete coordinate descent on :math:`\sum_{g,h} n_g n_h (c_g^\top c_h / L - S_{gh})^2`, ``c_g`` in ±1.

    Each entry ``c_gk`` is set to the sign that lowers the weighted objective, entries visited cyclically for
    ``sweeps`` sweeps (stops early when a sweep changes nothing). Returns the codes (G, L) and the objective
    after each sweep (non-increasing). Cost ``O(sweeps * G^2 * L)``.
    """
    rng = np.random.default_rng(seed)
    g = sim.shape[0]
    codes = rng.choice(np.array([-1.0, 1.0]), size=(g, bits))
    n = counts.astype(np.float64)
    dots = codes @ codes.T

    def objective() -> float:
        return float((n[:, None] * n[None, :] * (dots / bits - sim) ** 2).sum())

    history = [objective()]
    for _ in range(sweeps):
        changed = 0
        for a in range(g):
            others = np.arange(g) != a
            for k in range(bits):
                v = codes[a, k]
                old = dots[a, others] / bits - sim[a, others]
                new_dots = dots[a, others] - 2.0 * v * codes[others, k]
                new = new_dots / bits - sim[a, others]
                delta = 2.0 * n[a] * float((n[others] * (new**2 - old**2)).sum())
                if delta < -1e-12:
                    codes[a, k] = -v
                    dots[a, others] = new_dots
                    dots[others, a] = new_dots
                    changed += 1
        history.append(objective())
        if changed == 0:
            break
    return codes, history


@register_loss
class CNNHLoss(HashLoss):
    r"""Two-stage CNNH: fit target codes to the similarity matrix, then regress the network outputs onto them.

    Xia, Pan, Lai, Liu, Yan, AAAI 2014 (thesis §3.2.1, Algorithm 3 whose body is missing from the thesis text).

    Stage 1 (:meth:`prepare`): coordinate descent on

    .. math:: \min_{H \in \{-1,1\}^{N \times L}} \big\|\tfrac1L H H^\top - S\big\|_F^2, \qquad
              S_{ij} = 1 \text{ if } y_i, y_j \text{ share a class else } s_{-}

    with ``s_- = 0`` as in the thesis (the paper uses -1; ``s_dissimilar=-1`` restores it). To avoid an N x N
    matrix, samples with identical label vectors (a class for single-label data, a label set for multi-label
    data) share one code: the problem is solved exactly in that reduced form,
    :math:`\sum_{g,h} n_g n_h (c_g^\top c_h / L - S_{gh})^2` over the G groups, whose value equals the full
    objective for block-constant ``H`` (within-group entries are fitted exactly when ``S_gg = 1``). The
    coordinate descent is discrete (one ±1 entry at a time; the paper relaxes to [-1, 1] and takes the sign).

    Stage 2 (:meth:`forward`): :math:`\operatorname{mean}\|h_i - H_{index_i}\|^2` (paper and DeepHash-pytorch;
    ``regression="l1"``: the L1 fit of an older DeepHash-pytorch version) plus ``cls_weight`` times a softmax (or BCE for multi-hot) classifier on ``h`` (CNNH+,
    "part of the hash codes"; 0 by default). Defaults: ``sweeps = 10`` (T in DeepHash-pytorch).
    """

    name = "cnnh"
    family = "pairwise"
    needs_index = True

    def __init__(
        self,
        bits: int,
        n_classes: int,
        sweeps: int = 10,
        s_dissimilar: float = 0.0,
        regression: Literal["l2", "l1"] = "l2",
        cls_weight: float = 0.0,
        max_groups: int = 2048,
        seed: int = 0,
    ) -> None:
        super().__init__(bits, n_classes)
        if int(sweeps) < 1:
            raise ValueError(f"sweeps must be >= 1, got {sweeps}")
        if regression not in ("l2", "l1"):
            raise ValueError(f"regression must be 'l2' or 'l1', got {regression!r}")
        if cls_weight < 0:
            raise ValueError(f"cls_weight must be >= 0, got {cls_weight}")
        self.sweeps = int(sweeps)
        self.s_dissimilar = float(s_dissimilar)
        self.regression = regression
        self.cls_weight = float(cls_weight)
        self.max_groups = int(max_groups)
        self.seed = int(seed)
        self.stage1_history: list[float] = []
        self.classifier = nn.Linear(bits, n_classes) if cls_weight > 0 else None
        self.register_buffer("H", torch.zeros(0, bits), persistent=False)
        self.register_buffer("group_codes", torch.zeros(0, bits), persistent=False)

    def prepare(self, train_labels: Tensor) -> None:
        """Stage 1: learn the target codes ``H`` (N, L) for the training split."""
        rows, counts, inverse = group_labels(train_labels, self.n_classes)
        if len(counts) == 0:
            raise ValueError("train_labels is empty")
        if len(counts) > self.max_groups:
            raise ValueError(
                f"CNNH stage 1: {len(counts)} distinct label vectors exceed max_groups={self.max_groups}; "
                "raise max_groups (cost grows as groups^2 * bits)"
            )
        sim = np.where(label_similarity(rows), 1.0, self.s_dissimilar)
        codes, history = fit_group_codes(sim, counts, self.bits, self.sweeps, self.seed)
        self.stage1_history = history
        dev = self.H.device
        self.group_codes = torch.as_tensor(codes, dtype=torch.float32, device=dev)
        self.H = self.group_codes[torch.as_tensor(inverse, device=dev)]

    def forward(self, h: Tensor, labels: Tensor, **context) -> LossOutput:
        labels = self.check_inputs(h, labels)
        if self.H.shape[0] == 0:
            raise ValueError("CNNH needs prepare(train_labels) (stage 1) before training")
        index = context.get("index")
        if index is None:
            raise ValueError("CNNH needs context['index'] (positions of the batch in the training split)")
        index = torch.as_tensor(index, device=self.H.device).long().reshape(-1)
        if index.numel() != h.shape[0]:
            raise ValueError(f"index has {index.numel()} entries but the batch has {h.shape[0]}")
        if index.numel() and (int(index.min()) < 0 or int(index.max()) >= self.H.shape[0]):
            raise ValueError(f"index out of range [0, {self.H.shape[0]})")
        target = self.H[index].to(h.dtype)
        diff = h - target
        reg = diff.pow(2).mean() if self.regression == "l2" else diff.abs().mean()
        parts = {"regression": reg.detach()}
        total = reg
        if self.classifier is not None:
            logits = self.classifier(h.to(self.classifier.weight.dtype))
            if labels.dim() == 1:
                cls = F.cross_entropy(logits, labels)
            else:
                cls = F.binary_cross_entropy_with_logits(logits, labels.to(logits.dtype))
            total = total + self.cls_weight * cls
            parts["classification"] = cls.detach()
        return LossOutput(total, parts)
