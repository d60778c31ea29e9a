"""Tests for hashlab.data: dataset loaders, split protocol and data modules."""

from __future__ import annotations

import copy
import hashlib
import shutil
import urllib.error
from pathlib import Path

import numpy as np
import pytest
import torch

import hashlab.data.fashion_mnist as hfm
import hashlab.data.files as hfiles
import hashlab.data.medmnist as hmed
from hashlab.data import (
    DatasetBundle,
    DatasetCorruptError,
    DatasetNotAvailableError,
    EmbeddingDataModule,
    ImageDataModule,
    Split,
    UnknownDatasetError,
    available_datasets,
    available_offline,
    canonical_dataset_name,
    check_splits,
    load_dataset,
    native_size,
    retrieval_protocol,
    split_duplicates,
)
from hashlab.features import EmbeddingSet, FeatureSplit

# the read-only real MedMNIST files beside the project (../shared), as on every developer and CI machine
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "medmnist"
BREAST_MD5 = "750601b1f35ba3300ea97c75c52ff8f6"
needs_shared = pytest.mark.skipif(
    not (SHARED / "breastmnist.npz").exists(), reason="shared MedMNIST files absent"
)


pytestmark = pytest.mark.usefixtures("isolated_data_dir")


def _no_network(url, dest):
    raise urllib.error.URLError("network disabled in tests")


# ---------------------------------------------------------------------------------------------------- digits
def test_digits_split_sizes_and_format(digits):
    assert digits.describe() == {
        "dataset": "digits",
        "train": 1079,
        "val": 359,
        "test": 359,
        "image_shape": (8, 8, 1),
        "n_classes": 10,
        "multilabel": False,
    }
    assert digits.class_names == [str(i) for i in range(10)]
    for split in digits.splits().values():
        assert split.images.dtype == np.uint8 and split.labels.dtype == np.int64
    assert digits.train.images.max() == 255 and digits.train.images.min() == 0


def test_digits_pixels_are_sklearn_scaled(digits):
    from sklearn.datasets import load_digits

    raw = load_digits()
    idx = digits.meta["indices"]["test"]
    np.testing.assert_array_equal(
        digits.test.images[..., 0], np.rint(raw.images[idx] * 255 / 16).astype(np.uint8)
    )
    np.testing.assert_array_equal(digits.test.labels, raw.target[idx])


def test_digits_split_is_stratified(digits):
    from sklearn.datasets import load_digits

    total = np.bincount(load_digits().target, minlength=10)
    for name, frac in zip(("train", "val", "test"), (0.6, 0.2, 0.2), strict=True):
        counts = np.bincount(getattr(digits, name).labels, minlength=10)
        # stratified: each class within 2 items of its share (a random split deviates by ~sqrt(N p) ≈ 5)
        assert np.all(np.abs(counts - frac * total) <= 2), (name, counts, frac * total)


def test_digits_split_is_seeded_and_disjoint(digits):
    again = load_dataset("digits")
    for name in ("train", "val", "test"):
        np.testing.assert_array_equal(getattr(digits, name).images, getattr(again, name).images)
        np.testing.assert_array_equal(getattr(digits, name).labels, getattr(again, name).labels)
    ind = digits.meta["indices"]
    union = np.concatenate([ind["train"], ind["val"], ind["test"]])
    assert len(union) == 1797 and len(np.unique(union)) == 1797


def test_retrieval_protocol(digits):
    proto = retrieval_protocol(digits)
    assert (
        proto["database"] is digits.train
        and proto["queries"] is digits.test
        and proto["validation"] is digits.val
    )
    assert proto["sizes"] == {"database": 1079, "queries": 359, "validation": 359}
    # brute-force duplicate count: test images whose bytes equal some training image
    train_rows = {row.tobytes() for row in digits.train.images.reshape(len(digits.train), -1)}
    expected = sum(row.tobytes() in train_rows for row in digits.test.images.reshape(len(digits.test), -1))
    assert proto["duplicate_queries"] == expected


def test_retrieval_protocol_rejects_leaks(digits):
    same = DatasetBundle("leak", digits.train, digits.val, digits.train, digits.class_names, False, {})
    with pytest.raises(ValueError, match="share memory"):
        retrieval_protocol(same)
    meta = {"indices": {"train": np.arange(10), "val": np.arange(10, 20), "test": np.arange(5, 15)}}
    tr = Split(digits.train.images[:10].copy(), digits.train.labels[:10])
    va = Split(digits.val.images[:10].copy(), digits.val.labels[:10])
    te = Split(digits.test.images[:10].copy(), digits.test.labels[:10])
    with pytest.raises(ValueError, match="source items are in both"):
        retrieval_protocol(DatasetBundle("overlap", tr, va, te, digits.class_names, False, meta))


