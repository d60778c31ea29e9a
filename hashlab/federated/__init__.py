"""Federated hashing across non-IID clients (Wells, Wood & Bell; notebook 07).

Modules: ``partition`` (seeded Dirichlet(α) label-skew partitions), ``fedavg`` (FedAvg of hash heads with per-client
margin scaling, centralized and local-only baselines). Figures: :mod:`hashlab.viz.federated`; the α / Run control:
:class:`hashlab.widgets.FederatedWidget`.
"""

from hashlab.federated.fedavg import (
    FederatedConfig,
    FederatedResult,
    LocalOnlyResult,
    average_states,
    client_embeddings,
    client_margin_scales,
    client_statistics,
    fedavg_step,
    head_parameter_count,
    run_centralized,
    run_fedavg,
    run_local_only,
)
from hashlab.federated.partition import client_class_counts, dirichlet_partition, label_skew

__all__ = [
    "FederatedConfig",
    "FederatedResult",
    "LocalOnlyResult",
    "average_states",
    "client_class_counts",
    "client_embeddings",
    "client_margin_scales",
    "client_statistics",
    "dirichlet_partition",
    "fedavg_step",
    "head_parameter_count",
    "label_skew",
    "run_centralized",
    "run_fedavg",
    "run_local_only",
]
