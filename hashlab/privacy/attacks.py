"""The attacks: a decoder from codes to inputs, chance references, attribute inference (see ``hashlab.privacy``)."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from hashlab.privacy.metrics import (
    _labels,
    _matrix,
    _same_rows,
    _same_width,
    reconstruction_error,
    reidentification_rate,
    storage_bits,
)

if TYPE_CHECKING:  # pragma: no cover
    from hashlab.features import EmbeddingSet

__all__ = [
    "AttackResult",
    "attribute_inference",
    "class_mean_attack",
    "features_to_images",
    "inversion_attack",
    "mean_attack",
    "random_codes",
    "random_codes_attack",
]


@dataclass
class AttackResult:
    """One attack measured on the test split; ``reconstructions`` are the decoder's outputs (N, D)."""

    name: str
    bits: int | None
    mse: float
    cosine: float
    reid: float
    chance: float
    storage_bits: int
    label_accuracy: float | None = None
    reconstructions: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.float32), repr=False)

    def row(self) -> dict[str, Any]:
        """The scalar fields as one flat dict (a table row)."""
        return {
            "attack": self.name,
            "bits": self.bits,
            "mse": self.mse,
            "cosine": self.cosine,
            "reid": self.reid,
            "chance": self.chance,
            "label_acc": self.label_accuracy,
            "storage_bits": self.storage_bits,
        }


# ------------------------------------------------------------------------------------------------------- attacks
def _check_attack_inputs(
    aux_codes: Any, aux_inputs: Any, test_codes: Any, test_inputs: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    ac, ai = _matrix(aux_codes, "aux_codes"), _matrix(aux_inputs, "aux_inputs")
    tc, ti = _matrix(test_codes, "test_codes"), _matrix(test_inputs, "test_inputs")
    _same_rows(ac, ai, "aux_codes", "aux_inputs")
    _same_rows(tc, ti, "test_codes", "test_inputs")
    _same_width(ac, tc, "aux_codes", "test_codes")
    _same_width(ai, ti, "aux_inputs", "test_inputs")
    if len(ac) < 2:
        raise ValueError(f"the auxiliary set needs at least 2 (input, code) pairs, got {len(ac)}")
    return ac, ai, tc, ti


def _measure(
    name: str, bits: int | None, reconstructions: np.ndarray, test_inputs: np.ndarray, storage: int
) -> AttackResult:
    errors = reconstruction_error(reconstructions, test_inputs)
    return AttackResult(
        name=name,
        bits=bits,
        mse=errors["mse"],
        cosine=errors["cosine"],
        reid=reidentification_rate(reconstructions, test_inputs),
        chance=1.0 / len(test_inputs),
        storage_bits=storage,
        reconstructions=reconstructions.astype(np.float32),
    )


def inversion_attack(
    aux_codes: Any,
    aux_inputs: Any,
    test_codes: Any,
    test_inputs: Any,
    *,
    hidden: Sequence[int] = (256,),
    alpha: float = 1.0,
    max_iter: int = 500,
    seed: int = 0,
    name: str = "codes",
    bits: int | None = None,
) -> AttackResult:
    """Train a decoder ``codes -> inputs`` on the auxiliary pairs and measure it on the test pairs.

    The decoder is ``sklearn.neural_network.MLPRegressor(hidden, alpha, max_iter, random_state=seed)`` (ReLU, Adam,
    squared loss + ``alpha``·L2). The iteration budget is part of the attack: a decoder that has not converged by
    ``max_iter`` is used as it is (scikit-learn's ``ConvergenceWarning`` is silenced). "Codes" may be any float
    matrix (the raw inputs give the upper-bound reference). ``bits`` is recorded as the code length (and storage);
    ``None`` means the codes are float features, stored at 32 bits per dimension. Same seed, same reconstructions.
    """
    ac, ai, tc, ti = _check_attack_inputs(aux_codes, aux_inputs, test_codes, test_inputs)
    if alpha < 0 or not np.isfinite(alpha):
        raise ValueError(f"alpha must be a finite non-negative L2 weight, got {alpha}")
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPRegressor

    decoder = MLPRegressor(
        hidden_layer_sizes=tuple(int(h) for h in hidden),
        alpha=alpha,
        max_iter=int(max_iter),
        random_state=seed,
    )
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=ConvergenceWarning)
        decoder.fit(ac, ai)
    reconstructions = decoder.predict(tc).reshape(len(tc), -1)
    return _measure(name, bits, reconstructions, ti, storage_bits(ac.shape[1], bits))