def test_duplicate_queries_are_counted_with_warning(digits):
    te = Split(np.concatenate([digits.train.images[:3], digits.test.images[:5]]), np.zeros(8, np.int64))
    bundle = DatasetBundle("dups", digits.train, digits.val, te, digits.class_names, False, {})
    with pytest.warns(UserWarning, match="exact pixel duplicate"):
        assert retrieval_protocol(bundle)["duplicate_queries"] >= 3


def test_unknown_dataset_and_bad_size():
    with pytest.raises(KeyError, match="pathmnist") as err:
        load_dataset("imagenet")
    assert "digits" in str(err.value) and "cifar10" in str(err.value)
    with pytest.raises(KeyError):
        load_dataset("organmnist3d")
    with pytest.raises(ValueError, match="unsupported size 32"):
        load_dataset("breastmnist", size=32)
    with pytest.raises(ValueError, match="unsupported size"):
        load_dataset("digits", size=224)


def test_available_datasets_lists_2d_medmnist_in_order():
    names = available_datasets()
    assert names[0] == "digits" and names[1] == "pathmnist" and names[-2:] == ["cifar10", "fashion_mnist"]
    assert "chestmnist" in names and "breastmnist" in names and not any(n.endswith("3d") for n in names)


def test_split_validation():
    with pytest.raises(ValueError, match="uint8"):
        Split(np.zeros((2, 4, 4, 1), np.float32), np.zeros(2, np.int64))
    with pytest.raises(ValueError, match=r"\(N, H, W, C\)"):
        Split(np.zeros((2, 4, 4), np.uint8), np.zeros(2, np.int64))
    with pytest.raises(ValueError, match="labels"):
        Split(np.zeros((2, 4, 4, 1), np.uint8), np.zeros(3, np.int64))


# ---------------------------------------------------------------------------------------------------- MedMNIST
@needs_shared
def test_medmnist_real_file(tmp_path):
    root = tmp_path / "mm"
    root.mkdir()
    shutil.copy(SHARED / "breastmnist.npz", root)
    bundle = load_dataset("breastmnist", root=root)
    assert bundle.describe()["train"] == 546 and len(bundle.val) == 78 and len(bundle.test) == 156
    assert bundle.train.images.shape == (546, 28, 28, 1) and bundle.train.images.dtype == np.uint8
    assert bundle.train.labels.shape == (546,) and bundle.train.labels.dtype == np.int64
    assert bundle.class_names == ["malignant", "normal, benign"] and not bundle.multilabel
    with np.load(SHARED / "breastmnist.npz") as raw:
        np.testing.assert_array_equal(bundle.test.images[..., 0], raw["test_images"])
        np.testing.assert_array_equal(bundle.test.labels, raw["test_labels"][:, 0])
    stamp = root / "breastmnist.npz.md5ok"
    assert BREAST_MD5 in stamp.read_text()


@needs_shared
def test_md5_stamp_avoids_rehashing(tmp_path, monkeypatch):
    root = tmp_path / "mm"
    root.mkdir()
    shutil.copy(SHARED / "breastmnist.npz", root)
    load_dataset("breastmnist", root=root)
    hfiles._MD5_MEMO.clear()

    def boom(path, chunk=0):
        raise AssertionError("MD5 recomputed although the stamp is valid")

    monkeypatch.setattr(hfiles, "file_md5", boom)
    load_dataset("breastmnist", root=root)  # served by the .md5ok stamp
    # a modified file (new size/mtime) invalidates the stamp
    with open(root / "breastmnist.npz", "ab") as fh:
        fh.write(b"x")
    hfiles._MD5_MEMO.clear()
    with pytest.raises(AssertionError, match="MD5 recomputed"):
        load_dataset("breastmnist", root=root)


@needs_shared
def test_medmnist_rgb_from_read_only_folder():
    before = sorted(p.name for p in SHARED.iterdir())
    bundle = load_dataset("retinamnist", root=SHARED)
    assert bundle.train.images.shape == (1080, 28, 28, 3) and bundle.n_classes == 5
    assert sorted(np.unique(bundle.train.labels)) == [0, 1, 2, 3, 4]
    assert sorted(p.name for p in SHARED.iterdir()) == before  # nothing written into the shared folder


