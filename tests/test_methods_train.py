"""Every registered method trains through the one HashingModule and beats random codes at 12/24/36/48 bits."""

from __future__ import annotations

import numpy as np
import pytest

from hashlab.experiment import ExperimentConfig, run
from hashlab.features import get_embeddings
from hashlab.losses import THESIS_METHODS, available_losses
from hashlab.metrics import knn_accuracy

MARGIN = 0.30  # KNN accuracy points above random codes of the same length


@pytest.fixture(scope="module")
def digits():
    return get_embeddings("digits", "pixels")


@pytest.fixture(scope="module")
def random_code_accuracy(digits):
    rng = np.random.default_rng(0)
    out = {}
    for bits in (12, 24, 36, 48):
        db = np.where(rng.random((len(digits.train.labels), bits)) < 0.5, -1, 1).astype(np.int8)
        q = np.where(rng.random((len(digits.test.labels), bits)) < 0.5, -1, 1).astype(np.int8)
        out[bits] = knn_accuracy(q, db, digits.test.labels, digits.train.labels, k=7)
    return out


def test_registry_holds_the_thesis_methods_and_baselines():
    assert set(THESIS_METHODS) | {"triplet", "csq"} <= set(available_losses())


@pytest.mark.parametrize("bits", [12, 24, 36, 48])
@pytest.mark.parametrize("method", sorted(set(THESIS_METHODS) | {"triplet", "csq"}))
def test_method_beats_random_codes(method, bits, digits, random_code_accuracy):
    config = ExperimentConfig(method=method, bits=bits, epochs=5, hidden=(128,), seed=0)
    result = run(config, embeddings=digits, progress=False)
    acc = result.metrics["knn_acc"]
    chance = random_code_accuracy[bits]
    assert acc >= chance + MARGIN, f"{method}@{bits}: KNN accuracy {acc:.3f} vs random codes {chance:.3f}"
