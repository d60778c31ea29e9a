"""Tests for hashlab.features: pixel features, the checked embeddings cache, backbones and resumable extraction."""

from __future__ import annotations

import json
import shutil
import urllib.error
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import hashlab.extraction as hf_extraction
import hashlab.features as hf
from hashlab.data import DatasetBundle, Split
from hashlab.features import (
    CacheRebuildWarning,
    EmbeddingSet,
    FeatureSplit,
    WeightsNotAvailableError,
    available_backbones,
    cache_path,
    extract,
    get_embeddings,
)

# the read-only real MedMNIST files beside the project (../shared), as on every developer and CI machine
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "medmnist"


pytestmark = pytest.mark.usefixtures("isolated_data_dir")


def _tiny_bundle(n: int = 4, size: int = 12, channels: int = 1) -> DatasetBundle:
    rng = np.random.default_rng(0)

    def split(k):
        return Split(rng.integers(0, 256, (k, size, size, channels), dtype=np.uint8), np.arange(k) % 2)

    return DatasetBundle("tiny", split(n), split(n), split(n), ["a", "b"], False, {"size": size})


def test_available_backbones_and_unknown():
    assert available_backbones() == ["pixels", "vit_b_16", "dinov2_vitb14"]
    with pytest.raises(KeyError, match="vit_b_16"):
        get_embeddings("digits", "resnet50")
    with pytest.raises(KeyError, match="dinov2_vitb14"):
        extract("digits", "clip", "train")
    with pytest.raises(ValueError, match="split"):
        extract("digits", "pixels", "holdout")
    with pytest.raises(ValueError, match="weights"):
        get_embeddings("digits", "vit_b_16", weights="imagenet22k")


def test_pixels_standardised_with_train_statistics(digits):
    emb = get_embeddings("digits", "pixels", progress=False)
    flat = {s: getattr(digits, s).images.reshape(-1, 64) / 255.0 for s in ("train", "val", "test")}
    mean, std = flat["train"].mean(0), flat["train"].std(0)
    std[std < 1e-6] = 1.0
    for s in ("train", "val", "test"):
        np.testing.assert_allclose(getattr(emb, s).features, (flat[s] - mean) / std, rtol=1e-4, atol=1e-4)
        np.testing.assert_array_equal(getattr(emb, s).labels, getattr(digits, s).labels)
    assert emb.in_dim == 64 and emb.train.features.dtype == np.float32
    np.testing.assert_allclose(emb.meta["pixel_mean"], mean, atol=1e-6)
    # train features: zero mean; unit std wherever the pixel varies
    varying = flat["train"].std(0) > 1e-6
    np.testing.assert_allclose(emb.train.features[:, varying].std(0), 1.0, atol=1e-3)
    assert emb.meta["image_size"] == 8 and emb.class_names == [str(i) for i in range(10)]


def test_pixels_deterministic_and_extract_agrees(digits):
    a = get_embeddings("digits", progress=False, rebuild=True)
    b = get_embeddings("digits", progress=False, rebuild=True)
    np.testing.assert_array_equal(a.test.features, b.test.features)
    np.testing.assert_array_equal(extract(digits, "pixels", "test").features, a.test.features)


def test_cache_round_trip_does_not_reload_dataset(monkeypatch):
    first = get_embeddings("digits", progress=False)
    path = cache_path("digits", "pixels", 8, "default", "train")
    assert path.exists() and path.parent == hf.data_dir() / "embeddings"
    with np.load(path) as npz:
        meta = json.loads(str(npz["meta"]))
    assert meta["dataset"] == "digits" and meta["backbone"] == "pixels" and meta["image_size"] == 8
    assert meta["n"] == 1079 and meta["dim"] == 64 and meta["split"] == "train"

    def no_load(*args, **kwargs):
        raise AssertionError("dataset loaded although the cache is valid")

    monkeypatch.setattr(hf, "load_dataset", no_load)
    second = get_embeddings("digits", progress=False)
    for s in ("train", "val", "test"):
        np.testing.assert_array_equal(getattr(first, s).features, getattr(second, s).features)
        np.testing.assert_array_equal(getattr(first, s).labels, getattr(second, s).labels)


def test_truncated_cache_is_rebuilt():
    first = get_embeddings("digits", progress=False)
    path = cache_path("digits", "pixels", 8, None, "val")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])
    with pytest.warns(CacheRebuildWarning, match="unreadable"):
        again = get_embeddings("digits", progress=False)
    np.testing.assert_array_equal(again.val.features, first.val.features)
    assert path.read_bytes() == data  # rewritten, identical content


