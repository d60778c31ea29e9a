"""HashingModule and experiment.run: codes, determinism, selection on validation, persistence, bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from hashlab.data import EmbeddingDataModule
from hashlab.experiment import ExperimentConfig, run
from hashlab.features import EmbeddingSet, FeatureSplit, get_embeddings
from hashlab.metrics import knn_accuracy, mean_average_precision
from hashlab.module import HashingModule

FAST = dict(epochs=6, batch_size=128, hidden=(128,))


@pytest.fixture(scope="module")
def digits() -> EmbeddingSet:
    return get_embeddings("digits", "pixels")


@pytest.fixture(scope="module")
def dpsh_result(digits):
    return run(ExperimentConfig(method="dpsh", bits=32, seed=3, **FAST), embeddings=digits, progress=False)


def test_codes_are_int8_pm1_with_requested_bits(dpsh_result):
    for split, codes in dpsh_result.codes.items():
        assert codes.dtype == np.int8 and codes.shape[1] == 32, split
        assert set(np.unique(codes)) <= {-1, 1}
        assert len(codes) == len(dpsh_result.labels[split])


def test_trained_head_beats_random_codes(dpsh_result):
    labels = dpsh_result.labels
    rng = np.random.default_rng(0)
    random_codes = {
        s: np.where(rng.random(c.shape) < 0.5, -1, 1).astype(np.int8) for s, c in dpsh_result.codes.items()
    }
    chance = knn_accuracy(random_codes["test"], random_codes["train"], labels["test"], labels["train"], k=7)
    acc = dpsh_result.metrics["knn_acc"]
    assert acc >= 0.85, f"DPSH 32-bit KNN accuracy on digits {acc:.3f}"
    assert acc >= chance + 0.5, f"trained {acc:.3f} vs random codes {chance:.3f}"
    random_map = mean_average_precision(
        random_codes["test"], random_codes["train"], labels["test"], labels["train"]
    )
    assert dpsh_result.metrics["map"] >= random_map + 0.4, (dpsh_result.metrics["map"], random_map)


def test_same_seed_same_codes(digits, dpsh_result):
    again = run(ExperimentConfig(method="dpsh", bits=32, seed=3, **FAST), embeddings=digits, progress=False)
    np.testing.assert_array_equal(again.codes["test"], dpsh_result.codes["test"])
    other = run(ExperimentConfig(method="dpsh", bits=32, seed=4, **FAST), embeddings=digits, progress=False)
    assert (other.codes["test"] != dpsh_result.codes["test"]).any()


def test_selection_uses_validation_never_test(digits, monkeypatch):
    def forbidden(self):
        raise AssertionError("test queries were used during training or model selection")

    monkeypatch.setattr(EmbeddingDataModule, "test_dataloader", forbidden)
    result = run(ExperimentConfig(method="dpsh", bits=16, seed=0, **FAST), embeddings=digits, progress=False)
    val_maps = [row["val_map"] for row in result.history]
    assert len(val_maps) == FAST["epochs"]
    assert result.best_epoch == int(np.argmax(val_maps))


def test_save_load_round_trip(tmp_path, dpsh_result):
    path = dpsh_result.model.save(tmp_path / "model.pt")
    loaded = HashingModule.load(path)
    x = dpsh_result.embeddings.test.features
    np.testing.assert_array_equal(loaded.encode(x), dpsh_result.codes["test"])
    payload = torch.load(path, weights_only=True)  # plain tensors and strings only
    assert isinstance(payload["config"], str)


def test_load_rejects_corrupt_and_missing_files(tmp_path, dpsh_result):
    path = dpsh_result.model.save(tmp_path / "model.pt")
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(ValueError, match="corrupt or truncated"):
        HashingModule.load(path)
    with pytest.raises(FileNotFoundError):
        HashingModule.load(tmp_path / "absent.pt")


@pytest.mark.parametrize("bits", [0, -8, 100000, 2.5])
def test_bad_bit_lengths(bits):
    with pytest.raises(ValueError, match="bit length"):
        HashingModule(in_dim=8, bits=bits, n_classes=3)
    with pytest.raises(ValueError, match="bit length"):
        ExperimentConfig(bits=bits)


def test_unknown_method_lists_registry():
    with pytest.raises(KeyError, match="dpsh"):
        ExperimentConfig(method="no-such-loss")


def _tiny(features: np.ndarray, labels: np.ndarray) -> EmbeddingSet:
    split = FeatureSplit(features, labels)
    return EmbeddingSet("tiny", "none", split, split, split, ["a", "b"], {})


def test_nan_embeddings_are_rejected():
    x = np.random.default_rng(0).normal(size=(20, 4)).astype(np.float32)
    x[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        run(ExperimentConfig(epochs=1), embeddings=_tiny(x, np.arange(20) % 2), progress=False)
    model = HashingModule(in_dim=4, bits=8, n_classes=2)
    with pytest.raises(ValueError, match="NaN"):
        model.encode(x)


def test_label_feature_mismatch_is_rejected():
    x = np.zeros((20, 4), dtype=np.float32)
    with pytest.raises(ValueError, match="labels"):
        run(ExperimentConfig(epochs=1), embeddings=_tiny(x, np.arange(19) % 2), progress=False)


def _saved(tmp_path):
    model = HashingModule(in_dim=6, bits=8, n_classes=3, hidden=(4,))
    return model, model.save(tmp_path / "m.pt")


@pytest.mark.parametrize(
    ("tamper", "message"),
    [
        (lambda p, d: p.write_bytes(b"not a torch file"), "not a readable hashlab model file"),
        (lambda p, d: torch.save({"hello": 1}, p), "not a hashlab HashingModule file"),
        (lambda p, d: torch.save({k: v for k, v in d.items() if k != "config"}, p), "lacks config"),
        (lambda p, d: torch.save({**d, "config": "{not json"}, p), "unusable model configuration"),
        (
            lambda p, d: torch.save({**d, "config": json.dumps({"bits": 8})}, p),
            "unusable model configuration",
        ),
        (
            lambda p, d: torch.save({**d, "config": d["config"].replace('"bits": 8', '"bits": 16')}, p),
            "weights do not fit",
        ),
        (lambda p, d: torch.save({**d, "format_version": 99}, p), "newer hashlab"),
    ],
)
def test_load_of_a_tampered_file_names_the_file_and_the_problem(tmp_path, tamper, message):
    from hashlab.module import ModelFileError

    _, path = _saved(tmp_path)
    payload = torch.load(path, weights_only=True)
    tamper(path, payload)
    with pytest.raises(ModelFileError, match=message) as err:
        HashingModule.load(path)
    assert str(path) in str(err.value)


def test_load_of_a_folder_names_it(tmp_path):
    from hashlab.module import ModelFileError

    with pytest.raises(ModelFileError, match="is a folder"):
        HashingModule.load(tmp_path)
