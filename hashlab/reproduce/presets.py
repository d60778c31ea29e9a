"""What a reproduction runs on and with: the thesis's grid constants, the full and ``--fast`` presets, validation
of the dataset / backbone / methods / bits choice, and the offline-aware choice of setting the notebooks use."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


def _settings(name: str) -> dict[str, Any]:
    from hashlab.settings import preset

    values = preset(name).to_dict()
    return {
        key: values[key] for key in ("epochs", "batch_size", "lr", "hidden", "subsample", "map_k", "knn_k")
    }


THESIS_KNN_K: int = _settings("thesis")["knn_k"]
SWEEP_KS: tuple[int, ...] = (3, 5, 7, 10, 15)
FULL_BITS: tuple[int, ...] = (12, 24, 36, 48)

# Settings of a full run (the ``thesis`` preset of hashlab.settings) and of the CI-sized --fast run (the ``fast``
# preset, on digits with pixel features). Every training value is an assumption: the thesis states no optimiser,
# learning rate, epochs, batch size, head or seed.
FULL_SETTINGS: dict[str, Any] = _settings("thesis")
FAST_SETTINGS: dict[str, Any] = {
    "dataset": "digits",
    "backbone": "pixels",
    "bits": (12, 24, 48),
    **_settings("fast"),
}


def _available_datasets() -> list[str]:
    from hashlab.data import available_datasets

    return list(available_datasets())


def _available_backbones() -> list[str]:
    from hashlab.features import available_backbones

    return list(available_backbones())


def _thesis_methods() -> list[str]:
    from hashlab.losses import THESIS_METHODS

    return list(THESIS_METHODS)


def check_choices(dataset: str, backbone: str, methods: Sequence[str], bits: Sequence[int]) -> str:
    """Raise ``ValueError`` naming the valid choices for an unknown dataset, backbone or method, or bad bits;
    return the dataset's canonical name (``hashlab.data.canonical_dataset_name``: ``"DIGITS"`` is ``digits``)."""
    from hashlab.data import UnknownDatasetError, canonical_dataset_name

    try:
        dataset = canonical_dataset_name(dataset)
    except UnknownDatasetError:
        raise ValueError(f"unknown dataset {dataset!r}; choose one of {_available_datasets()}") from None
    backbones = _available_backbones()
    if backbone not in backbones:
        raise ValueError(f"unknown backbone {backbone!r}; choose one of {backbones}")
    from hashlab.losses import available_losses

    losses = list(available_losses())
    unknown = [m for m in methods if m not in losses]
    if unknown:
        raise ValueError(f"unknown method(s) {unknown}; choose from {losses}")
    if not methods:
        raise ValueError("no methods given")
    if not bits or any(not isinstance(b, int | np.integer) or int(b) < 1 for b in bits):
        raise ValueError(f"bits must be positive integers, got {list(bits)}")
    return dataset


def check_seeds(seeds: Sequence[int], seed_bits: Sequence[int] | None, bits: Sequence[int]) -> None:
    """Raise ``ValueError`` (naming ``--seeds`` / ``--seed-bits``) for no, negative or repeated seeds, or extra-seed
    code lengths that are not in the grid's ``bits``."""
    seeds = list(seeds)
    if not seeds or any(not isinstance(s, int | np.integer) or int(s) < 0 for s in seeds):
        raise ValueError(f"--seeds must be integers >= 0, got {seeds}")
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"--seeds has repeated seeds: {seeds}")
    if seed_bits is not None:
        outside = [int(b) for b in seed_bits if int(b) not in {int(x) for x in bits}]
        if outside or not list(seed_bits):
            raise ValueError(
                f"--seed-bits {list(seed_bits)}: each must be one of the grid's --bits {[int(b) for b in bits]}"
            )


def embeddings_available(dataset: str, backbone: str, size: int = 28) -> bool:
    """True when ``get_embeddings(dataset, backbone, size)`` can answer without network or hours of CPU work:
    every split's cache file exists, or (pixel features) the dataset's images are on disk
    (``hashlab.data.available_offline``)."""
    from hashlab.data import available_offline, canonical_dataset_name, native_size
    from hashlab.features import cache_path

    dataset = canonical_dataset_name(dataset)
    size = native_size(dataset, size)
    if all(cache_path(dataset, backbone, size, "default", s).exists() for s in ("train", "val", "test")):
        return True
    return backbone == "pixels" and available_offline(dataset, size)


def choose_setting(
    fast: bool,
    preferred: Sequence[tuple[str, str]] = (("pathmnist", "vit_b_16"), ("cifar10", "vit_b_16")),
    size: int = 28,
) -> tuple[str, str, str]:
    """(dataset, backbone, reason): the first thesis setting whose embeddings are available here, unless ``fast``;
    else the offline stand-in digits + pixels. Notebooks print the reason next to their numbers."""
    if not fast:
        for dataset, backbone in preferred:
            if embeddings_available(dataset, backbone, size):
                return (
                    dataset,
                    backbone,
                    f"thesis setting: {dataset} embeddings from {backbone} are available here",
                )
        reason = "no cached thesis embeddings (pathmnist/cifar10 with vit_b_16) found, so the offline stand-in is used"
    else:
        reason = "FAST mode (HASHLAB_FAST=1): the offline stand-in is used"
    return "digits", "pixels", f"{reason}: scikit-learn's 8x8 digits with standardised pixel features"