def _rewrite(path: Path, **changes) -> None:
    with np.load(path) as npz:
        arrays = {k: npz[k] for k in npz.files}
    for key, value in changes.items():
        arrays[key] = value
    np.savez(path, **arrays)


def test_tampered_cache_fails_checksum_and_is_rebuilt():
    first = get_embeddings("digits", progress=False)
    path = cache_path("digits", "pixels", 8, None, "test")
    tampered = first.test.features.copy()
    tampered[0, 0] += 1.0
    _rewrite(path, features=tampered)
    with pytest.warns(CacheRebuildWarning, match="checksum mismatch"):
        again = get_embeddings("digits", progress=False)
    np.testing.assert_array_equal(again.test.features, first.test.features)


def test_cache_with_other_metadata_is_rebuilt():
    first = get_embeddings("digits", progress=False)
    path = cache_path("digits", "pixels", 8, None, "train")
    with np.load(path) as npz:
        meta = json.loads(str(npz["meta"]))
        arrays = {k: npz[k] for k in npz.files if k not in ("meta", "checksum")}
    meta["image_size"] = 224  # e.g. a file copied from another image size
    fake = {
        "features": np.zeros((1079, 64), np.float32),
        **{k: v for k, v in arrays.items() if k != "features"},
    }
    hf._write_cache(path, meta, fake)  # valid checksum, wrong metadata
    with pytest.warns(CacheRebuildWarning, match="metadata mismatch"):
        again = get_embeddings("digits", progress=False)
    np.testing.assert_array_equal(again.train.features, first.train.features)


def test_subsample_is_stratified_and_seeded():
    emb = get_embeddings("digits", progress=False)
    sub = emb.subsample(200, 50, None, seed=0)
    assert (len(sub.train), len(sub.val), len(sub.test)) == (200, 50, 359)
    counts = np.bincount(sub.train.labels, minlength=10)
    assert counts.min() >= 19 and counts.max() <= 21  # 10 classes × 20 (a random draw spreads ~ ±4)
    again = emb.subsample(200, 50, None, seed=0)
    np.testing.assert_array_equal(sub.train.features, again.train.features)
    other = emb.subsample(200, 50, None, seed=1)
    assert not np.array_equal(sub.train.features, other.train.features)
    # rows are real rows of the original split, in their original order
    rows = {r.tobytes(): i for i, r in enumerate(emb.train.features)}
    pos = [rows[r.tobytes()] for r in sub.train.features]
    assert pos == sorted(pos)
    assert sub.in_dim == 64 and sub.meta["subsample"]["n_train"] == 200
    assert emb.subsample(5000, None, None).train is emb.train
    with pytest.raises(ValueError, match="subsample size"):
        emb.subsample(0, 10, 10)


def test_subsample_multilabel():
    rng = np.random.default_rng(0)
    parts = {
        s: FeatureSplit(rng.normal(size=(40, 3)), rng.integers(0, 2, (40, 4)))
        for s in ("train", "val", "test")
    }
    emb = EmbeddingSet("toy", "pixels", **parts, class_names=list("abcd"))
    sub = emb.subsample(10, 5, 5)
    assert sub.train.labels.shape == (10, 4) and len(sub.test) == 5


@pytest.mark.skipif(not (SHARED / "breastmnist.npz").exists(), reason="shared MedMNIST files absent")
def test_medmnist_pixels_embeddings(tmp_path):
    root = tmp_path / "mm"
    root.mkdir()
    shutil.copy(SHARED / "breastmnist.npz", root)
    emb = get_embeddings("breastmnist", "pixels", size=28, root=root, progress=False)
    assert emb.train.features.shape == (546, 784) and emb.test.features.shape == (156, 784)
    assert emb.class_names == ["malignant", "normal, benign"]
    assert cache_path("breastmnist", "pixels", 28, None, "test").exists()


def test_vit_b_16_random_weights_real_code_path():
    bundle = _tiny_bundle(n=4, size=12, channels=1)
    fs = extract(bundle, "vit_b_16", "test", batch_size=4, weights=None, progress=False)
    assert fs.features.shape == (4, 768) and fs.features.dtype == np.float32
    assert np.isfinite(fs.features).all()
    # different images give different CLS features
    assert np.abs(fs.features[0] - fs.features[1]).max() > 1e-3
    assert not (hf.data_dir() / "embeddings" / ".partial").exists() or not any(
        (hf.data_dir() / "embeddings" / ".partial").iterdir()
    )


