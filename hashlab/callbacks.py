"""Re-export of HashNet's continuation callback, which now lives with its loss in :mod:`hashlab.losses.hashnet`.

Kept only because ``hashlab.experiment.method_callbacks`` still imports it from here; once the training path adds
``module.loss.callbacks()`` this module can go.
"""

from __future__ import annotations

from hashlab.losses.hashnet import HashNetContinuation, continuation_beta

__all__ = ["HashNetContinuation", "continuation_beta"]
