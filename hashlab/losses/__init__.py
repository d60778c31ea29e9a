"""Hashing losses: one module per method, all registered by name (``get_loss("dsh", bits, n_classes)``)."""

from .base import (
    THESIS_METHODS,
    HashLoss,
    LossOutput,
    available_losses,
    get_loss,
    loss_class,
    register_loss,
    sign_codes,
)
from .dpsh import DPSHLoss
from .dsh import DSHLoss

__all__ = [
    "THESIS_METHODS",
    "HashLoss",
    "LossOutput",
    "available_losses",
    "get_loss",
    "loss_class",
    "register_loss",
    "sign_codes",
    "DPSHLoss",
    "DSHLoss",
]
