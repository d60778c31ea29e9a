"""How much do hash codes leak? An inversion attack, attribute inference and storage, measured (hashlab's analysis).

The thesis (§1.1, §1.2, conclusion) argues that binary codes make it "computationally infeasible to reverse-engineer
the original embeddings or raw images" but measures nothing. This module measures it under a simple, stated threat
model; the numbers are hashlab's, not the thesis's.

Threat model. The attacker sees the published codes of the test items and holds an auxiliary set of
(input, code) pairs: the validation split encoded by the same published hash head. They train a decoder
``codes -> inputs`` on the auxiliary pairs (:func:`inversion_attack`, an scikit-learn ``MLPRegressor``) and apply it
to the test codes. Measured on the test split:

* reconstruction error: ``mse = mean_{i,d} (x̂_id - x_id)^2`` and ``cosine = mean_i <x̂_i, x_i> / (|x̂_i| |x_i|)``
  (a zero vector has cosine 0);
* re-identification rate: the fraction of test items ``i`` whose reconstruction's nearest true test input
  (Euclidean, ties to the lowest index) is ``x_i`` itself. Chance is ``1/N``. Test items with identical codes get
  identical reconstructions, so at most one of them can be re-identified.

References, run through the same code: the attack from the raw inputs themselves (upper bound), from random ±1
codes independent of the inputs and from the auxiliary mean (lower bounds, chance), and from the auxiliary mean of
the item's true class (what knowing only the label gives). Attribute inference (:func:`attribute_inference`) is the
accuracy of a logistic regression predicting the class from the codes alone, trained on the auxiliary pairs: for
class-supervised hashing this leakage *is* the utility the codes are trained for. Storage
(:func:`storage_bits`) compares ``D x 32`` bits of float32 features with ``L`` bits of code.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from hashlab.codes import as_numpy, check_codes
from hashlab.plots import save_figure

if TYPE_CHECKING:  # pragma: no cover
    from hashlab.experiment import ExperimentResult
    from hashlab.features import EmbeddingSet

__all__ = [
    "AttackResult",
    "attack_frame",
    "attack_sweep",
    "attribute_inference",
    "class_mean_attack",
    "features_to_images",
    "inversion_attack",
    "leakage_figure",
    "majority_accuracy",
    "mean_attack",
    "random_codes_attack",
    "reconstruction_error",
    "reconstruction_figure",
    "reidentification_rate",
    "storage_bits",
]

FLOAT_BITS = 32


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


# ------------------------------------------------------------------------------------------------- validation
def _matrix(x: Any, name: str) -> np.ndarray:
    """``x`` as a finite float64 matrix (N, D) with N, D >= 1; ``ValueError`` naming the problem otherwise."""
    arr = as_numpy(x)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be a 2-D matrix (N, D), got shape {arr.shape}")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"{name} is empty (shape {arr.shape})")
    if arr.dtype == np.bool_ or not np.issubdtype(arr.dtype, np.number):
        raise ValueError(f"{name} must be numeric, got dtype {arr.dtype}")
    arr = arr.astype(np.float64, copy=False)
    if not np.isfinite(arr).all():
        bad = int((~np.isfinite(arr)).any(axis=1).sum())
        raise ValueError(f"{name} contains NaN or inf ({bad} rows affected)")
    return arr


def _same_rows(a: np.ndarray, b: np.ndarray, name_a: str, name_b: str) -> None:
    if len(a) != len(b):
        raise ValueError(
            f"{name_a} has {len(a)} rows but {name_b} has {len(b)}; they must pair up row by row"
        )


def _same_width(a: np.ndarray, b: np.ndarray, name_a: str, name_b: str) -> None:
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"{name_a} has {a.shape[1]} columns but {name_b} has {b.shape[1]}")


def _labels(y: Any, n: int, name: str) -> np.ndarray:
    arr = as_numpy(y)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be single-label (N,) class ids, got shape {arr.shape}")
    if len(arr) != n:
        raise ValueError(f"{name} has {len(arr)} labels for {n} rows")
    if not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"{name} must be integer class ids, got dtype {arr.dtype}")
    return arr.astype(np.int64, copy=False)


# ------------------------------------------------------------------------------------------------------ metrics
def reconstruction_error(reconstructions: Any, truth: Any) -> dict[str, float]:
    """``mse`` over all entries and mean per-item ``cosine`` similarity (0 where either vector is zero)."""
    rec = _matrix(reconstructions, "reconstructions")
    true = _matrix(truth, "truth")
    _same_rows(rec, true, "reconstructions", "truth")
    _same_width(rec, true, "reconstructions", "truth")
    from sklearn.metrics import mean_squared_error
    from sklearn.preprocessing import normalize

    cosine = np.sum(normalize(rec) * normalize(true), axis=1)  # normalize leaves zero rows at zero
    return {"mse": float(mean_squared_error(true, rec)), "cosine": float(cosine.mean())}


def reidentification_rate(reconstructions: Any, truth: Any) -> float:
    """Fraction of rows ``i`` whose nearest ``truth`` row (Euclidean, ties to the lowest index) is row ``i``."""
    rec = _matrix(reconstructions, "reconstructions")
    true = _matrix(truth, "truth")
    _same_rows(rec, true, "reconstructions", "truth")
    _same_width(rec, true, "reconstructions", "truth")
    from sklearn.metrics import pairwise_distances_argmin

    nearest = pairwise_distances_argmin(rec, true, metric="euclidean")
    return float(np.mean(nearest == np.arange(len(true))))


def storage_bits(dim: int, bits: int | None = None, float_bits: int = FLOAT_BITS) -> int:
    """Bits stored per item: ``bits`` for a code, else ``dim x float_bits`` for the raw float features."""
    for name, value in (("dim", dim), ("float_bits", float_bits), ("bits", bits)):
        if value is not None and (isinstance(value, bool) or int(value) != value or value <= 0):
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(bits) if bits is not None else int(dim) * int(float_bits)


def majority_accuracy(aux_labels: Any, test_labels: Any) -> float:
    """Accuracy of always answering the auxiliary set's most frequent class (the attribute-inference chance)."""
    aux = _labels(aux_labels, len(as_numpy(aux_labels)), "aux_labels")
    test = _labels(test_labels, len(as_numpy(test_labels)), "test_labels")
    if len(aux) == 0 or len(test) == 0:
        raise ValueError("majority_accuracy needs at least one auxiliary and one test label")
    from sklearn.dummy import DummyClassifier

    dummy = DummyClassifier(strategy="most_frequent").fit(np.zeros((len(aux), 1)), aux)
    return float(np.mean(dummy.predict(np.zeros((len(test), 1))) == test))


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