def _fake_npz(
    path: Path,
    counts: dict,
    size: int = 28,
    channels: int = 1,
    label_cols: int = 1,
    n_classes=2,
    seed: int = 0,
    drop: str | None = None,
) -> dict:
    rng = np.random.default_rng(seed)
    arrays = {}
    for split, n in counts.items():
        shape = (n, size, size) if channels == 1 else (n, size, size, channels)
        arrays[f"{split}_images"] = rng.integers(0, 256, shape, dtype=np.uint8)
        arrays[f"{split}_labels"] = rng.integers(0, n_classes, (n, label_cols)).astype(np.uint8)
    if drop:
        del arrays[drop]
    np.savez(path, **arrays)
    return arrays


def test_fake_breastmnist_through_real_loader(tmp_path):
    root = tmp_path / "mm"
    root.mkdir()
    counts = {"train": 546, "val": 78, "test": 156}
    arrays = _fake_npz(root / "breastmnist.npz", counts)
    with pytest.raises(DatasetCorruptError, match=f"expected {BREAST_MD5}"):
        load_dataset("breastmnist", root=root)
    bundle = load_dataset("breastmnist", root=root, verify=False)
    assert {k: len(getattr(bundle, k)) for k in counts} == counts
    np.testing.assert_array_equal(bundle.val.images[..., 0], arrays["val_images"])
    np.testing.assert_array_equal(bundle.val.labels, arrays["val_labels"][:, 0].astype(np.int64))
    assert bundle.meta["md5_verified"] is False


def test_fake_file_with_wrong_counts_or_keys(tmp_path):
    root = tmp_path / "mm"
    root.mkdir()
    _fake_npz(root / "breastmnist.npz", {"train": 500, "val": 78, "test": 156})
    with pytest.raises(DatasetCorruptError, match=r"expected \(546, 28, 28, 1\)"):
        load_dataset("breastmnist", root=root, verify=False)
    _fake_npz(root / "breastmnist.npz", {"train": 546, "val": 78, "test": 156}, drop="test_labels")
    with pytest.raises(DatasetCorruptError, match="test_labels"):
        load_dataset("breastmnist", root=root, verify=False)


def test_multilabel_chestmnist_format(tmp_path, monkeypatch):
    info = copy.deepcopy(hmed.medmnist_info())
    counts = {"train": 40, "val": 10, "test": 12}
    info["chestmnist"]["n_samples"] = counts
    monkeypatch.setattr(hmed, "medmnist_info", lambda: info)
    root = tmp_path / "mm"
    root.mkdir()
    arrays = _fake_npz(root / "chestmnist.npz", counts, label_cols=14)
    bundle = load_dataset("chestmnist", root=root, verify=False)
    assert bundle.multilabel and bundle.n_classes == 14 and bundle.class_names[0] == "atelectasis"
    assert bundle.train.labels.shape == (40, 14) and set(np.unique(bundle.train.labels)) <= {0, 1}
    np.testing.assert_array_equal(bundle.test.labels, arrays["test_labels"].astype(np.int64))
    assert bundle.train.images.shape == (40, 28, 28, 1)


