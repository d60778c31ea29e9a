"""Interactive ipywidgets front-ends, all on one base class (:class:`hashlab.widgets.base.HashlabWidget`).

Shared behaviour: while a widget works its controls are disabled, a progress bar runs and the stale output is
greyed; a failure is shown in the widget as one line and kept in ``last_error``; ``run(raise_errors=True)`` does
the work directly (what a click or slider release does, with ``raise_errors=False``).

- :mod:`~hashlab.widgets.explorer`: :class:`ExperimentExplorer` (datasets and backbones available here, history of
  runs) and :class:`BitLengthExplorer` (the quickstart's slider);
- :mod:`~hashlab.widgets.autoencoder`: :class:`AutoencoderExplorer` (notebook 02, bits and λ);
- :mod:`~hashlab.widgets.margins`: :class:`MarginExplorer` (notebook 05, bits and DSH margin);
- :mod:`~hashlab.widgets.continual`: :class:`ContinualWidget` (notebook 06, replay size and distillation weight);
- :mod:`~hashlab.widgets.federated`: :class:`FederatedWidget` (notebook 07, Dirichlet α).
"""

from hashlab.widgets.autoencoder import AutoencoderExplorer
from hashlab.widgets.base import HashlabWidget, figure_output, friendly_error, stream_output, table_output
from hashlab.widgets.continual import ContinualWidget
from hashlab.widgets.explorer import (
    BitLengthExplorer,
    EpochProgress,
    ExperimentExplorer,
    available_offline,
    cached_embeddings,
    clear_embedding_cache,
    loss_margin,
    metrics_frame,
)
from hashlab.widgets.federated import FederatedWidget
from hashlab.widgets.margins import MarginExplorer

__all__ = [
    "AutoencoderExplorer",
    "BitLengthExplorer",
    "ContinualWidget",
    "EpochProgress",
    "ExperimentExplorer",
    "FederatedWidget",
    "HashlabWidget",
    "MarginExplorer",
    "available_offline",
    "cached_embeddings",
    "clear_embedding_cache",
    "figure_output",
    "friendly_error",
    "loss_margin",
    "metrics_frame",
    "stream_output",
    "table_output",
]
