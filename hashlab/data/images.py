"""Image arrays (a :class:`hashlab.data.Split`'s uint8 (N, H, W, C) layout) to the float tensors models read."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from hashlab.checks import check_finite

__all__ = ["images_to_tensor"]


def images_to_tensor(images: Any, channels: int | None = None, image_size: int | None = None) -> torch.Tensor:
    """Convert images to a contiguous float32 tensor (N, C, H, W) in [0, 1] (uint8 divided by 255).

    Accepts numpy ``(N, H, W, C)`` (a :class:`hashlab.data.Split`'s layout) or ``(N, H, W)`` for one channel,
    uint8 in 0..255 or float in [0, 1]; or a torch tensor ``(N, C, H, W)``. Raises ``ValueError`` when the shape,
    channel count or size does not match ``channels`` / ``image_size`` (when given).
    """
    if isinstance(images, torch.Tensor):
        x = images.detach().cpu()
        if x.ndim != 4:
            raise ValueError(f"image tensor must be (N, C, H, W), got shape {tuple(x.shape)}")
        x = x.float() / 255.0 if x.dtype == torch.uint8 else x.float()
    else:
        arr = np.asarray(images)
        if arr.ndim == 3:
            arr = arr[..., None]
        if arr.ndim != 4:
            raise ValueError(f"images must be (N, H, W, C) or (N, H, W), got shape {arr.shape}")
        if arr.dtype == np.uint8:
            arr = arr.astype(np.float32) / 255.0
        elif np.issubdtype(arr.dtype, np.floating):
            arr = arr.astype(np.float32)
        else:
            raise ValueError(f"images must be uint8 (0..255) or float in [0, 1], got dtype {arr.dtype}")
        x = torch.from_numpy(np.ascontiguousarray(arr.transpose(0, 3, 1, 2)))
    if x.shape[0] == 0:
        raise ValueError("images is empty (0 images)")
    check_finite(x, "images")
    if channels is not None and x.shape[1] != channels:
        raise ValueError(
            f"images have {x.shape[1]} channel(s), the model expects {channels} (shape {tuple(x.shape)})"
        )
    if image_size is not None and tuple(x.shape[2:]) != (image_size, image_size):
        raise ValueError(
            f"images are {x.shape[2]}x{x.shape[3]}, the model expects {image_size}x{image_size} "
            "(resize with hashlab.data.load_dataset(..., size=...))"
        )
    return x