def random_codes(n_aux: int, n_test: int, bits: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded random ±1 codes for ``n_aux`` auxiliary and ``n_test`` test items, independent of any input."""
    rng = np.random.default_rng(seed)
    signs = np.array([-1, 1], np.int8)
    return rng.choice(signs, size=(n_aux, bits)), rng.choice(signs, size=(n_test, bits))


def random_codes_attack(
    aux_inputs: Any, test_inputs: Any, bits: int, seed: int = 0, **decoder: Any
) -> AttackResult:
    """The same attack from random ±1 codes drawn independently of the inputs (a chance-level reference)."""
    ai, ti = _matrix(aux_inputs, "aux_inputs"), _matrix(test_inputs, "test_inputs")
    storage_bits(1, bits)  # validates bits
    aux_codes, test_codes = random_codes(len(ai), len(ti), bits, seed)
    return inversion_attack(
        aux_codes, ai, test_codes, ti, seed=seed, name="random codes", bits=bits, **decoder
    )


def mean_attack(aux_inputs: Any, test_inputs: Any) -> AttackResult:
    """Reconstruct every test item as the auxiliary mean (no code at all): re-identification is exactly 1/N."""
    ai, ti = _matrix(aux_inputs, "aux_inputs"), _matrix(test_inputs, "test_inputs")
    _same_width(ai, ti, "aux_inputs", "test_inputs")
    reconstructions = np.repeat(ai.mean(axis=0, keepdims=True), len(ti), axis=0)
    return _measure("mean", None, reconstructions, ti, 0)


def class_mean_attack(aux_inputs: Any, aux_labels: Any, test_inputs: Any, test_labels: Any) -> AttackResult:
    """Reconstruct each test item as the auxiliary mean of its true class: what knowing only the label gives."""
    ai, ti = _matrix(aux_inputs, "aux_inputs"), _matrix(test_inputs, "test_inputs")
    _same_width(ai, ti, "aux_inputs", "test_inputs")
    ay, ty = _labels(aux_labels, len(ai), "aux_labels"), _labels(test_labels, len(ti), "test_labels")
    missing = sorted(set(np.unique(ty).tolist()) - set(np.unique(ay).tolist()))
    if missing:
        raise ValueError(f"test classes {missing} have no auxiliary items; cannot form their class means")
    means = {c: ai[ay == c].mean(axis=0) for c in np.unique(ty)}
    reconstructions = np.stack([means[c] for c in ty])
    # storing the label alone takes ceil(log2(classes)) bits
    label_bits = int(np.ceil(np.log2(max(len(np.unique(ay)), 2))))
    return _measure("class mean", None, reconstructions, ti, label_bits)


def attribute_inference(aux_codes: Any, aux_labels: Any, test_codes: Any, test_labels: Any) -> float:
    """Test accuracy of a logistic regression trained to predict the class from the codes of the auxiliary set.

    For class-supervised hashing this is both the leakage (the class is an attribute of the item) and the utility
    the codes are trained for; the two cannot be separated here.
    """
    ac, tc = _matrix(aux_codes, "aux_codes"), _matrix(test_codes, "test_codes")
    _same_width(ac, tc, "aux_codes", "test_codes")
    ay, ty = _labels(aux_labels, len(ac), "aux_labels"), _labels(test_labels, len(tc), "test_labels")
    if len(np.unique(ay)) < 2:
        raise ValueError("attribute inference needs at least two classes in the auxiliary labels")
    from sklearn.linear_model import LogisticRegression

    classifier = LogisticRegression(max_iter=2000).fit(ac, ay)
    return float(np.mean(classifier.predict(tc) == ty))


def features_to_images(features: Any, embeddings: EmbeddingSet) -> np.ndarray:
    """Undo the ``pixels`` backbone's standardisation: ``x * std + mean``, clipped to [0, 1], shaped (N, H, W, C).

    Needs ``embeddings.meta["pixel_mean"]`` and ``["pixel_std"]`` (stored by :func:`hashlab.features.get_embeddings`
    for the ``pixels`` backbone). Square images with 1 or 3 channels are assumed (H = W).
    """
    if "pixel_mean" not in embeddings.meta or "pixel_std" not in embeddings.meta:
        raise ValueError(
            f"features_to_images needs pixels embeddings with pixel_mean/pixel_std in meta; "
            f"{embeddings.dataset}/{embeddings.backbone} has meta keys {sorted(embeddings.meta)}"
        )
    x = _matrix(features, "features")
    mean = np.asarray(embeddings.meta["pixel_mean"], np.float64).ravel()
    std = np.asarray(embeddings.meta["pixel_std"], np.float64).ravel()
    if x.shape[1] != len(mean) or len(std) != len(mean):
        raise ValueError(f"features have {x.shape[1]} columns but the pixel statistics have {len(mean)}")
    for channels in (1, 3):
        side = int(round(np.sqrt(len(mean) / channels)))
        if side * side * channels == len(mean):
            break
    else:
        raise ValueError(f"{len(mean)} pixel features are not a square image with 1 or 3 channels")
    pixels = np.clip(x * std + mean, 0.0, 1.0)
    return pixels.reshape(len(x), side, side, channels).astype(np.float32)
