"""hashlab: a deep-hashing workbench for image retrieval.

The main entry points (imported lazily, so ``import hashlab`` stays cheap):

- ``hashlab.experiment.run(ExperimentConfig(...))`` / ``hashlab.settings.preset(name, ...)``: train and evaluate one
  hash head from the configuration tree; ``hashlab.training``: the one Trainer factory and fit;
- ``hashlab.data.load_dataset`` / ``hashlab.features.get_embeddings``: datasets and cached embeddings;
- ``hashlab.losses.get_loss`` / ``available_losses``: the loss registry;
- ``hashlab.metrics``: mAP@k, precision, KNN accuracy; ``hashlab.index.HammingIndex``: Hamming search on
  faiss (exact ``flat``; ``mih``, ``ivf``, ``hnsw``; radius search).
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "ExperimentConfig": "hashlab.settings",
    "preset": "hashlab.settings",
    "run": "hashlab.experiment",
    "HashingModule": "hashlab.module",
    "HammingIndex": "hashlab.index",
    "load_dataset": "hashlab.data",
    "get_embeddings": "hashlab.features",
    "get_loss": "hashlab.losses",
    "available_losses": "hashlab.losses",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'hashlab' has no attribute {name!r}")
