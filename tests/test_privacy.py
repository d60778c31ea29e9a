"""Privacy analysis: attack metrics against brute force, the raw/random references, determinism and errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hashlab import privacy, viz
from hashlab.features import EmbeddingSet, FeatureSplit, pixel_stats
from hashlab.studies.privacy import attack_frame, attack_sweep


# ------------------------------------------------------------------------------------------- brute-force references
def brute_mse_cosine(rec: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    total, cosines = 0.0, []
    for r, t in zip(rec, truth, strict=True):
        total += sum((a - b) ** 2 for a, b in zip(r, t, strict=True))
        nr, nt = np.sqrt(sum(a * a for a in r)), np.sqrt(sum(b * b for b in t))
        cosines.append(
            0.0 if nr == 0 or nt == 0 else sum(a * b for a, b in zip(r, t, strict=True)) / (nr * nt)
        )
    return total / rec.size, sum(cosines) / len(cosines)


def brute_reid(rec: np.ndarray, truth: np.ndarray) -> float:
    hits = 0
    for i, r in enumerate(rec):
        best, best_j = np.inf, -1
        for j, t in enumerate(truth):
            d = sum((a - b) ** 2 for a, b in zip(r, t, strict=True))
            if d < best:  # strict: ties keep the lowest index
                best, best_j = d, j
        hits += best_j == i
    return hits / len(rec)


def test_reconstruction_error_matches_brute_force():
    rec = np.array([[1.0, 0.0, 2.0], [0.0, 0.0, 0.0], [-1.0, 3.0, 0.5], [2.0, 2.0, 2.0]])
    truth = np.array([[1.0, 1.0, 1.0], [1.0, -2.0, 0.0], [-2.0, 1.0, 0.5], [1.0, 1.0, 1.0]])
    got = privacy.reconstruction_error(rec, truth)
    mse, cosine = brute_mse_cosine(rec, truth)
    assert got["mse"] == pytest.approx(mse)
    assert got["cosine"] == pytest.approx(cosine)
    # hand check: the zero row counts as cosine 0, the last row is parallel (cosine 1)
    assert got["cosine"] == pytest.approx(
        (3 / np.sqrt(15) + 0.0 + (2 + 3 + 0.25) / np.sqrt(10.25 * 5.25) + 1) / 4
    )


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_reidentification_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    truth = rng.standard_normal((12, 3))
    rec = truth + rng.normal(scale=0.8, size=truth.shape)
    assert privacy.reidentification_rate(rec, truth) == pytest.approx(brute_reid(rec, truth))


def test_reidentification_ties_go_to_the_lowest_index():
    truth = np.array([[0.0, 0.0], [1.0, 1.0], [1.0, 1.0], [5.0, 5.0]])
    rec = truth.copy()  # rows 1 and 2 are duplicates: both reconstructions land on row 1
    assert privacy.reidentification_rate(rec, truth) == pytest.approx(brute_reid(rec, truth)) == 0.75


def test_storage_bits():
    assert privacy.storage_bits(768) == 768 * 32
    assert privacy.storage_bits(64, 12) == 12
    assert privacy.storage_bits(64, float_bits=64) == 64 * 64
    for bad in (0, -3, 2.5, True):
        with pytest.raises(ValueError, match=r"bits must be an integer >= 1"):
            privacy.storage_bits(64, bad)
    with pytest.raises(ValueError, match=r"float_bits must be an integer >= 1"):
        privacy.storage_bits(64, float_bits=0)


def test_majority_accuracy_matches_counting():
    aux = np.array([0, 2, 2, 1, 2, 0])
    test = np.array([2, 2, 0, 1, 2, 3, 2])
    assert privacy.majority_accuracy(aux, test) == pytest.approx(4 / 7)


# ------------------------------------------------------------------------------------------------------ attacks
@pytest.fixture(scope="module")
def gaussian() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.standard_normal((400, 16)), rng.standard_normal((150, 16))


def test_attack_on_raw_inputs_reidentifies_nearly_everyone(gaussian):
    aux, test = gaussian
    result = privacy.inversion_attack(aux, aux, test, test, name="raw")
    assert result.reid >= 0.95, result.reid  # near 1
    assert result.cosine >= 0.95 and result.mse <= 0.1, (result.cosine, result.mse)
    assert result.storage_bits == 16 * 32 and result.chance == pytest.approx(1 / 150)
    assert result.reconstructions.shape == test.shape


def test_attack_on_random_codes_is_at_chance(gaussian):
    aux, test = gaussian
    result = privacy.random_codes_attack(aux, test, bits=32, seed=0)
    assert result.reid <= 5 / len(test), result.reid  # chance is 1/N = 0.0067
    assert abs(result.cosine) <= 0.15, result.cosine
    mean = privacy.mean_attack(aux, test)
    assert mean.reid == pytest.approx(
        1 / len(test)
    )  # one constant reconstruction has exactly one nearest item
    assert result.mse >= mean.mse  # a decoder fitted to noise does no better than the mean


def test_codes_that_keep_information_sit_between_the_references(gaussian):
    aux, test = gaussian
    projection = np.random.default_rng(1).standard_normal((16, 64))
    codes = privacy.inversion_attack(
        np.sign(aux @ projection), aux, np.sign(test @ projection), test, bits=64
    )
    raw = privacy.inversion_attack(aux, aux, test, test)
    assert 20 / len(test) <= codes.reid <= raw.reid, (codes.reid, raw.reid)
    assert codes.storage_bits == 64


def test_attack_is_seeded(gaussian):
    aux, test = gaussian
    codes_aux, codes_test = np.sign(aux[:, :8]), np.sign(test[:, :8])
    a = privacy.inversion_attack(codes_aux, aux, codes_test, test, seed=3)
    b = privacy.inversion_attack(codes_aux, aux, codes_test, test, seed=3)
    c = privacy.inversion_attack(codes_aux, aux, codes_test, test, seed=4)
    np.testing.assert_array_equal(a.reconstructions, b.reconstructions)
    assert a.row() == b.row()
    assert not np.array_equal(a.reconstructions, c.reconstructions)
    r1 = privacy.random_codes_attack(aux, test, 16, seed=5)
    r2 = privacy.random_codes_attack(aux, test, 16, seed=5)
    np.testing.assert_array_equal(r1.reconstructions, r2.reconstructions)


def test_class_mean_attack_uses_each_true_class_mean():
    aux = np.array([[0.0, 0.0], [2.0, 2.0], [10.0, 0.0], [12.0, 2.0]])
    aux_y = np.array([0, 0, 1, 1])
    test = np.array([[1.0, 1.0], [11.0, 1.0], [0.0, 3.0]])
    test_y = np.array([0, 1, 0])
    result = privacy.class_mean_attack(aux, aux_y, test, test_y)
    expected = np.array([[1.0, 1.0], [11.0, 1.0], [1.0, 1.0]])
    np.testing.assert_allclose(result.reconstructions, expected)
    assert result.reid == pytest.approx(brute_reid(expected, test)) == pytest.approx(2 / 3)
    assert result.storage_bits == 1  # two classes: one bit of label
    with pytest.raises(ValueError, match=r"test classes \[2\]"):
        privacy.class_mean_attack(aux, aux_y, test, np.array([0, 1, 2]))


def test_attribute_inference_reads_labels_from_codes_and_not_from_noise():
    rng = np.random.default_rng(0)
    y_aux, y_test = rng.integers(0, 4, 300), rng.integers(0, 4, 200)
    prototypes = rng.choice([-1.0, 1.0], size=(4, 24))
    flip = lambda y: prototypes[y] * np.where(rng.random((len(y), 24)) < 0.1, -1, 1)  # noqa: E731
    acc = privacy.attribute_inference(flip(y_aux), y_aux, flip(y_test), y_test)
    assert acc >= 0.95, acc
    noise = privacy.attribute_inference(
        rng.choice([-1.0, 1.0], (300, 24)), y_aux, rng.choice([-1.0, 1.0], (200, 24)), y_test
    )
    assert noise <= 0.25 + 0.12, noise  # chance is 1/4


# ------------------------------------------------------------------------------------------------------- errors
def test_clear_errors(gaussian):
    aux, test = gaussian
    with pytest.raises(ValueError, match="aux_codes has 399 rows but aux_inputs has 400"):
        privacy.inversion_attack(aux[:-1], aux, test, test)
    with pytest.raises(ValueError, match="aux_codes has 16 columns but test_codes has 8"):
        privacy.inversion_attack(aux, aux, test[:, :8], test)
    nan = test.copy()
    nan[3, 2] = np.nan
    with pytest.raises(ValueError, match=r"test_inputs contains NaN or inf \(1 rows"):
        privacy.inversion_attack(aux, aux, test, nan)
    with pytest.raises(ValueError, match="test_codes contains NaN"):
        privacy.inversion_attack(aux, aux, nan, test)
    with pytest.raises(ValueError, match="2-D"):
        privacy.reidentification_rate(test[0], test[0])
    with pytest.raises(ValueError, match="reconstructions has 10 rows but truth has 150"):
        privacy.reidentification_rate(test[:10], test)
    with pytest.raises(ValueError, match="empty"):
        privacy.reconstruction_error(np.zeros((0, 3)), np.zeros((0, 3)))
    with pytest.raises(ValueError, match="single-label"):
        privacy.attribute_inference(aux, np.zeros((400, 3), int), test, np.zeros(150, int))
    with pytest.raises(ValueError, match="test_labels has 149 labels for 150 rows"):
        privacy.attribute_inference(aux, np.arange(400) % 2, test, np.zeros(149, int))
    with pytest.raises(ValueError, match="alpha"):
        privacy.inversion_attack(aux, aux, test, test, alpha=float("nan"))


# ------------------------------------------------------------------------------------------------------- images
def test_features_to_images_undoes_pixel_standardisation():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(20, 8, 8, 1), dtype=np.uint8)
    images[:, 0, 0, 0] = 7  # a constant pixel: std floored to 1
    mean, std = pixel_stats(images)
    features = (images.reshape(20, -1) / 255.0 - mean) / std
    split = FeatureSplit(features, np.zeros(20, np.int64))
    emb = EmbeddingSet(
        "toy", "pixels", split, split, split, ["a"], meta={"pixel_mean": mean, "pixel_std": std}
    )
    back = privacy.features_to_images(features, emb)
    assert back.shape == (20, 8, 8, 1)
    np.testing.assert_allclose(back, images / 255.0, atol=1e-5)
    assert privacy.features_to_images(features + 100.0, emb).max() == 1.0  # clipped to [0, 1]
    fig = viz.plot_image_rows(back[:5], {"decoded": back[5:10]})
    assert len(fig.axes) == 10
    with pytest.raises(ValueError, match="pixel_mean"):
        privacy.features_to_images(features, EmbeddingSet("toy", "vit_b_16", split, split, split, ["a"]))


# -------------------------------------------------------------------------------------------------- integration
def test_attack_sweep_on_trained_heads():
    from hashlab.experiment import ExperimentConfig, run
    from hashlab.features import get_embeddings

    emb = get_embeddings("digits", "pixels")
    results = {
        b: run(ExperimentConfig(bits=b, epochs=3, seed=0), embeddings=emb, progress=False) for b in (8, 32)
    }
    attacks = attack_sweep(results, seed=0)
    assert set(attacks) == {
        ("codes", 8),
        ("codes", 32),
        ("random codes", 8),
        ("random codes", 32),
        ("raw", None),
        ("class mean", None),
        ("mean", None),
    }
    frame = attack_frame(attacks)
    assert len(frame) == 7 and {"reid", "mse", "cosine", "label_acc", "storage_bits"} <= set(frame.columns)
    n = len(emb.test)
    assert attacks[("raw", None)].reid >= 0.95
    assert attacks[("codes", 32)].reid >= attacks[("random codes", 32)].reid + 10 / n
    assert attacks[("codes", 32)].label_accuracy >= 0.7  # trained codes carry the class
    assert attacks[("random codes", 32)].label_accuracy <= 0.25
    assert attacks[("mean", None)].reid == pytest.approx(1 / n)
    fig = viz.plot_leakage(frame)
    assert (
        len(fig.axes) == 3 and len(fig.axes[0].get_lines()) == 2 + 3
    )  # codes, random; raw, chance, class mean
    both = viz.plot_leakage(pd.concat([frame.assign(epochs=3), frame.assign(epochs=9)]))
    assert [t.get_text() for t in both.legends[0].get_texts()][:2] == [
        "codes, 3 epochs",
        "codes, 9 epochs",
    ]
    with pytest.raises(ValueError, match="needs columns"):
        viz.plot_leakage(frame.drop(columns="reid"))
    with pytest.raises(ValueError, match="keyed 8 bits was trained with 32"):
        attack_sweep({8: results[32]})
