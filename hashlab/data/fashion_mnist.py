"""``fashion_mnist``: Fashion-MNIST (Xiao, Rasul & Vollgraf 2017), 70,000 real 28×28 grey images of 10 clothing classes.

Files: the four gzipped IDX files of the release (``{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz``), looked for in
:data:`SYSTEM_DIR` (Debian's ``dataset-fashion-mnist`` package: ``apt-get install dataset-fashion-mnist``) and then in
``data_dir()/fashion_mnist``; when neither holds them they are downloaded from the authors' mirror into the latter
(``download=False`` never touches the network), and :class:`DatasetNotAvailableError` names both places if that
fails. An explicit ``root=`` is the only place looked in (and downloaded into). Uncompressed IDX files (same names
without ``.gz``) are accepted too.

Integrity: the authors publish MD5s of their ``.gz`` files only (zalandoresearch/fashion-mnist README, also in
``torchvision.datasets.FashionMNIST.resources``); Debian's package recompressed them, so its ``.gz`` bytes differ. We
check the *decompressed* IDX bytes against :data:`RAW_SHA256`, measured on the Debian package files (version
0.0~git20200523.55506a9-1); they equal the SHA-256 (and MD5) of the decompressed upstream files as recorded by
independent third-party loaders, so both sources give byte-identical data. The IDX header (magic, dims) and the label
range are checked as well. Decoding the 60k training images (gunzip + SHA-256) takes about 0.7 s, so decoded arrays
are not cached on disk (a cached copy read back with its checksum would save ~0.3 s).

Split: the official 10,000 test images are the queries; validation is a stratified, seeded (seed 0) hold-out of
5,000 of the 60,000 training images (500 per class); the remaining 55,000 (5,500 per class) are the training split
and the retrieval database.
"""

from __future__ import annotations

import gzip
import hashlib
import zlib
from pathlib import Path

import numpy as np

from hashlab.config import atomic_write, data_dir
from hashlab.data import files
from hashlab.data.bundle import DatasetBundle, DatasetCorruptError, DatasetNotAvailableError, Split
from hashlab.data.splits import stratified_holdout

#: Where Debian's ``dataset-fashion-mnist`` package installs the files.
SYSTEM_DIR = Path("/usr/share/datasets/fashion-mnist")
#: The authors' download mirror (README "Get the Data"; torchvision uses the same).
URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
#: SHA-256 of the decompressed IDX files (see the module docstring for the source).
RAW_SHA256 = {
    "train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
}
#: MD5 of the authors' ``.gz`` files as published (not of Debian's recompressed ones); for checking by hand.
GZ_MD5 = {
    "train-images-idx3-ubyte": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
    "train-labels-idx1-ubyte": "25c81989df183df01b3e8a0aad5dffbe",
    "t10k-images-idx3-ubyte": "bef4ecab320f06d8554ea6380940ec79",
    "t10k-labels-idx1-ubyte": "bb300cfdad3c16e7a12a480ee83cd310",
}
SHAPES = {
    "train_images": (60000, 28, 28),
    "train_labels": (60000,),
    "test_images": (10000, 28, 28),
    "test_labels": (10000,),
}
CLASS_NAMES = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
]
FASHION_MNIST_VAL_SIZE = 5000
FASHION_MNIST_SEED = 0
FASHION_MNIST_SIZE = 28


def download_dir() -> Path:
    """Where a download goes (and the second place looked in): ``data_dir()/fashion_mnist``."""
    return data_dir() / "fashion_mnist"


def _find(folder: Path, name: str) -> Path | None:
    for candidate in (folder / f"{name}.gz", folder / name):
        if candidate.is_file():
            return candidate
    return None


def locate(folders: list[Path]) -> tuple[Path, dict[str, Path]] | None:
    """The first folder holding all four files, with their paths."""
    for folder in folders:
        found = {key: _find(folder, name) for key, name in FILES.items()}
        if all(found.values()):
            return folder, found  # type: ignore[return-value]
    return None


def _raw_bytes(path: Path) -> bytes:
    data = path.read_bytes()
    return gzip.decompress(data) if path.suffix == ".gz" else data


def parse_idx(raw: bytes, source: str | Path = "IDX data") -> np.ndarray:
    """A uint8 IDX file (LeCun et al.'s MNIST format) as an array: magic ``00 00 08 ndim``, big-endian int32 dims."""
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise DatasetCorruptError(f"{source} is not an unsigned-byte IDX file (magic {raw[:4].hex()})")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DatasetCorruptError(
            f"{source}: truncated IDX header ({len(raw)} bytes, {ndim} dimensions announced)"
        )
    dims = tuple(int(d) for d in np.frombuffer(raw, dtype=">i4", count=ndim, offset=4))
    if len(raw) != header + int(np.prod(dims)):
        raise DatasetCorruptError(f"{source}: {len(raw) - header} data bytes, the header announces {dims}")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims).copy()