@needs_shared
def test_corrupt_medmnist_file(tmp_path):
    root = tmp_path / "mm"
    root.mkdir()
    data = (SHARED / "breastmnist.npz").read_bytes()
    (root / "breastmnist.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(DatasetCorruptError, match="MD5") as err:
        load_dataset("breastmnist", root=root)
    assert "breastmnist.npz" in str(err.value) and "zenodo.org" in str(err.value)
    with pytest.raises(DatasetCorruptError, match="cannot read"):
        load_dataset("breastmnist", root=root, verify=False)


def test_missing_file_offline_gives_clear_error_and_leaves_nothing(tmp_path, monkeypatch):
    root = tmp_path / "mm"

    def partial_then_fail(url, dest):
        Path(dest).write_bytes(b"PK\x03\x04 half a file")
        raise urllib.error.URLError("Name or service not known")

    monkeypatch.setattr(hfiles, "download", partial_then_fail)
    with pytest.raises(DatasetNotAvailableError) as err:
        load_dataset("pneumoniamnist", root=root, size=64)
    msg = str(err.value)
    assert isinstance(err.value, FileNotFoundError)
    assert "pneumoniamnist_64.npz" in msg
    assert "https://zenodo.org/records/10519652/files/pneumoniamnist_64.npz?download=1" in msg
    assert str(root) in msg
    assert list(root.iterdir()) == []


def test_download_false_never_downloads(tmp_path, monkeypatch):
    def forbidden(url, dest):
        raise AssertionError("download attempted")

    monkeypatch.setattr(hfiles, "download", forbidden)
    with pytest.raises(DatasetNotAvailableError, match="breastmnist.npz"):
        load_dataset("breastmnist", root=tmp_path, download=False)


def test_download_with_wrong_checksum_is_discarded(tmp_path, monkeypatch):
    monkeypatch.setattr(hfiles, "download", lambda url, dest: Path(dest).write_bytes(b"not the file"))
    with pytest.raises(DatasetNotAvailableError, match="MD5"):
        load_dataset("breastmnist", root=tmp_path)
    assert list(tmp_path.iterdir()) == []


@needs_shared
def test_successful_download_is_verified_and_loaded(tmp_path, monkeypatch):
    seen = []

    def fake_download(url, dest):
        seen.append(url)
        shutil.copy(SHARED / "breastmnist.npz", dest)

    monkeypatch.setattr(hfiles, "download", fake_download)
    bundle = load_dataset("breastmnist", root=tmp_path / "new")
    assert seen == ["https://zenodo.org/records/10519652/files/breastmnist.npz?download=1"]
    assert len(bundle.train) == 546
    assert hashlib.md5((tmp_path / "new" / "breastmnist.npz").read_bytes()).hexdigest() == BREAST_MD5


# ---------------------------------------------------------------------------------------------------- CIFAR-10
class _FakeCIFAR10:
    """Stands in for torchvision's CIFAR10: 6000 train / 1000 test random images."""

    classes = [f"c{i}" for i in range(10)]

    def __init__(self, root, train=True, download=False):
        n = 6000 if train else 1000
        rng = np.random.default_rng(1 if train else 2)
        self.data = rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)
        self.targets = list(np.arange(n) % 10)


def test_cifar10_validation_holdout(tmp_path, monkeypatch):
    import torchvision

    monkeypatch.setattr(torchvision.datasets, "CIFAR10", _FakeCIFAR10)
    bundle = load_dataset("cifar10", root=tmp_path)
    assert (len(bundle.train), len(bundle.val), len(bundle.test)) == (1000, 5000, 1000)
    assert np.all(np.bincount(bundle.val.labels) == 500)  # stratified
    ind = bundle.meta["indices"]
    assert (
        len(np.intersect1d(ind["train"], ind["val"])) == 0
        and len(np.union1d(ind["train"], ind["val"])) == 6000
    )
    np.testing.assert_array_equal(load_dataset("cifar10", root=tmp_path).val.images, bundle.val.images)
    retrieval_protocol(bundle)


def test_cifar10_failed_download_cleans_up(tmp_path, monkeypatch):
    import torchvision

    class Offline:
        def __init__(self, root, train=True, download=False):
            if download:
                (Path(root) / "cifar-10-python.tar.gz").write_bytes(b"partial")
                raise urllib.error.URLError("Name or service not known")
            raise RuntimeError("Dataset not found or corrupted.")

    monkeypatch.setattr(torchvision.datasets, "CIFAR10", Offline)
    root = tmp_path / "cifar"
    root.mkdir()
    with pytest.raises(DatasetNotAvailableError) as err:
        load_dataset("cifar10", root=root)
    msg = str(err.value)
    assert "cifar-10-python.tar.gz" in msg and str(root) in msg and "cifar-10-batches-py" in msg
    assert list(root.iterdir()) == []


# ---------------------------------------------------------------------------------------------------- Fashion-MNIST
needs_fashion = pytest.mark.skipif(
    not all((hfm.SYSTEM_DIR / f"{n}.gz").exists() for n in hfm.FILES.values()),
    reason="Debian package dataset-fashion-mnist not installed (apt-get install dataset-fashion-mnist)",
)


@pytest.fixture(scope="session")
def fashion() -> DatasetBundle:
    """Fashion-MNIST from the Debian package folder only (decoded once per test session, nothing written)."""
    return load_dataset("fashion_mnist", root=hfm.SYSTEM_DIR, download=False)


