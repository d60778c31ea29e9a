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
from .cnnh import CNNHLoss
from .csq import CSQLoss, hash_centers
from .dhn import DHNLoss
from .dnnh import DNNHLoss, piecewise_threshold
from .dpsh import DPSHLoss
from .dsdh import DSDHLoss
from .dsh import DSHLoss
from .dshgan import DSHGANLoss, grad_reverse
from .hashnet import CONTINUATIONS, HashNetContinuation, HashNetLoss, continuation_beta
from .tcl import TCLLoss
from .triplet import TripletLoss, triplet_hinge

__all__ = [
    "THESIS_METHODS",
    "HashLoss",
    "LossOutput",
    "available_losses",
    "get_loss",
    "loss_class",
    "register_loss",
    "sign_codes",
    "CNNHLoss",
    "CSQLoss",
    "DHNLoss",
    "DNNHLoss",
    "DPSHLoss",
    "DSDHLoss",
    "DSHLoss",
    "DSHGANLoss",
    "CONTINUATIONS",
    "HashNetContinuation",
    "HashNetLoss",
    "continuation_beta",
    "TCLLoss",
    "TripletLoss",
    "grad_reverse",
    "hash_centers",
    "piecewise_threshold",
    "triplet_hinge",
]
