"""Flattened pixels for the training-free baselines; :func:`images_to_tensor` (the autoencoder's input) lives in
:mod:`hashlab.data.images` and is re-exported here."""

from __future__ import annotations

from typing import Any

import numpy as np

from hashlab.data.images import images_to_tensor

__all__ = ["flatten_images", "images_to_tensor"]


def flatten_images(images: Any) -> np.ndarray:
    """Pixels in [0, 1] as a float32 matrix (N, H*W*C): the input of the training-free baselines."""
    x = images_to_tensor(images)
    return x.permute(0, 2, 3, 1).reshape(len(x), -1).numpy()