def test_preprocess_grey_to_rgb_224():
    images = np.full((2, 8, 8, 1), 255, np.uint8)
    x = hf._preprocess(images, torch.device("cpu"))
    assert x.shape == (2, 3, 224, 224)
    expected = (1.0 - torch.tensor(hf.IMAGENET_MEAN)) / torch.tensor(hf.IMAGENET_STD)
    torch.testing.assert_close(x[0, :, 100, 100], expected)


def test_missing_pretrained_weights_offline(tmp_path, monkeypatch):
    import torchvision.models._api as api

    def offline(url, *args, **kwargs):
        raise urllib.error.URLError("Name or service not known")

    monkeypatch.setattr(api, "load_state_dict_from_url", offline)
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    with pytest.raises(WeightsNotAvailableError) as err:
        hf._load_backbone("vit_b_16", "default")
    msg = str(err.value)
    assert "https://download.pytorch.org/models/vit_b_16-c867db91.pth" in msg
    assert str(tmp_path / "hub" / "checkpoints" / "vit_b_16-c867db91.pth") in msg
    assert isinstance(err.value, FileNotFoundError)


def test_missing_dinov2_offline(tmp_path, monkeypatch):
    def offline(*args, **kwargs):
        raise urllib.error.URLError("Name or service not known")

    monkeypatch.setattr(torch.hub, "load", offline)
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    with pytest.raises(WeightsNotAvailableError) as err:
        hf._load_backbone("dinov2_vitb14", "default")
    assert hf.DINOV2_URL in str(err.value) and "facebookresearch_dinov2_main" in str(err.value)


class _TinyNet(nn.Module):
    """Stands in for a backbone: a seeded 3x3 convolution, ReLU and global mean of the 224-px input, counting calls."""

    def __init__(self, fail_after: int | None = None, seed: int = 0):
        super().__init__()
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            self.conv = nn.Conv2d(3, 5, 3, stride=4)
        self.calls, self.fail_after = 0, fail_after

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.fail_after is not None and self.calls >= self.fail_after:
            raise _Interrupted("simulated interruption")
        self.calls += 1
        return torch.relu(self.conv(x)).mean(dim=(2, 3))


class _Interrupted(Exception):
    """A crash in the middle of an extraction (Lightning turns KeyboardInterrupt into sys.exit, not re-raised)."""


def _loop_reference(net: nn.Module, images: np.ndarray, batch_size: int) -> np.ndarray:
    """The extraction before the Lightning job (hashlab 0.x): a plain batched loop under inference mode."""
    with torch.inference_mode():
        return np.concatenate(
            [
                net(hf._preprocess(images[b : b + batch_size], torch.device("cpu"))).float().numpy()
                for b in range(0, len(images), batch_size)
            ]
        )


CPU = {"accelerator": "cpu", "devices": 1}


def test_lightning_job_is_bit_identical_to_the_batched_loop(monkeypatch, tmp_path):
    bundle = _tiny_bundle(n=10, size=6, channels=3)
    reference = _loop_reference(_TinyNet(), bundle.train.images, batch_size=4)
    monkeypatch.setattr(hf, "_load_backbone", lambda backbone, weights: _TinyNet())
    out = extract(bundle, "vit_b_16", "train", batch_size=4, progress=False, work_dir=tmp_path / "w", **CPU)
    assert out.features.shape == (10, 5) and out.features.dtype == np.float32
    np.testing.assert_array_equal(out.features, reference)
    np.testing.assert_array_equal(out.labels, bundle.train.labels)
    assert not (tmp_path / "w").exists()  # shards removed once merged


def test_pixels_through_lightning_equal_numpy_path(digits):
    numpy_path = extract(digits, "pixels", "test")
    lightning = extract(digits, "pixels", "test", batch_size=100, progress=False, **CPU)
    np.testing.assert_array_equal(lightning.features, numpy_path.features)
    # and the cache written through the job is the cache written without it
    a = get_embeddings("digits", progress=False, **CPU)
    b = get_embeddings("digits", progress=False, rebuild=True)
    np.testing.assert_array_equal(a.train.features, b.train.features)
    assert a.meta["precision"] == "32-true"