@needs_fashion
def test_fashion_mnist_split_sizes_and_class_balance(fashion):
    assert fashion.describe() == {
        "dataset": "fashion_mnist",
        "train": 55000,
        "val": 5000,
        "test": 10000,
        "image_shape": (28, 28, 1),
        "n_classes": 10,
        "multilabel": False,
    }
    assert fashion.class_names[0] == "T-shirt/top" and fashion.class_names[9] == "Ankle boot"
    # the release has 6000 train / 1000 test images per class; the stratified 5000 hold-out takes exactly 500 each
    assert np.bincount(fashion.val.labels, minlength=10).tolist() == [500] * 10
    assert np.bincount(fashion.train.labels, minlength=10).tolist() == [5500] * 10
    assert np.bincount(fashion.test.labels, minlength=10).tolist() == [1000] * 10
    ind = fashion.meta["indices"]
    assert (
        len(np.intersect1d(ind["train"], ind["val"])) == 0
        and len(np.union1d(ind["train"], ind["val"])) == 60000
    )
    assert (
        fashion.meta["source"] == "Debian package dataset-fashion-mnist" and fashion.meta["sha256_verified"]
    )
    assert fashion.train.images.dtype == np.uint8 and fashion.train.labels.dtype == np.int64
    assert 0 < fashion.train.images.mean() < 255  # real images, not a blank array


@needs_fashion
def test_fashion_mnist_checksums_of_decompressed_files(fashion):
    import gzip

    for name, expected in hfm.RAW_SHA256.items():
        raw = gzip.decompress((hfm.SYSTEM_DIR / f"{name}.gz").read_bytes())
        assert hashlib.sha256(raw).hexdigest() == expected, name
    # an independent decode (IDX: 16-byte header for images, 8 for labels) gives the loader's test split
    raw = gzip.decompress((hfm.SYSTEM_DIR / "t10k-images-idx3-ubyte.gz").read_bytes())
    np.testing.assert_array_equal(
        fashion.test.images[..., 0], np.frombuffer(raw, np.uint8, offset=16).reshape(10000, 28, 28)
    )
    raw = gzip.decompress((hfm.SYSTEM_DIR / "t10k-labels-idx1-ubyte.gz").read_bytes())
    np.testing.assert_array_equal(fashion.test.labels, np.frombuffer(raw, np.uint8, offset=8))


@needs_fashion
def test_fashion_mnist_tampered_file_is_rejected(tmp_path):
    import gzip

    for name in hfm.FILES.values():
        shutil.copy(hfm.SYSTEM_DIR / f"{name}.gz", tmp_path)
    labels = bytearray(gzip.decompress((tmp_path / "t10k-labels-idx1-ubyte.gz").read_bytes()))
    labels[100] = (labels[100] + 1) % 10  # one label changed, still a valid IDX file
    (tmp_path / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(bytes(labels)))
    with pytest.raises(DatasetCorruptError, match="t10k-labels-idx1-ubyte.gz: decompressed SHA-256"):
        load_dataset("fashion_mnist", root=tmp_path)
    assert len(load_dataset("fashion_mnist", root=tmp_path, verify=False).test) == 10000


def test_fashion_mnist_missing_names_both_places(tmp_path, monkeypatch, isolated_data_dir):
    system = tmp_path / "usr-share-datasets-fashion-mnist"
    monkeypatch.setattr(hfm, "SYSTEM_DIR", system)
    monkeypatch.setattr(hfiles, "download", _no_network)
    with pytest.raises(DatasetNotAvailableError) as err:
        load_dataset("fashion_mnist")
    msg = str(err.value)
    target = isolated_data_dir / "fashion_mnist"
    assert str(system) in msg and str(target) in msg
    assert "apt-get install dataset-fashion-mnist" in msg and hfm.URL in msg and "URLError" in msg
    assert not target.exists() or list(target.iterdir()) == []  # nothing half-downloaded left behind

    def forbidden(url, dest):
        raise AssertionError("download attempted")

    monkeypatch.setattr(hfiles, "download", forbidden)
    with pytest.raises(DatasetNotAvailableError, match="download=False"):
        load_dataset("fashion_mnist", download=False)


def test_fashion_mnist_bad_download_is_discarded(tmp_path, monkeypatch, isolated_data_dir):
    import gzip

    monkeypatch.setattr(hfm, "SYSTEM_DIR", tmp_path / "absent")
    monkeypatch.setattr(hfiles, "download", lambda url, dest: Path(dest).write_bytes(gzip.compress(b"junk")))
    with pytest.raises(DatasetNotAvailableError, match="SHA-256"):
        load_dataset("fashion_mnist")
    assert list((isolated_data_dir / "fashion_mnist").iterdir()) == []