def _random_codes(n_aux: int, n_test: int, bits: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    signs = np.array([-1, 1], np.int8)
    return rng.choice(signs, size=(n_aux, bits)), rng.choice(signs, size=(n_test, bits))


def random_codes_attack(
    aux_inputs: Any, test_inputs: Any, bits: int, seed: int = 0, **decoder: Any
) -> AttackResult:
    """The same attack from random ±1 codes drawn independently of the inputs (a chance-level reference)."""
    ai, ti = _matrix(aux_inputs, "aux_inputs"), _matrix(test_inputs, "test_inputs")
    storage_bits(1, bits)  # validates bits
    aux_codes, test_codes = _random_codes(len(ai), len(ti), bits, seed)
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


# ------------------------------------------------------------------------------------------------------- sweeps
def attack_sweep(
    results: Mapping[int, ExperimentResult], seed: int = 0, **decoder: Any
) -> dict[tuple[str, int | None], AttackResult]:
    """Every attack for trained heads keyed by code length: auxiliary set = validation split, targets = test split.

    Keys are ``(attack, bits)``: ``("codes", L)`` and ``("random codes", L)`` for every L, plus ``("raw", None)``,
    ``("class mean", None)`` and ``("mean", None)``. The heads must share one embedding set (the inputs attacked);
    labels must be single-label (attribute inference and the class mean need one class per item).
    """
    if not results:
        raise ValueError("attack_sweep needs at least one trained head")
    embeddings = next(iter(results.values())).embeddings
    aux, test = embeddings.val, embeddings.test
    out: dict[tuple[str, int | None], AttackResult] = {}
    for bits, result in sorted(results.items()):
        if result.embeddings is not embeddings:
            raise ValueError("every head in attack_sweep must be trained on the same EmbeddingSet object")
        if int(result.config.bits) != int(bits):
            raise ValueError(f"result keyed {bits} bits was trained with {result.config.bits} bits")
        aux_codes = check_codes(result.codes["val"], "validation codes", bits=bits)
        test_codes = check_codes(result.codes["test"], "test codes", bits=bits)
        attack = inversion_attack(
            aux_codes, aux.features, test_codes, test.features, seed=seed, bits=bits, **decoder
        )
        attack.label_accuracy = attribute_inference(aux_codes, aux.labels, test_codes, test.labels)
        out[("codes", bits)] = attack
        rand = random_codes_attack(aux.features, test.features, bits, seed=seed, **decoder)
        aux_random, test_random = _random_codes(len(aux), len(test), bits, seed)  # the attack's codes
        rand.label_accuracy = attribute_inference(aux_random, aux.labels, test_random, test.labels)
        out[("random codes", bits)] = rand
    raw = inversion_attack(
        aux.features, aux.features, test.features, test.features, seed=seed, name="raw", **decoder
    )
    raw.label_accuracy = attribute_inference(aux.features, aux.labels, test.features, test.labels)
    out[("raw", None)] = raw
    out[("class mean", None)] = class_mean_attack(aux.features, aux.labels, test.features, test.labels)
    mean = mean_attack(aux.features, test.features)
    mean.label_accuracy = majority_accuracy(aux.labels, test.labels)
    out[("mean", None)] = mean
    return out


def attack_frame(attacks: Mapping[tuple[str, int | None], AttackResult]) -> pd.DataFrame:
    """One row per attack (``AttackResult.row``), in the order given."""
    return pd.DataFrame([a.row() for a in attacks.values()])


# ------------------------------------------------------------------------------------------------------ figures
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


def reconstruction_figure(
    originals: np.ndarray,
    rows: Mapping[str, np.ndarray],
    title: str | None = None,
    save: str | os.PathLike | None = None,
) -> Figure:
    """A grid of images: the originals in the first row, one row per reconstruction (label → images (N, H, W, C))."""
    originals = np.asarray(originals)
    named = {"original": originals, **{k: np.asarray(v) for k, v in rows.items()}}
    for label, images in named.items():
        if images.ndim != 4 or images.shape != originals.shape:
            raise ValueError(
                f"{label!r} images must have the originals' shape {originals.shape}, got {images.shape}"
            )
    n = len(originals)
    fig = Figure(figsize=(0.75 * n + 1.6, 0.8 * len(named) + 0.4), layout="constrained")
    axes = fig.subplots(len(named), n, squeeze=False)
    for r, (label, images) in enumerate(named.items()):
        for c in range(n):
            ax = axes[r, c]
            image = images[c]
            ax.imshow(image[..., 0] if image.shape[-1] == 1 else image, cmap="gray_r", vmin=0.0, vmax=1.0)
            ax.set_xticks([])
            ax.set_yticks([])
        axes[r, 0].set_ylabel(label, rotation=0, ha="right", va="center", fontsize=9)
    if title:
        fig.suptitle(title, fontsize=10)
    if save is not None:
        save_figure(fig, save)
    return fig


def leakage_figure(
    frame: pd.DataFrame, title: str | None = None, save: str | os.PathLike | None = None
) -> Figure:
    """Re-identification, cosine similarity and label accuracy vs bits, with the raw, random and chance references.

    With an ``epochs`` column (sweeps of heads trained for different lengths, concatenated), the codes get one line
    per value; the references, which do not depend on the heads, are drawn from the first group.
    """
    needed = {"attack", "bits", "reid", "cosine", "label_acc", "chance"}
    if not needed <= set(frame.columns):
        raise ValueError(f"leakage_figure needs columns {sorted(needed)}, got {sorted(frame.columns)}")
    groups = list(frame.groupby("epochs", sort=True)) if "epochs" in frame.columns else [(None, frame)]
    first = groups[0][1]
    refs = first.set_index("attack")
    reference_lines = {
        "reid": [("class mean", "tab:green", ":", "label only (class mean)")],
        "cosine": [("class mean", "tab:green", ":", "label only (class mean)")],
        "label_acc": [("mean", "grey", "-.", "majority class")],
    }
    fig = Figure(figsize=(12, 3.6), layout="constrained")
    axes = fig.subplots(1, 3)
    for ax, metric, label in zip(
        axes,
        ("reid", "cosine", "label_acc"),
        ("re-identification rate", "cosine(reconstruction, input)", "label accuracy from codes"),
        strict=True,
    ):
        for epochs, part in groups:
            codes = part[part["attack"] == "codes"].sort_values("bits")
            name = "codes" if epochs is None else f"codes, {epochs} epochs"
            ax.plot(codes["bits"], codes[metric], "o-", label=name)
        rand = first[first["attack"] == "random codes"].sort_values("bits")
        ax.plot(rand["bits"], rand[metric], "s--", color="tab:red", label="random codes")
        if "raw" in refs.index and pd.notna(refs.loc["raw", metric]):
            ax.axhline(refs.loc["raw", metric], color="black", ls=":", label="raw features (upper bound)")
        if metric == "reid":
            ax.axhline(float(first["chance"].iloc[0]), color="grey", ls="-.", label="chance 1/N")
        for attack, color, style, text in reference_lines[metric]:
            if attack in refs.index and pd.notna(refs.loc[attack, metric]):
                ax.axhline(refs.loc[attack, metric], color=color, ls=style, label=text)
        ax.set_xlabel("code length L (bits)")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    if title:
        fig.suptitle(title, fontsize=10)
    if save is not None:
        save_figure(fig, save)
    return fig
