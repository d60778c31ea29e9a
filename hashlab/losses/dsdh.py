"""DSDH: Deep Supervised Discrete Hashing (Li, Sun, He, Tan, NeurIPS 2017)."""

from __future__ import annotations

import torch
from torch import Tensor

from .base import HashLoss, LossOutput, register_loss, sign_codes
from .dpsh import pairwise_nll


@register_loss
class DSDHLoss(HashLoss):
    r"""Pairwise likelihood + discrete codes ``B`` that also regress the labels, optimised by alternation.

    Li et al., "Deep Supervised Discrete Hashing", NeurIPS 2017 (thesis §3.2.1). Full objective over the
    training set (``U`` = network outputs, ``B`` in ±1, ``W`` in :math:`\mathbb{R}^{L \times C}`):

    .. math::
        J = -\sum_{ij}\big(s_{ij}\theta_{ij} - \log(1 + e^{\theta_{ij}})\big)
            + \mu \|Y - W^\top B\|_F^2 + \nu \|W\|_F^2 + \eta \|B - U\|_F^2,
        \qquad \theta_{ij} = \tfrac12 u_i^\top u_j .

    * network step (``forward``, per batch): ``mean_{i != j} NLL + quant_weight * mean_{i,k} (h_ik - b_ik)^2``
      with ``b = B[index]`` (before the first B-step ``b = sgn(h)``, the thesis's :math:`\|h - sgn(h)\|^2`);
      the outputs are stored in a memory bank ``U[index]``.
    * ``on_epoch_end``: ``dcc_iter`` rounds of the W-step
      :math:`W = (B B^\top + \tfrac{\nu}{\mu} I)^{-1} B Y^\top` (closed form) and the B-step by discrete cyclic
      coordinate descent, bit by bit: :math:`B_{k\cdot} = \operatorname{sgn}(P_{k\cdot} - w_k^\top W'^\top B')`,
      :math:`P = W Y + \tfrac{\eta}{\mu} U` (``W'``, ``B'``: ``W``, ``B`` without row ``k``). Each bit update
      minimises :math:`\mu\|Y - W^\top B\|^2 + \eta\|B - U\|^2` exactly, so :meth:`objective` never increases.

    Thesis: it writes :math:`\lambda_2\|Y - W^\top B\|` and :math:`\lambda_3\|W\|_F` without squares; the
    squared Frobenius norms of the paper are used (they give the closed-form W-step). Constants:

    * ``mu = 1``, ``nu = 0.1``, ``eta = 55``: the authors' code (liqi-casia/DSDH-HashingCode: ``setup.m`` runs
      ``eta = 55``; ``train.m`` solves the W-step by ridge regression ``RRC(B, Y, lambda = 0.1)``, i.e.
      ``nu / mu = 0.1``). DeepHash-pytorch and the TreezzZ/DSDH_PyTorch port use ``nu = 1``; ``B^T B`` is about
      ``N I`` for ``N`` training samples, so the two give the same ``W`` to within ``1 / N`` (identical test mAP
      on digits, 24 bits, 3 seeds; ``docs/assumptions.md``).
    * ``dcc_iter = 10`` rounds per epoch (authors' code: at most 10 DCC sweeps; DeepHash-pytorch ``dcc_iter``).
    * ``quant_weight = 0.1`` is the weight of the per-element-mean network term ``mean (h - b)^2``: the paper's
      ``eta`` multiplies a sum over the training set (the authors' gradient is ``(S - A) U - 2 eta (u - b)``
      summed over all N), which per batch mean corresponds to about ``eta L / N`` (0.26 for 24 bits and 5,000
      images); a fixed 0.1 keeps it from swamping the likelihood at any N.
    * ``B`` starts as random signs (seeded; TreezzZ/DSDH_PyTorch; the authors' code sets ``B = sgn(U)`` batch by
      batch), and the discrete steps run once per epoch over the whole training set (DeepHash-pytorch; the
      authors' code runs them per batch). Rows never seen keep ``U = 0``.
    """

    name = "dsdh"
    family = "pairwise"
    needs_index = True

    def __init__(
        self,
        bits: int,
        n_classes: int,
        mu: float = 1.0,
        nu: float = 0.1,
        eta: float = 55.0,
        quant_weight: float = 0.1,
        dcc_iter: int = 10,
        seed: int = 0,
    ) -> None:
        super().__init__(bits, n_classes)
        for pname, val in (("mu", mu), ("eta", eta), ("nu", nu), ("quant_weight", quant_weight)):
            if not val >= 0:
                raise ValueError(f"{pname} must be >= 0, got {val}")
        if mu <= 0:
            raise ValueError(f"mu must be > 0 (it divides nu and eta in the B- and W-steps), got {mu}")
        if int(dcc_iter) < 1:
            raise ValueError(f"dcc_iter must be >= 1, got {dcc_iter}")
        self.mu, self.nu, self.eta = float(mu), float(nu), float(eta)
        self.quant_weight = float(quant_weight)
        self.dcc_iter = int(dcc_iter)
        self.seed = int(seed)
        self.b_ready = False
        # Training-set state: non-persistent (rebuilt by prepare(); not part of the saved model).
        self.register_buffer("U", torch.zeros(0, bits), persistent=False)
        self.register_buffer("B", torch.zeros(0, bits), persistent=False)
        self.register_buffer("Y", torch.zeros(0, n_classes), persistent=False)
        self.register_buffer("W", torch.zeros(bits, n_classes), persistent=False)
        self.register_buffer("seen", torch.zeros(0, dtype=torch.bool), persistent=False)

    # ------------------------------------------------------------------ state
    def prepare(self, train_labels: Tensor) -> None:
        """Allocate ``U``, ``B`` (random signs), ``Y`` (one-hot / multi-hot) for the ``N`` training samples."""
        labels = torch.as_tensor(train_labels)
        if labels.dim() == 1:
            if labels.is_floating_point():
                raise ValueError("train_labels of shape (N,) must be integer class ids")
            if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= self.n_classes):
                raise ValueError(f"train_labels must lie in [0, {self.n_classes})")
            y = torch.nn.functional.one_hot(labels.long(), self.n_classes).float()
        elif labels.dim() == 2 and labels.shape[1] == self.n_classes:
            y = labels.float()
        else:
            raise ValueError(
                f"train_labels must have shape (N,) or (N, {self.n_classes}), got {tuple(labels.shape)}"
            )
        n = y.shape[0]
        if n == 0:
            raise ValueError("train_labels is empty")
        dev = self.W.device
        gen = torch.Generator().manual_seed(self.seed)
        self.Y = y.to(dev)
        self.U = torch.zeros(n, self.bits, device=dev)
        self.B = (torch.randint(0, 2, (n, self.bits), generator=gen).float() * 2 - 1).to(dev)
        self.W = torch.zeros(self.bits, self.n_classes, device=dev)
        self.seen = torch.zeros(n, dtype=torch.bool, device=dev)
        self.b_ready = False

    def _index(self, context: dict) -> Tensor:
        if self.U.shape[0] == 0:
            raise ValueError("DSDH needs prepare(train_labels) before training")
        index = context.get("index")
        if index is None:
            raise ValueError("DSDH needs context['index'] (positions of the batch in the training split)")
        index = torch.as_tensor(index, device=self.U.device).long().reshape(-1)
        if index.numel() and (int(index.min()) < 0 or int(index.max()) >= self.U.shape[0]):
            raise ValueError(f"index out of range [0, {self.U.shape[0]})")
        return index

    # ------------------------------------------------------------------ network step
    def forward(self, h: Tensor, labels: Tensor, **context) -> LossOutput:
        labels = self.check_inputs(h, labels)
        index = self._index(context)
        if index.numel() != h.shape[0]:
            raise ValueError(f"index has {index.numel()} entries but the batch has {h.shape[0]}")
        y = self.one_hot(labels)
        if not torch.equal(y.to(self.Y.device), self.Y[index]):
            raise ValueError("labels do not match the labels given to prepare() at context['index']")
        if self.training:
            self.U[index] = h.detach().to(self.U.dtype)
            self.seen[index] = True
        s = self.similarity(labels).to(h.dtype)
        likelihood = self.pair_mean(pairwise_nll(0.5 * h @ h.T, s))
        b = self.B[index].to(h.dtype) if self.b_ready else sign_codes(h)
        quant = (h - b).pow(2).mean()
        total = likelihood + self.quant_weight * quant
        with torch.no_grad():
            regression = (self.Y[index] - self.B[index] @ self.W).pow(2).sum(1).mean()
        return LossOutput(
            total,
            {"likelihood": likelihood.detach(), "quantization": quant.detach(), "regression": regression},
        )

    # ------------------------------------------------------------------ discrete steps
    @torch.no_grad()
    def w_step(self) -> None:
        """Closed-form ``W = (B B^T + nu/mu I)^{-1} B Y^T`` (here ``B`` is stored N x L, so ``B^T B``)."""
        b, y = self.B.double(), self.Y.double()
        a = b.T @ b + (self.nu / self.mu) * torch.eye(self.bits, dtype=b.dtype, device=b.device)
        self.W = torch.linalg.solve(a, b.T @ y).to(self.W.dtype)

    @torch.no_grad()
    def b_step(self) -> None:
        """One sweep of discrete cyclic coordinate descent over the bits of ``B`` (``W``, ``U`` fixed)."""
        b, w = self.B.double(), self.W.double()
        p = self.Y.double() @ w.T + (self.eta / self.mu) * self.U.double()  # (N, L) = (W Y + eta/mu U)^T
        for k in range(self.bits):
            rest = [j for j in range(self.bits) if j != k]
            q = p[:, k] - b[:, rest] @ (w[rest] @ w[k])
            b[:, k] = torch.where(q >= 0, 1.0, -1.0)
        self.B = b.to(self.B.dtype)

    @torch.no_grad()
    def objective(self) -> float:
        """The discrete part of ``J``: ``mu ||Y - W^T B||^2 + nu ||W||^2 + eta ||B - U||^2`` (sums)."""
        b, w, y, u = self.B.double(), self.W.double(), self.Y.double(), self.U.double()
        return float(
            self.mu * (y - b @ w).pow(2).sum() + self.nu * w.pow(2).sum() + self.eta * (b - u).pow(2).sum()
        )

    def on_epoch_end(self) -> None:
        """``dcc_iter`` rounds of W-step then B-step; afterwards the network is pulled towards ``B``."""
        if self.U.shape[0] == 0 or not bool(self.seen.any()):
            return
        for _ in range(self.dcc_iter):
            self.w_step()
            self.b_step()
        self.w_step()
        self.b_ready = True
