"""Training-free baselines: LSH, PCA-sign, ITQ and the exact float KNN ceiling, each against a reference property."""

from __future__ import annotations

import numpy as np
import pytest

from hashlab.baselines import (
    ITQHasher,
    LSHHasher,
    PCASignHasher,
    float_knn_report,
    get_baseline,
    hashing_report,
)


@pytest.fixture(scope="module")
def blobs() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import make_blobs

    X, y = make_blobs(n_samples=300, n_features=20, centers=5, cluster_std=2.0, random_state=0)
    return X, y


def test_lsh_identical_inputs_identical_codes_and_seeded(blobs):
    X, _ = blobs
    h = LSHHasher(32, seed=3).fit(X)
    codes = h.encode(np.vstack([X[:5], X[:5]]))
    assert codes.dtype == np.int8 and codes.shape == (10, 32)
    assert set(np.unique(codes)) <= {-1, 1}
    np.testing.assert_array_equal(codes[:5], codes[5:])
    np.testing.assert_array_equal(LSHHasher(32, seed=3).fit(X).encode(X), h.encode(X))
    assert (LSHHasher(32, seed=4).fit(X).encode(X) != h.encode(X)).any()


def test_lsh_collision_probability_is_angle_over_pi():
    # Charikar: P[bit differs] = theta / pi for random hyperplanes through the origin.
    rng = np.random.default_rng(0)
    x = rng.standard_normal(16)
    v = rng.standard_normal(16)
    v -= v @ x / (x @ x) * x  # orthogonal to x
    for theta in (np.pi / 6, np.pi / 2, 2 * np.pi / 3):
        y = np.cos(theta) * x / np.linalg.norm(x) + np.sin(theta) * v / np.linalg.norm(v)
        h = LSHHasher(20_000, seed=1, center=False).fit(np.vstack([x, y]))
        codes = h.encode(np.vstack([x, y]))
        frac = float(np.mean(codes[0] != codes[1]))
        assert abs(frac - theta / np.pi) < 0.015, (theta, frac)


def test_pca_sign_splits_along_dominant_direction():
    rng = np.random.default_rng(0)
    direction = rng.standard_normal(10)
    direction /= np.linalg.norm(direction)
    side = np.repeat([-1.0, 1.0], 100)
    X = (
        side[:, None] * 5.0 * direction + 0.3 * rng.standard_normal((200, 10)) + 7.0
    )  # offset: centring matters
    codes = PCASignHasher(3).fit(X).encode(X)
    first = codes[:, 0]
    # the first bit separates the two groups exactly (either sign convention)
    assert abs(int(first[:100].sum())) == 100 and abs(int(first[100:].sum())) == 100
    assert first[0] == -first[150]
    # the first projection is the dominant direction (up to sign)
    proj = PCASignHasher(3).fit(X).projection_[:, 0]
    assert abs(abs(proj @ direction) - 1.0) < 1e-2


def test_itq_quantization_loss_non_increasing_and_matches_formula(blobs):
    X, _ = blobs
    itq = ITQHasher(8, seed=0, n_iter=30).fit(X)
    hist = np.array(itq.loss_history_)
    assert len(hist) == 31
    assert np.all(np.diff(hist) <= 1e-8 * hist[0]), np.diff(hist).max()
    assert hist[-1] < hist[0]  # it actually improves on the random rotation
    # final loss against the formula ||sign(V R) - V R||_F^2 computed plainly
    Xc = X - X.mean(axis=0)
    V = Xc @ (itq.projection_ @ itq.rotation_.T)  # projection_ = W_pca R  =>  W_pca = projection_ R^T
    VR = V @ itq.rotation_
    B = np.where(VR >= 0, 1.0, -1.0)
    assert np.isclose(np.sum((B - VR) ** 2), hist[-1], rtol=1e-6)
    np.testing.assert_allclose(itq.rotation_ @ itq.rotation_.T, np.eye(8), atol=1e-8)
    np.testing.assert_array_equal(itq.encode(X), B.astype(np.int8))


def test_itq_beats_lsh_on_clustered_data(blobs):
    X, y = blobs
    itq = ITQHasher(16).fit(X)
    lsh = LSHHasher(16).fit(X)
    m_itq = hashing_report(itq.encode(X), itq.encode(X), y, y)["map"]
    m_lsh = hashing_report(lsh.encode(X), lsh.encode(X), y, y)["map"]
    assert m_itq > m_lsh + 0.05, (m_itq, m_lsh)


def test_float_knn_report_matches_brute_force(blobs):
    X, y = blobs
    q, ql, db, dl = X[:40], y[:40], X[40:], y[40:]
    rep = float_knn_report(q, db, ql, dl, k=10)
    aps, p10 = [], []
    for i in range(len(q)):
        order = np.argsort(np.linalg.norm(db - q[i], axis=1), kind="stable")
        rel = dl[order] == ql[i]
        hits = np.cumsum(rel)
        aps.append(np.sum(hits[rel] / (np.flatnonzero(rel) + 1)) / rel.sum())
        p10.append(rel[:10].mean())
    assert np.isclose(rep["map"], np.mean(aps), atol=1e-6)
    assert np.isclose(rep["p@10"], np.mean(p10), atol=1e-6)
    assert rep["ms_per_query"] > 0


def test_bad_input_raises():
    with pytest.raises(ValueError, match="bits"):
        LSHHasher(0)
    with pytest.raises(ValueError, match="bits"):
        ITQHasher(-3)
    with pytest.raises(ValueError, match="bits <= min"):
        PCASignHasher(30).fit(np.random.default_rng(0).standard_normal((50, 10)))
    with pytest.raises(ValueError, match="2-D"):
        LSHHasher(8).fit(np.zeros(10))
    with pytest.raises(ValueError, match="NaN"):
        LSHHasher(8).fit(np.full((4, 3), np.nan))
    with pytest.raises(RuntimeError, match="not fitted"):
        ITQHasher(4).encode(np.zeros((2, 8)))
    with pytest.raises(ValueError, match="fitted on 8"):
        LSHHasher(4).fit(np.ones((5, 8))).encode(np.ones((2, 7)))
    with pytest.raises(KeyError, match="available"):
        get_baseline("nope", 8)