def test_extraction_resumes_after_interruption(monkeypatch, tmp_path):
    bundle = _tiny_bundle(n=10, size=6, channels=3)
    work = tmp_path / "partial"
    reference = _loop_reference(_TinyNet(), bundle.train.images, batch_size=2)
    nets = [_TinyNet(fail_after=2), _TinyNet()]
    monkeypatch.setattr(hf, "_load_backbone", lambda backbone, weights: nets.pop(0))
    kwargs = {"batch_size": 2, "shard_size": 4, "progress": False, "weights": None, "work_dir": work, **CPU}
    interrupted = nets[0]
    with pytest.raises(_Interrupted):
        extract(bundle, "vit_b_16", "train", **kwargs)
    assert interrupted.calls == 2 and len(list(work.glob("shard_*.npz"))) == 1  # one shard of items 0..3
    assert not list(work.glob(".*tmp*"))  # no half-written file left
    resumed_net = nets[0]
    resumed = extract(bundle, "vit_b_16", "train", **kwargs).features
    assert resumed_net.calls == 3  # batches of items 4..9 only: the first shard came from disk
    np.testing.assert_array_equal(resumed, reference)
    assert not work.exists()


def test_shards_of_another_model_or_corrupt_are_refused(monkeypatch, tmp_path):
    bundle = _tiny_bundle(n=8, size=6, channels=3)
    work = tmp_path / "partial"
    kwargs = {"batch_size": 2, "shard_size": 2, "progress": False, "weights": None, "work_dir": work, **CPU}
    nets = [_TinyNet(fail_after=3, seed=1), _TinyNet(seed=0)]
    monkeypatch.setattr(hf, "_load_backbone", lambda backbone, weights: nets.pop(0))
    with pytest.raises(_Interrupted):
        extract(bundle, "vit_b_16", "val", **kwargs)  # shards of a model with other weights
    shards = sorted(work.glob("shard_*.npz"))
    assert len(shards) == 3
    shards[0].write_bytes(shards[0].read_bytes()[:100])  # and one of them truncated
    fresh = nets[0]
    with pytest.warns(hf_extraction.ShardRefusedWarning, match="refusing 3 shard"):
        out = extract(bundle, "vit_b_16", "val", **kwargs).features
    assert fresh.calls == 4  # everything recomputed: nothing of the other model merged
    np.testing.assert_array_equal(out, _loop_reference(_TinyNet(seed=0), bundle.val.images, 2))


def test_merge_restores_dataset_order_and_drops_duplicates():
    rows = np.arange(12, dtype=np.float32).reshape(6, 2)
    # rank 0 held items 0, 2, 4 and rank 1 items 1, 3, 5 plus a repeat of item 0
    shards = [
        (np.array([0, 2, 4]), rows[[0, 2, 4]]),
        (np.array([1, 3, 5, 0]), np.vstack([rows[[1, 3, 5]], [[-1, -1]]])),
    ]
    merged, present = hf_extraction.merge_shards(shards, 6)
    np.testing.assert_array_equal(merged, rows)
    assert present.all()
    _, partial = hf_extraction.merge_shards(shards[:1], 6)
    assert partial.tolist() == [True, False, True, False, True, False]


def test_shard_checksum_detects_tampering(tmp_path):
    job = {"n": 3, "split": "train"}
    path = hf_extraction.write_shard(tmp_path, job, np.arange(3), np.ones((3, 2)))
    assert len(hf_extraction.read_shards(tmp_path, job)) == 1
    with np.load(path) as npz:
        arrays = {k: npz[k] for k in npz.files}
    arrays["features"] = arrays["features"] * 2
    np.savez(path, **arrays)
    with pytest.warns(hf_extraction.ShardRefusedWarning, match="checksum mismatch"):
        assert hf_extraction.read_shards(tmp_path, job) == []


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"accelerator": "cpu", "devices": 4096}, "devices=4096"),
        ({"accelerator": "cpu", "strategy": "warp_drive"}, "unknown strategy 'warp_drive'"),
        ({"accelerator": "cpu", "precision": "8-magic"}, "unknown precision '8-magic'"),
        ({"accelerator": "cpu", "precision": "16-mixed"}, "needs a GPU"),
        ({"accelerator": "cpu", "devices": "two"}, "devices"),
    ],
)
def test_bad_placement_is_refused_before_any_work(monkeypatch, options, message):
    def no_load(*args, **kwargs):
        raise AssertionError("dataset loaded before the options were checked")

    monkeypatch.setattr(hf, "load_dataset", no_load)
    with pytest.raises(ValueError, match=message) as err:
        get_embeddings("digits", "pixels", progress=False, **options)
    assert "\n" not in str(err.value)
    with pytest.raises(ValueError, match=message):
        extract("digits", "vit_b_16", "train", **options)


