"""Base class, output type and registry shared by every hashing loss.

Conventions (see ``docs/architecture.md``):

* ``h`` is the relaxed code, shape ``(B, bits)``, already passed through :meth:`HashLoss.activation`.
* ``labels`` is ``(B,)`` int64 (single-label) or ``(B, C)`` multi-hot; ``s_ij = 1`` iff the two samples share at
  least one class.
* Pairwise losses use **all pairs** ``i != j`` of the batch and average over them. Triplet losses (DNNH, the plain
  triplet) draw a bounded, seeded sample of the batch's valid triplets by default (``mining="sampled"``: at most
  ``max_triplets``, uniformly, an unbiased estimate of the batch-all mean), since batch-all triplets grow as
  ``B^3``; ``mining="all"`` and ``"hard"`` are options. DSH-GAN and TCL form their own triplets (one synthetic pair per sample; centres).
* A loss owns what its method needs beyond a gradient step: :meth:`HashLoss.callbacks` returns the Lightning
  callbacks that belong to the method (HashNet's continuation of ``beta``); a loss with ``needs_input_dim = True``
  gets the head's input size through :meth:`HashLoss.bind_input_dim` before training (DSH-GAN's generator).
* A loss with a margin exposes ``margin`` as a plain mutable attribute (float or tensor broadcastable to the loss's
  per-term tensor); the setter rejects negative or non-finite values.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple

import torch
from torch import Tensor, nn

from hashlab.checks import check_finite, check_nonnegative, check_positive_int
from hashlab.codes import label_similarity

if TYPE_CHECKING:
    from pytorch_lightning import Callback

__all__ = [
    "LossOutput",
    "HashLoss",
    "register_loss",
    "get_loss",
    "available_losses",
    "THESIS_METHODS",
    "sign_codes",
]

#: The nine methods studied in the thesis, in the thesis's order (pairwise, then triplet, then TCL).
THESIS_METHODS: tuple[str, ...] = ("dsh", "cnnh", "dpsh", "dhn", "hashnet", "dsdh", "dnnh", "dshgan", "tcl")

_REGISTRY: dict[str, type[HashLoss]] = {}


class LossOutput(NamedTuple):
    """What every loss returns: the scalar to minimise and named scalar parts for logging."""

    total: Tensor
    parts: dict[str, Tensor]


def sign_codes(x: Tensor) -> Tensor:
    """``sgn`` with ``sgn(0) = +1`` (the library-wide convention), same dtype as ``x``, no gradient."""
    x = x.detach()
    return torch.where(x >= 0, torch.ones_like(x), -torch.ones_like(x))


def _check_margin_value(value: Any, owner: str) -> float | Tensor:
    if isinstance(value, Tensor):
        if value.is_floating_point() is False:
            value = value.float()
        check_finite(value, f"{owner}: margin")
        if bool((value < 0).any()):
            raise ValueError(f"{owner}: margin must be >= 0, got a tensor with min {value.min().item():g}")
        return value.detach()
    return check_nonnegative(value, f"{owner}: margin")


class HashLoss(nn.Module):
    """Base class of all hashing losses.

    Subclasses set ``name``/``family`` (and ``head`` when they need a special head), implement :meth:`forward`,
    and may override :meth:`activation`, :meth:`prepare`, :meth:`on_epoch_end`, :meth:`callbacks` and (with
    ``needs_input_dim = True``) :meth:`bind_input_dim`.
    """

    name: ClassVar[str] = ""
    family: ClassVar[str] = ""
    head: ClassVar[str] = "mlp"
    #: True when the loss needs ``prepare(train_labels)`` and ``context["index"]`` (CNNH, DSDH).
    needs_index: ClassVar[bool] = False
    #: True when the loss must know the head's input size before training (DSH-GAN generates embeddings of that
    #: size); the module then calls :meth:`bind_input_dim` once, right after building the loss.
    needs_input_dim: ClassVar[bool] = False

    def __init__(self, bits: int, n_classes: int, **hparams: Any) -> None:
        super().__init__()
        if hparams:
            raise ValueError(f"{type(self).__name__}: unknown hyper-parameters {sorted(hparams)}")
        self.bits = check_positive_int(bits, "bits")
        self.n_classes = check_positive_int(n_classes, "n_classes")

    # ------------------------------------------------------------------ hooks
    def activation(self, z: Tensor) -> Tensor:
        """Map head outputs to relaxed codes in ``[-1, 1]`` (default ``tanh``)."""
        return torch.tanh(z)

    def prepare(self, train_labels: Tensor) -> None:  # noqa: B027 - optional hook
        """Called once before training with all training labels ((N,) or (N, C)); default: nothing."""

    def on_epoch_end(self) -> None:  # noqa: B027 - optional hook
        """Called after every training epoch; default: nothing."""

    def callbacks(self) -> list[Callback]:
        """Lightning callbacks that are part of the method (fresh instances; the trainer adds them); default none."""
        return []

    def bind_input_dim(self, in_dim: int) -> None:
        """Receive the head's input size (the embedding size) before training.

        Called by the module when ``needs_input_dim`` is True; losses that set it override this method.
        """
        if self.needs_input_dim:
            raise NotImplementedError(
                f"{type(self).__name__} sets needs_input_dim but does not bind_input_dim"
            )
        check_positive_int(in_dim, "in_dim")

    def hparams(self) -> dict[str, Any]:
        """The constructor hyper-parameters with their current values (for logging and ``docs/assumptions``)."""
        sig = inspect.signature(type(self).__init__)
        out: dict[str, Any] = {}
        for pname in sig.parameters:
            if pname in {"self", "bits", "n_classes", "hparams"}:
                continue
            val = getattr(self, pname, None)
            out[pname] = val.tolist() if isinstance(val, Tensor) else val
        return out

    # ------------------------------------------------------------------ margin
    @property
    def margin(self) -> float | Tensor:
        """The margin (losses without one raise ``AttributeError``, so ``hasattr(loss, "margin")`` is False)."""
        try:
            return self.__dict__["_margin"]
        except KeyError:
            raise AttributeError(f"{type(self).__name__} has no margin") from None

    @margin.setter
    def margin(self, value: float | Tensor) -> None:
        self.__dict__["_margin"] = _check_margin_value(value, type(self).__name__)

    def _margin_like(self, ref: Tensor, per_anchor_dims: int) -> Tensor:
        """The margin as a tensor on ``ref``'s device broadcastable to ``ref``.

        A 0-d margin broadcasts everywhere; a ``(B,)`` margin is read as one value per anchor (first index) and
        gets ``per_anchor_dims`` trailing singleton dims; a ``(B, B)`` margin of a triplet loss (``ref`` indexed
        ``[a, p, n]``) is the (anchor, negative) pair's margin; any other shape must broadcast to ``ref``.
        """
        m = torch.as_tensor(self.margin, dtype=ref.dtype, device=ref.device)
        if m.dim() == 1 and per_anchor_dims > 0 and m.shape[0] == ref.shape[0]:
            m = m.reshape(-1, *([1] * per_anchor_dims))
        elif m.dim() == 2 and ref.dim() == 3 and m.shape == ref.shape[:1] * 2:
            m = m[:, None, :]  # per-pair margin of a triplet loss: the (anchor, negative) pair's value
        try:
            if torch.broadcast_shapes(m.shape, ref.shape) != ref.shape:
                raise RuntimeError("margin would enlarge the loss terms")
        except RuntimeError as exc:
            raise ValueError(
                f"{type(self).__name__}: margin of shape {tuple(m.shape)} does not broadcast to the loss terms "
                f"of shape {tuple(ref.shape)} (use a float, a (B,) per-anchor tensor or the full shape)"
            ) from exc
        return m

    # ------------------------------------------------------------------ input checks and label helpers
    def check_inputs(self, h: Tensor, labels: Tensor) -> Tensor:
        """Validate ``h`` (B, bits) and labels ((B,) int or (B, C) multi-hot); return labels on h's device."""
        if not isinstance(h, Tensor) or h.dim() != 2 or h.shape[1] != self.bits:
            shape = tuple(h.shape) if isinstance(h, Tensor) else type(h).__name__
            raise ValueError(f"{type(self).__name__}: h must have shape (B, {self.bits}), got {shape}")
        if not h.is_floating_point():
            raise ValueError(f"{type(self).__name__}: h must be a float tensor, got {h.dtype}")
        if not isinstance(labels, Tensor):
            labels = torch.as_tensor(labels)
        n = h.shape[0]
        if labels.dim() == 1:
            if labels.shape[0] != n:
                raise ValueError(f"{type(self).__name__}: labels has {labels.shape[0]} rows but h has {n}")
            if labels.is_floating_point() or labels.dtype == torch.bool:
                raise ValueError(
                    f"{type(self).__name__}: 1-D labels must be integer class ids, got {labels.dtype}"
                )
            if n and (int(labels.min()) < 0 or int(labels.max()) >= self.n_classes):
                raise ValueError(
                    f"{type(self).__name__}: class ids must lie in [0, {self.n_classes}), "
                    f"got range [{int(labels.min())}, {int(labels.max())}]"
                )
            return labels.to(h.device, torch.long)
        if labels.dim() == 2:
            if labels.shape != (n, self.n_classes):
                raise ValueError(
                    f"{type(self).__name__}: multi-hot labels must have shape ({n}, {self.n_classes}), "
                    f"got {tuple(labels.shape)}"
                )
            lab = labels.to(h.device, h.dtype)
            if n and not bool(((lab == 0) | (lab == 1)).all()):
                raise ValueError(f"{type(self).__name__}: multi-hot labels must contain only 0 and 1")
            return lab
        raise ValueError(
            f"{type(self).__name__}: labels must have shape (B,) or (B, {self.n_classes}), got {tuple(labels.shape)}"
        )

    def one_hot(self, labels: Tensor, dtype: torch.dtype = torch.float32) -> Tensor:
        """(B, C) float one-hot / multi-hot matrix of validated labels."""
        if labels.dim() == 1:
            return nn.functional.one_hot(labels, self.n_classes).to(dtype)
        return labels.to(dtype)

    @staticmethod
    def similarity(labels: Tensor, other: Tensor | None = None) -> Tensor:
        """``s_ij = 1`` if the samples share at least one class, else 0 (float, shape (B, B'))."""
        return label_similarity(labels, other).float()

    @staticmethod
    def offdiag_mask(n: int, device: torch.device | str | None = None) -> Tensor:
        """Boolean (n, n) mask of the pairs ``i != j``."""
        return ~torch.eye(n, dtype=torch.bool, device=device)

    def pair_mean(self, values: Tensor) -> Tensor:
        """Mean of a (B, B) tensor over the pairs ``i != j`` (0 when B < 2, keeping the graph)."""
        n = values.shape[0]
        if n < 2:
            return values.sum() * 0.0
        return values[self.offdiag_mask(n, values.device)].mean()


