"""Extra loss terms for continual updates, plugged into ``HashingModule.extra_loss_terms``.

Each term is a callable ``term(module, batch, h) -> (name, value)`` where ``batch = (x, y, idx)`` and ``idx`` are
row positions in the update's training set, so per-item targets are looked up by ``idx``.

* :class:`TargetTerm` - distillation towards per-item targets (LwF-style output distillation, Li & Hoiem,
  ECCV 2016, adapted to hash outputs as Crawford & Ahuja, undated preprint, §3, propose; pinned stored codes for replayed items):
  ``L = lambda * mean_{i in batch, mask_i} ||u_i[:k'] - t_i||² / k'``.
* :class:`AsymmetricCodeTerm` - the lifelong hashing loss (Xu et al. 2023, in the asymmetric ADSH form of Jiang & Li,
  AAAI 2018, and DIHN, Wu et al. 2019): relaxed codes of the training batch against the *frozen* stored database
  codes ``B_old``, ``L = gamma * mean_{i in batch, j in old} (u_iᵀ b_j / k - s_ij)²`` with ``s_ij = 1`` for a
  shared label and ``s_ij = dissimilar`` otherwise (0: orthogonal codes, k/2 bits apart; -1: ADSH's opposite
  codes). The old codes are constants, so they stay valid without re-hashing.
"""

from __future__ import annotations

import numpy as np
import torch

from hashlab.codes import label_similarity

__all__ = ["AsymmetricCodeTerm", "TargetTerm"]


class TargetTerm:
    """``weight * mean ||u_i[:k'] - t_i||² / k'`` over the batch items whose ``mask`` is set."""

    def __init__(
        self, targets: np.ndarray, weight: float, mask: np.ndarray | None = None, name: str = "distill"
    ):
        t = np.asarray(targets, dtype=np.float32)
        if t.ndim != 2 or len(t) == 0:
            raise ValueError(f"targets must be a non-empty 2-D array, got shape {t.shape}")
        if weight < 0:
            raise ValueError(f"distillation weight must be >= 0, got {weight}")
        m = np.ones(len(t), dtype=bool) if mask is None else np.asarray(mask, dtype=bool)
        if m.shape != (len(t),):
            raise ValueError(f"mask has shape {m.shape}, expected ({len(t)},)")
        self.targets, self.mask = torch.from_numpy(t), torch.from_numpy(m)
        self.weight, self.name = float(weight), name

    def __call__(self, module, batch: tuple, h: torch.Tensor) -> tuple[str, torch.Tensor]:
        idx = batch[2].cpu()
        m = self.mask[idx]
        if not bool(m.any()):
            return self.name, h.sum() * 0.0
        t = self.targets[idx[m]].to(h.device)
        u = h[m.to(h.device)][:, : t.shape[1]]
        return self.name, self.weight * ((u - t) ** 2).sum(1).mean() / t.shape[1]


class AsymmetricCodeTerm:
    """``gamma * mean (u_iᵀ b_j / k - s_ij)²`` between batch relaxed codes and frozen database codes."""

    def __init__(
        self,
        db_codes: np.ndarray,
        db_labels: np.ndarray,
        weight: float,
        dissimilar: float = 0.0,
        max_db: int = 2000,
        seed: int = 0,
        name: str = "asym",
    ):
        b = np.asarray(db_codes)
        if b.ndim != 2 or len(b) == 0:
            raise ValueError(f"the frozen database codes must be a non-empty 2-D array, got shape {b.shape}")
        if len(db_labels) != len(b):
            raise ValueError(f"{len(b)} database codes but {len(db_labels)} labels")
        if weight < 0:
            raise ValueError(f"asymmetric weight must be >= 0, got {weight}")
        if not -1.0 <= dissimilar < 1.0:
            raise ValueError(f"dissimilar target must be in [-1, 1), got {dissimilar}")
        self.codes = torch.from_numpy(np.array(b, dtype=np.float32))
        self.labels = torch.as_tensor(np.asarray(db_labels))
        self.weight, self.dissimilar, self.max_db, self.name = float(weight), float(dissimilar), max_db, name
        self.generator = torch.Generator().manual_seed(seed)

    def __call__(self, module, batch: tuple, h: torch.Tensor) -> tuple[str, torch.Tensor]:
        y = batch[1].cpu()
        codes, labels = self.codes, self.labels
        if len(codes) > self.max_db:  # a seeded random subset of the old database per step
            pick = torch.randperm(len(codes), generator=self.generator)[: self.max_db]
            codes, labels = codes[pick], labels[pick]
        same = label_similarity(y, labels)
        s = torch.where(same, 1.0, self.dissimilar).to(h.device)
        bits = codes.shape[1]
        inner = h[:, :bits] @ codes.to(h.device).T / bits
        return self.name, self.weight * ((inner - s) ** 2).mean()
