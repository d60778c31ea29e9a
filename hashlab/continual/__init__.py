"""Continual hashing: new classes arrive, old codes stay valid, no full retrain (Crawford & Ahuja, undated
preprint; Xu et al. 2023; notebook 06).

Modules: ``stream`` (class-incremental and drift streams), ``replay`` (buffer policies), ``loss_terms`` (extra
loss terms for ``HashingModule.extra_loss_terms``), ``strategies`` (update strategies), ``learner`` (run a stream),
``drift`` (MMD² detector), ``versioned_index`` (live index with atomic swap), ``metrics`` (R matrix, forgetting,
BWT, code stability, cost), ``experiments`` (the notebook's comparisons). Figures: :mod:`hashlab.viz.continual`;
widget: :class:`hashlab.widgets.ContinualWidget`.
"""

from hashlab.continual.drift import DriftDetector, mmd2_unbiased, mmd_permutation_test
from hashlab.continual.learner import ContinualConfig, ContinualResult, run_stream, train_base
from hashlab.continual.metrics import average_forgetting, backward_transfer, code_stability, relative_cost
from hashlab.continual.replay import ClassBalancedReservoir, structure_aware_selection
from hashlab.continual.strategies import STRATEGIES, get_strategy
from hashlab.continual.stream import ClassIncrementalStream, drift_stream, shift_features
from hashlab.continual.versioned_index import VersionedIndex

__all__ = [
    "STRATEGIES",
    "ClassBalancedReservoir",
    "ClassIncrementalStream",
    "ContinualConfig",
    "ContinualResult",
    "DriftDetector",
    "VersionedIndex",
    "average_forgetting",
    "backward_transfer",
    "code_stability",
    "drift_stream",
    "get_strategy",
    "mmd2_unbiased",
    "mmd_permutation_test",
    "relative_cost",
    "run_stream",
    "shift_features",
    "structure_aware_selection",
    "train_base",
]