@needs_fashion
def test_fashion_mnist_download_fallback(tmp_path, monkeypatch, isolated_data_dir, fashion):
    real = hfm.SYSTEM_DIR
    seen = []

    def fake_download(url, dest):  # the upstream mirror, served from the package's (byte-identical) data
        seen.append(url)
        shutil.copy(real / url.rsplit("/", 1)[1], dest)

    monkeypatch.setattr(hfm, "SYSTEM_DIR", tmp_path / "absent")
    monkeypatch.setattr(hfiles, "download", fake_download)
    bundle = load_dataset("fashion_mnist")
    assert seen == [f"{hfm.URL}{n}.gz" for n in hfm.FILES.values()]
    assert sorted(p.name for p in (isolated_data_dir / "fashion_mnist").iterdir()) == sorted(
        f"{n}.gz" for n in hfm.FILES.values()
    )
    np.testing.assert_array_equal(bundle.val.images, fashion.val.images)
    assert bundle.meta["folder"] == str(isolated_data_dir / "fashion_mnist")


def test_parse_idx_on_hand_made_bytes():
    header = bytes([0, 0, 8, 3]) + (2).to_bytes(4, "big") + (2).to_bytes(4, "big") + (3).to_bytes(4, "big")
    arr = hfm.parse_idx(header + bytes(range(12)))
    assert arr.shape == (2, 2, 3) and arr[1, 1, 2] == 11 and arr.dtype == np.uint8
    with pytest.raises(DatasetCorruptError, match="header announces"):
        hfm.parse_idx(header + bytes(range(11)))
    with pytest.raises(DatasetCorruptError, match="truncated IDX header"):
        hfm.parse_idx(header[:9])
    with pytest.raises(DatasetCorruptError, match="not an unsigned-byte IDX"):
        hfm.parse_idx(bytes([0, 0, 0x0D, 1]) + (1).to_bytes(4, "big") + b"\0\0\0\0")


# ---------------------------------------------------------------------------------------------------- split hygiene
def _bundle_with_known_duplicates() -> DatasetBundle:
    rng = np.random.default_rng(0)
    train = rng.integers(0, 256, (10, 4, 4, 1), dtype=np.uint8)
    fresh = rng.integers(0, 256, (4, 4, 4, 1), dtype=np.uint8)
    val = np.concatenate([train[[0, 1, 2]], fresh[:2]])  # 3 val items copy train items
    test = np.concatenate([train[[5]], fresh[[0, 1]], fresh[[3]]])  # 1 copies train, 2 copy val, 1 new
    val[4, 0, 0, 0] ^= (
        1  # ... unless one pixel differs: fresh[1] in val is altered, so only 1 val copy in test
    )
    return DatasetBundle(
        "dups",
        Split(train, np.arange(10) % 2),
        Split(val, np.zeros(5, np.int64)),
        Split(test, np.zeros(4, np.int64)),
        ["a", "b"],
        False,
        {},
    )


def test_split_duplicates_counts_every_pair():
    bundle = _bundle_with_known_duplicates()
    dups = split_duplicates(bundle)
    assert dups.counts == {"train-val": 3, "train-test": 1, "val-test": 1}
    assert dups.total == 5 and dups.sizes == {"train": 10, "val": 5, "test": 4}
    assert "train-val 3/5" in dups.summary() and "val-test 1/4" in dups.summary()
    record = dups.as_dict()
    assert record["counts"] == dups.counts and "reported" in record["action"]
    import json

    json.dumps(record)  # provenance-ready
    with pytest.warns(UserWarning, match="3 of 5 val items in train"):
        proto = retrieval_protocol(bundle)
    assert proto["duplicates"]["counts"] == dups.counts and proto["duplicate_queries"] == 1


@needs_shared
def test_split_duplicates_in_real_pneumoniamnist():
    # 8 PneumoniaMNIST validation images are pixel-identical to training images (official split, kept as published)
    bundle = load_dataset("pneumoniamnist", root=SHARED, download=False)
    assert split_duplicates(bundle).counts == {"train-val": 8, "train-test": 0, "val-test": 0}


def test_split_duplicates_none_on_digits(digits):
    assert split_duplicates(digits).counts == {"train-val": 0, "train-test": 0, "val-test": 0}