def _read(path: Path, name: str, verify: bool) -> np.ndarray:
    hint = (
        "reinstall the package (apt-get install --reinstall dataset-fashion-mnist)"
        if path.parent == SYSTEM_DIR
        else f"delete {path} and download {URL}{name}.gz again"
    )
    try:
        raw = _raw_bytes(path)
    except (OSError, EOFError, zlib.error) as exc:
        raise DatasetCorruptError(f"cannot read {path} ({type(exc).__name__}: {exc}); {hint}") from exc
    if verify:
        got = hashlib.sha256(raw).hexdigest()
        if got != RAW_SHA256[name]:
            raise DatasetCorruptError(
                f"{path}: decompressed SHA-256 {got}, expected {RAW_SHA256[name]} (Fashion-MNIST release); {hint}"
            )
    return parse_idx(raw, path)


def _fetch(folder: Path) -> dict[str, Path]:
    """Download the files missing in ``folder`` (each checked before it is renamed into place)."""
    found: dict[str, Path] = {}
    for key, name in FILES.items():
        existing = _find(folder, name)
        if existing is not None:
            found[key] = existing
            continue
        path = folder / f"{name}.gz"
        folder.mkdir(parents=True, exist_ok=True)
        with atomic_write(path) as tmp:
            files.download(URL + f"{name}.gz", tmp)
            got = hashlib.sha256(_raw_bytes(tmp)).hexdigest()
            if got != RAW_SHA256[name]:
                raise DatasetCorruptError(f"downloaded {URL}{name}.gz decompresses to SHA-256 {got}")
        found[key] = path
    return found


def _not_available(folders: list[Path], target: Path, reason: str) -> DatasetNotAvailableError:
    names = ", ".join(f"{n}.gz" for n in FILES.values())
    looked = " nor in ".join(str(f) for f in folders)  # e.g. "/usr/share/... nor in data/fashion_mnist"
    return DatasetNotAvailableError(
        f"Fashion-MNIST's four files ({names}) are not in {looked}, and they could not be downloaded "
        f"({reason}). Install Debian's package (apt-get install dataset-fashion-mnist, which puts them in "
        f"{SYSTEM_DIR}) or download them from {URL} into {target}."
    )


def load_fashion_mnist(root: Path | None = None, download: bool = True, verify: bool = True) -> DatasetBundle:
    """Fashion-MNIST with a stratified 5,000-image validation hold-out (55,000 / 5,000 / 10,000)."""
    folders = [root] if root is not None else [SYSTEM_DIR, download_dir()]
    located = locate(folders)
    if located is None:
        target = folders[-1]
        if not download:
            raise _not_available(folders, target, "download=False")
        try:
            paths = _fetch(target)
        except Exception as exc:  # offline, refused, bad checksum: atomic_write left nothing behind
            raise _not_available(folders, target, f"{type(exc).__name__}: {exc}") from exc
        located = (target, paths)
    folder, paths = located
    arrays = {key: _read(paths[key], FILES[key], verify) for key in FILES}
    for key, shape in SHAPES.items():
        if arrays[key].shape != shape:
            raise DatasetCorruptError(
                f"{paths[key]} holds an array of shape {arrays[key].shape}, expected {shape}"
            )
    for key in ("train_labels", "test_labels"):
        if arrays[key].max() >= len(CLASS_NAMES):
            raise DatasetCorruptError(f"{paths[key]}: labels out of range 0..{len(CLASS_NAMES) - 1}")
    x_train, y_train = arrays["train_images"][..., None], arrays["train_labels"].astype(np.int64)
    tr, va = stratified_holdout(y_train, FASHION_MNIST_VAL_SIZE, FASHION_MNIST_SEED)
    return DatasetBundle(
        name="fashion_mnist",
        train=Split(x_train[tr], y_train[tr]),
        val=Split(x_train[va], y_train[va]),
        test=Split(arrays["test_images"][..., None], arrays["test_labels"].astype(np.int64)),
        class_names=list(CLASS_NAMES),
        multilabel=False,
        meta={
            "source": "Debian package dataset-fashion-mnist"
            if folder == SYSTEM_DIR
            else "Fashion-MNIST IDX files",
            "folder": str(folder),
            "size": FASHION_MNIST_SIZE,
            "sha256_verified": verify,
            "sha256": {FILES[k]: RAW_SHA256[FILES[k]] for k in FILES} if verify else {},
            "split": (
                f"official test; val = stratified {FASHION_MNIST_VAL_SIZE} hold-out of train "
                f"(seed {FASHION_MNIST_SEED})"
            ),
            "indices": {"train": tr, "val": va},
            "license": "MIT (Zalando SE)",
        },
    )