def register_loss(cls: type[HashLoss]) -> type[HashLoss]:
    """Class decorator: add a :class:`HashLoss` subclass to the registry under ``cls.name``."""
    if not (isinstance(cls, type) and issubclass(cls, HashLoss)):
        raise TypeError(f"register_loss expects a HashLoss subclass, got {cls!r}")
    name = cls.name
    if not name or name != name.lower():
        raise ValueError(f"{cls.__name__}.name must be a non-empty lower-case string, got {name!r}")
    if cls.family not in {"pairwise", "triplet", "center", "quantization"}:
        raise ValueError(
            f"{cls.__name__}.family must be pairwise|triplet|center|quantization, got {cls.family!r}"
        )
    if name in _REGISTRY and _REGISTRY[name] is not cls:
        raise ValueError(f"a loss named {name!r} is already registered ({_REGISTRY[name].__name__})")
    _REGISTRY[name] = cls
    return cls


def available_losses() -> list[str]:
    """Registered loss names, sorted."""
    return sorted(_REGISTRY)


class UnknownLossError(KeyError):
    """Raised by :func:`get_loss` for a name that is not registered."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable
        return str(self.args[0]) if self.args else ""


def loss_class(name: str) -> type[HashLoss]:
    """The registered class for ``name`` (case-insensitive); ``KeyError`` listing the registry otherwise."""
    key = str(name).strip().lower()
    if key not in _REGISTRY:
        raise UnknownLossError(f"unknown loss {name!r}; available losses: {', '.join(available_losses())}")
    return _REGISTRY[key]


def get_loss(name: str, bits: int, n_classes: int, **hparams: Any) -> HashLoss:
    """Instantiate the registered loss ``name`` with ``bits``, ``n_classes`` and its hyper-parameters.

    Unknown names raise ``KeyError`` listing :func:`available_losses`; unknown hyper-parameters raise
    ``ValueError`` listing the accepted ones.
    """
    cls = loss_class(name)
    accepted = _accepted_hparams(cls)
    unknown = sorted(set(hparams) - accepted)
    if unknown:
        raise ValueError(
            f"loss {cls.name!r} does not accept {unknown}; accepted hyper-parameters: {sorted(accepted)}"
        )
    return cls(bits, n_classes, **hparams)


def _accepted_hparams(cls: type[HashLoss]) -> set[str]:
    params = inspect.signature(cls.__init__).parameters
    return {
        p.name
        for p in params.values()
        if p.name not in {"self", "bits", "n_classes"} and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)
    }


ContextEncoder = Callable[[Tensor], Tensor]