@pytest.mark.parametrize("empty", ["train", "val", "test"])
def test_empty_split_is_named_before_training(digits, empty):
    parts = {s: getattr(digits, s) for s in ("train", "val", "test")}
    parts[empty] = Split(parts[empty].images[:0], parts[empty].labels[:0])
    bundle = DatasetBundle("digits", **parts, class_names=digits.class_names, multilabel=False)
    with pytest.raises(ValueError, match=f"digits: the {empty} split is empty"):
        check_splits(bundle)
    with pytest.raises(ValueError, match=f"the {empty} split is empty"):
        ImageDataModule(bundle)
    with pytest.raises(ValueError, match=f"the {empty} split is empty"):
        retrieval_protocol(bundle)
    sizes = {"train": 300, "val": 80, "test": 90}
    sizes[empty] = 0
    with pytest.raises(ValueError, match=f"toy: the {empty} split is empty"):
        EmbeddingDataModule(_embeddings(n=(sizes["train"], sizes["val"], sizes["test"])))
    assert check_splits(digits) == {"train": 1079, "val": 359, "test": 359}


# ---------------------------------------------------------------------------------------------------- names and sizes
@pytest.mark.parametrize("spelling", ["DIGITS", " Digits ", "digits"])
def test_dataset_names_are_normalised(spelling):
    assert canonical_dataset_name(spelling) == "digits"
    assert load_dataset(spelling).name == "digits"


def test_dataset_name_variants_and_unknown():
    assert canonical_dataset_name("Fashion-MNIST") == "fashion_mnist"
    assert canonical_dataset_name("PathMNIST") == "pathmnist"
    with pytest.raises(UnknownDatasetError, match="unknown dataset 'mnist'; available: digits") as err:
        canonical_dataset_name("mnist")
    assert isinstance(err.value, KeyError) and isinstance(err.value, ValueError)
    assert str(err.value).startswith("unknown dataset")  # no KeyError quotes
    with pytest.raises(KeyError):
        canonical_dataset_name(None)  # type: ignore[arg-type]


def test_one_embedding_cache_per_dataset_spelling(isolated_data_dir):
    from hashlab.features import get_embeddings

    a = get_embeddings(" DIGITS ", "pixels", progress=False)
    b = get_embeddings("digits", "pixels", progress=False)
    assert a.dataset == b.dataset == "digits"
    names = sorted(p.name for p in (isolated_data_dir / "embeddings").glob("*.npz"))
    assert names == [f"digits_8px_pixels_none_{s}.npz" for s in ("test", "train", "val")]


def test_sizes_other_than_native_are_rejected(tmp_path, monkeypatch):
    assert native_size("digits") == 8 and native_size("digits", 8) == 8 and native_size("digits", None) == 8
    assert native_size("fashion_mnist", 28) == 28 and native_size("cifar10") == 32
    assert native_size("pathmnist", None) == 28 and native_size("PathMNIST", 224) == 224
    with pytest.raises(ValueError, match=r"unsupported size 64 for digits.*size=8"):
        native_size("digits", 64)
    # checked before any file is looked for: a missing package still gives the size error
    monkeypatch.setattr(hfm, "SYSTEM_DIR", tmp_path / "absent")
    with pytest.raises(ValueError, match=r"unsupported size 64 for fashion_mnist.*size=28"):
        load_dataset("fashion_mnist", size=64, download=False)
    from hashlab.features import get_embeddings

    with pytest.raises(ValueError, match="unsupported size 224 for digits"):  # was silently 8 px
        get_embeddings("digits", "pixels", size=224, progress=False)


# ---------------------------------------------------------------------------------------------------- data modules
def test_image_datamodule_batches(digits):
    dm = ImageDataModule(digits, batch_size=100, seed=0)
    x, y, idx = next(iter(dm.train_dataloader()))
    assert x.shape == (100, 1, 8, 8) and x.dtype == torch.float32 and 0 <= x.min() and x.max() <= 1
    assert y.dtype == torch.int64 and idx.dtype == torch.int64
    np.testing.assert_allclose(x.numpy(), digits.train.images[idx.numpy()].transpose(0, 3, 1, 2) / 255.0)
    np.testing.assert_array_equal(y.numpy(), digits.train.labels[idx.numpy()])
    assert len(dm.val_dataloader()) == 2 and len(dm.test_dataloader()) == 2