def test_cache_from_another_precision_is_rebuilt():
    get_embeddings("digits", progress=False)  # fp32, written without the job
    path = cache_path("digits", "pixels", 8, None, "test")
    with np.load(path) as npz:
        meta = json.loads(str(npz["meta"]))
        arrays = {k: npz[k] for k in npz.files if k not in ("meta", "checksum")}
    hf._write_cache(path, dict(meta, precision="bf16-mixed"), arrays)
    with pytest.warns(CacheRebuildWarning, match="precision"):
        get_embeddings("digits", progress=False)
    del meta["precision"]  # a file written before precision was recorded counts as fp32
    hf._write_cache(path, meta, arrays)
    with warnings.catch_warnings():
        warnings.simplefilter("error", CacheRebuildWarning)
        get_embeddings("digits", progress=False)
        # Lightning's short name "32" is "32-true": the same cache
        assert get_embeddings("digits", progress=False, accelerator="cpu", precision="32").meta[
            "precision"
        ] == ("32-true")


def test_cli_embed_one_process(capsys):
    from hashlab.cli import main

    assert (
        main(["embed", "--dataset", "digits", "--backbone", "pixels", "--accelerator", "cpu", "--json"]) == 0
    )
    out = json.loads(capsys.readouterr().out)
    assert out["splits"]["train"]["n"] == 1079 and out["splits"]["test"]["dim"] == 64
    assert Path(out["splits"]["val"]["path"]).exists()


@pytest.mark.parametrize(
    ("env", "zero"),
    [({}, True), ({"RANK": "1"}, False), ({"SLURM_PROCID": "3"}, False), ({"NODE_RANK": "1"}, False)],
)
def test_rank_zero_from_the_launcher_environment(monkeypatch, env, zero):
    for name in ("RANK", "SLURM_PROCID", "LOCAL_RANK", "NODE_RANK"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert hf_extraction.is_rank_zero() is zero  # only rank 0 writes the cache and removes the shards


def test_shards_of_other_images_are_refused(monkeypatch, tmp_path):
    work = tmp_path / "partial"
    kwargs = {"batch_size": 2, "shard_size": 2, "progress": False, "weights": None, "work_dir": work, **CPU}
    nets = [_TinyNet(fail_after=2), _TinyNet()]
    monkeypatch.setattr(hf, "_load_backbone", lambda backbone, weights: nets.pop(0))
    old, new = _tiny_bundle(n=6, size=6, channels=3), _tiny_bundle(n=6, size=6, channels=3)
    new.test.images[0, 0, 0, 0] ^= 1  # one pixel differs: another data fingerprint
    with pytest.raises(_Interrupted):
        extract(old, "vit_b_16", "test", **kwargs)
    fresh = nets[0]
    with pytest.warns(hf_extraction.ShardRefusedWarning, match="another job"):
        out = extract(new, "vit_b_16", "test", **kwargs).features
    assert fresh.calls == 3
    np.testing.assert_array_equal(out, _loop_reference(_TinyNet(), new.test.images, 2))


def test_interrupted_get_embeddings_leaves_no_cache_and_resumes(monkeypatch):
    bundle = _tiny_bundle(n=6, size=6, channels=3)
    monkeypatch.setattr(hf, "load_dataset", lambda name, root, size: bundle)  # "digits" with tiny images
    monkeypatch.setattr(hf, "native_size", lambda name, size: 6)
    nets = [_TinyNet(fail_after=5), _TinyNet()]
    monkeypatch.setattr(hf, "_load_backbone", lambda backbone, weights: nets.pop(0))
    kwargs = {"weights": None, "batch_size": 2, "shard_size": 2, "progress": False, **CPU}
    with pytest.raises(_Interrupted):  # train (3 batches) done, val interrupted after 2 batches
        get_embeddings("digits", "vit_b_16", **kwargs)
    assert cache_path("digits", "vit_b_16", 6, None, "train").exists()
    assert not cache_path("digits", "vit_b_16", 6, None, "val").exists()  # no partial cache file
    resumed = nets[0]
    emb = get_embeddings("digits", "vit_b_16", **kwargs)
    assert (
        resumed.calls == 1 + 3
    )  # the last val batch, then test: train came from the cache, val's shard from disk
    np.testing.assert_array_equal(emb.val.features, _loop_reference(_TinyNet(), bundle.val.images, 2))
