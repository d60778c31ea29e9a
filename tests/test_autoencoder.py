"""ConvAutoencoderHasher (Alsoufi's autoencoder hashing): loss formula, shapes and errors, training, retrieval beats random codes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hashlab.autoencoder import ConvAutoencoderHasher, images_to_tensor, train_autoencoder
from hashlab.data import load_dataset
from hashlab.metrics import mean_average_precision

EPOCHS = 6


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


@pytest.fixture(scope="module")
def code_model(digits):
    return train_autoencoder(
        digits.train.images, bits=32, decoder_input="code", hash_norm=True, epochs=EPOCHS, progress=False
    )


def test_loss_matches_formula():
    torch.manual_seed(0)
    model = ConvAutoencoderHasher(image_size=8, channels=1, bits=6, lam=0.7).eval()
    x = torch.rand(5, 1, 8, 8)
    out = model(x)
    parts = model.loss(x)
    y = out["y"].detach().numpy()
    h = np.where(y >= 0, 1.0, -1.0)
    rec = np.mean((x.numpy() - out["x_hat"].detach().numpy()) ** 2)
    quant = np.sum((h - y) ** 2) / (5 * 6)
    assert np.isclose(float(parts["rec"]), rec, rtol=1e-5)
    assert np.isclose(float(parts["quant"]), quant, rtol=1e-5)
    assert np.isclose(float(parts["total"]), rec + 0.7 * quant, rtol=1e-5)


@pytest.mark.parametrize("size,channels", [(8, 1), (28, 1), (32, 3)])
def test_shapes_for_each_image_size(size, channels):
    for decoder_input in ("latent", "code"):
        model = ConvAutoencoderHasher(
            image_size=size, channels=channels, bits=12, decoder_input=decoder_input
        )
        imgs = np.random.default_rng(0).integers(0, 256, (3, size, size, channels), dtype=np.uint8)
        codes = model.encode(imgs)
        assert codes.dtype == np.int8 and codes.shape == (3, 12) and set(np.unique(codes)) <= {-1, 1}
        assert model.reconstruct(imgs).shape == (3, size, size, channels)


def test_bad_input_raises():
    with pytest.raises(ValueError, match="lam"):
        ConvAutoencoderHasher(lam=-0.1)
    with pytest.raises(ValueError, match="bits"):
        ConvAutoencoderHasher(bits=0)
    with pytest.raises(ValueError, match="decoder_input"):
        ConvAutoencoderHasher(decoder_input="pixels")
    with pytest.raises(ValueError, match="divisible by 4"):
        ConvAutoencoderHasher(image_size=30)
    model = ConvAutoencoderHasher(image_size=8, channels=1, bits=8)
    with pytest.raises(ValueError, match="channel"):
        model.encode(np.zeros((2, 8, 8, 3), dtype=np.uint8))
    with pytest.raises(ValueError, match="expects 8x8"):
        model.encode(np.zeros((2, 28, 28, 1), dtype=np.uint8))
    with pytest.raises(ValueError, match=r"\(N, H, W, C\)"):
        model.encode(np.zeros((8, 8), dtype=np.uint8))
    with pytest.raises(ValueError, match="not available"):
        model.reconstruct(np.zeros((2, 8, 8, 1), dtype=np.uint8), source="code")
    with pytest.raises(ValueError, match="NaN"):
        images_to_tensor(np.full((1, 8, 8, 1), np.nan, dtype=np.float32))


def test_reconstruction_error_falls_and_codes_beat_random(digits, code_model):
    rec = [h["rec"] for h in code_model.history]
    assert len(rec) == EPOCHS
    assert rec[-1] < 0.5 * rec[0], rec
    assert all(b <= a * 1.05 for a, b in zip(rec, rec[1:], strict=False)), rec  # no blow-up between epochs
    q, db = code_model.encode(digits.test.images), code_model.encode(digits.train.images)
    m_code = mean_average_precision(q, db, digits.test.labels, digits.train.labels)
    rng = np.random.default_rng(0)
    rand_q = np.where(rng.random(q.shape) < 0.5, 1, -1).astype(np.int8)
    rand_db = np.where(rng.random(db.shape) < 0.5, 1, -1).astype(np.int8)
    m_rand = mean_average_precision(rand_q, rand_db, digits.test.labels, digits.train.labels)
    assert m_rand < 0.13  # chance (class prior) is about 0.10
    assert m_code > m_rand + 0.25, (m_code, m_rand)


def test_same_seed_same_codes(digits, code_model):
    again = train_autoencoder(
        digits.train.images, bits=32, decoder_input="code", hash_norm=True, epochs=EPOCHS, progress=False
    )
    np.testing.assert_array_equal(again.encode(digits.test.images), code_model.encode(digits.test.images))


def test_claims_file_and_table(digits):
    from hashlab.studies.autoencoder import claims_vs_measured, load_autoencoder_claims

    claims = load_autoencoder_claims()
    t1 = claims["table_I"]
    assert list(t1["bits"]) == [16, 32, 32, 64] and np.isclose(t1["map"].iloc[1], 0.667)
    import pandas as pd

    ours = pd.DataFrame(
        {"method": ["ae_latent"], "bits": [32], "map": [0.1], "p@100": [0.1], "ms_per_query": [0.2]}
    )
    both = claims_vs_measured(ours, {"dataset": "digits", "n_database": 1079})
    assert (
        both["source"].str.startswith("claim").sum() == 4
        and both["source"].str.startswith("measured").sum() == 1
    )


def test_claims_file_checked_on_read(tmp_path):
    from hashlab.studies.autoencoder import load_autoencoder_claims

    bad = tmp_path / "c.json"
    bad.write_text('{"tables": {"table_I": [{"bits": 16, "map": 1.7}]}}')
    with pytest.raises(ValueError, match="outside"):
        load_autoencoder_claims(bad)
    bad.write_text("{not json")
    with pytest.raises(ValueError, match="JSON"):
        load_autoencoder_claims(bad)
    with pytest.raises(FileNotFoundError):
        load_autoencoder_claims(tmp_path / "missing.json")


def test_explorer_button_runs_handler(digits):
    from hashlab.data import DatasetBundle, Split

    small = DatasetBundle(
        name="digits-small",
        train=Split(digits.train.images[:300], digits.train.labels[:300]),
        val=digits.val,
        test=Split(digits.test.images[:100], digits.test.labels[:100]),
        class_names=digits.class_names,
        multilabel=False,
    )
    from hashlab.widgets import AutoencoderExplorer

    explorer = AutoencoderExplorer(small, epochs=1)
    assert explorer.result is None
    explorer.bits.value = 16
    explorer.lam.value = 0.01
    explorer.train_button.click()
    res = explorer.result
    assert res is not None and res["bits"] == 16 and np.isclose(res["lam"], 0.01)
    assert res["codes"]["ae_code"][0].shape == (100, 16)
    assert set(res["map"]) == {"ae_latent", "ae_code"} and "mAP" in explorer.status.value


def test_notebook02_medmnist_helpers(tmp_path):
    """find_medmnist: the first candidate whose file is on disk (size suffix included); subsample_bundle: seeded
    subsets without replacement, val kept, small splits untouched, bad size named."""
    from hashlab.studies.autoencoder import find_medmnist, subsample_bundle

    (tmp_path / "bloodmnist.npz").write_bytes(b"")
    (tmp_path / "pathmnist_64.npz").write_bytes(b"")
    assert find_medmnist(["pathmnist", "bloodmnist"], root=tmp_path) == "bloodmnist"
    assert find_medmnist(["pathmnist"], root=tmp_path, size=64) == "pathmnist"
    assert find_medmnist(["pathmnist"], root=tmp_path) is None
    bundle = load_dataset("digits")
    a, b = (subsample_bundle(bundle, 100, 5000, seed=3) for _ in range(2))
    assert len(a.train) == 100 and a.test is bundle.test and a.val is bundle.val
    assert np.array_equal(a.train.images, b.train.images)
    rows = {r.tobytes() for r in bundle.train.images}
    assert len({r.tobytes() for r in a.train.images} & rows) == len({r.tobytes() for r in a.train.images})
    assert a.meta["subsample"] == {"n_train": 100, "n_test": 5000, "seed": 3}
    with pytest.raises(ValueError, match="sample size"):
        subsample_bundle(bundle, 0, 10)