def _embeddings(n=(300, 80, 90), dim=5, multilabel=False) -> EmbeddingSet:
    rng = np.random.default_rng(0)
    parts = {}
    for name, size in zip(("train", "val", "test"), n, strict=True):
        labels = rng.integers(0, 2, (size, 3)) if multilabel else rng.integers(0, 3, size)
        parts[name] = FeatureSplit(rng.normal(size=(size, dim)).astype(np.float32), labels)
    return EmbeddingSet("toy", "pixels", **parts, class_names=["a", "b", "c"], meta={})


def _collect(loader):
    xs, ys, ids = zip(*loader, strict=True)
    return torch.cat(xs), torch.cat(ys), torch.cat(ids)


def test_embedding_datamodule_train_loader():
    emb = _embeddings()
    dm = EmbeddingDataModule(emb, batch_size=64, seed=3, val_db_size=100, drop_last=False)
    x, y, idx = _collect(dm.train_dataloader())
    assert x.dtype == torch.float32 and y.dtype == torch.int64 and idx.dtype == torch.int64
    assert sorted(idx.tolist()) == list(range(300))  # each item once per epoch
    assert idx.tolist() != list(range(300))  # shuffled
    np.testing.assert_array_equal(x.numpy(), emb.train.features[idx.numpy()])
    np.testing.assert_array_equal(y.numpy(), emb.train.labels[idx.numpy()])
    same = _collect(EmbeddingDataModule(emb, batch_size=64, seed=3).train_dataloader())[2]
    other = _collect(EmbeddingDataModule(emb, batch_size=64, seed=4).train_dataloader())[2]
    assert same[:256].tolist() == idx[:256].tolist() and other[:256].tolist() != idx[:256].tolist()
    # drop_last (default) drops the ragged 300 - 4*64 = 44 items, so no batch is smaller than batch_size
    sizes = [len(b[0]) for b in EmbeddingDataModule(emb, batch_size=64).train_dataloader()]
    assert sizes == [64] * 4
    assert (
        dm.in_dim == 5
        and dm.n_classes == 3
        and torch.equal(dm.train_labels, torch.as_tensor(emb.train.labels))
    )


def test_embedding_datamodule_val_and_test_loaders():
    emb = _embeddings()
    dm = EmbeddingDataModule(emb, batch_size=64, seed=0, val_db_size=100)
    val_q, val_db = dm.val_dataloader()
    _, _, q_idx = _collect(val_q)
    db_x, db_y, db_idx = _collect(val_db)
    assert q_idx.tolist() == list(range(80))
    assert len(db_idx) == 100 and len(set(db_idx.tolist())) == 100 and db_idx.max() < 300
    np.testing.assert_array_equal(db_x.numpy(), emb.train.features[db_idx.numpy()])
    again = _collect(EmbeddingDataModule(emb, batch_size=32, seed=0, val_db_size=100).val_dataloader()[1])[2]
    assert again.tolist() == db_idx.tolist()  # fixed subsample
    test_q, test_db = dm.test_dataloader()
    assert _collect(test_q)[2].tolist() == list(range(90)) and _collect(test_db)[2].tolist() == list(
        range(300)
    )
    big = EmbeddingDataModule(emb, val_db_size=5000)
    assert _collect(big.val_dataloader()[1])[2].tolist() == list(range(300))


def test_embedding_datamodule_multilabel_stays_float():
    dm = EmbeddingDataModule(_embeddings(multilabel=True), batch_size=32)
    _, y, _ = next(iter(dm.train_dataloader()))
    assert y.dtype == torch.float32 and y.shape == (32, 3) and dm.multilabel


def test_datamodule_rejects_bad_arguments():
    with pytest.raises(ValueError, match="batch_size"):
        EmbeddingDataModule(_embeddings(), batch_size=0)
    with pytest.raises(ValueError, match="val_db_size"):
        EmbeddingDataModule(_embeddings(), val_db_size=0)


def test_available_offline(tmp_path, monkeypatch, isolated_data_dir):
    assert available_offline("DIGITS")
    assert not available_offline("breastmnist") and not available_offline("cifar10")
    (isolated_data_dir / "medmnist").mkdir(parents=True)
    (isolated_data_dir / "medmnist" / "breastmnist_64.npz").write_bytes(b"")
    assert available_offline("breastmnist", 64) and not available_offline("breastmnist", 28)
    monkeypatch.setattr(hfm, "SYSTEM_DIR", tmp_path / "absent")
    assert not available_offline("fashion_mnist")
    target = isolated_data_dir / "fashion_mnist"
    target.mkdir()
    for name in hfm.FILES.values():
        (target / f"{name}.gz").write_bytes(b"")
    assert available_offline("fashion_mnist")
