"""Embedding extraction as a Lightning ``predict`` job: one code path from one CPU to DDP over GPUs and nodes.

A frozen backbone is wrapped in :class:`FeatureExtractor` (``predict_step`` returns the features of a batch together
with the items' positions in the split) and run by a Lightning ``Trainer`` built by :func:`hashlab.training.
build_trainer`, so the accelerator, device count, node count, strategy and precision are Lightning's own options.
Under DDP Lightning gives every rank a disjoint slice of the items (``UnrepeatedDistributedSampler`` for
prediction); :class:`ShardWriter` (a ``BasePredictionWriter``) saves each rank's features in shards of about
``shard_size`` rows: one ``.npz`` per shard, written atomically, holding the item ``indices``, the ``features``,
the job description (dataset, split, image and model fingerprints, precision) and a sha256 checksum.

:func:`run_extraction` first reads the shards already in the work folder: a shard whose checksum verifies and whose
job matches is kept and its items are not recomputed (an interrupted extraction resumes, even with another number
of processes); any other shard is refused with a warning and never merged. After the job every rank reads the
shards, puts the rows back in dataset order by their indices (a duplicated item keeps its first copy) and checks
that every item is present; rank 0 then removes the work folder. The shards live on the file system, so on several
nodes the data folder must be shared storage.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import BasePredictionWriter
from torch import nn
from torch.utils.data import DataLoader, Dataset

from hashlab.config import atomic_write

log = logging.getLogger(__name__)

SHARD_PREFIX = "shard_"


class ShardRefusedWarning(UserWarning):
    """A shard in an extraction work folder was unreadable, corrupt or from another job: ignored and rebuilt."""


# ---------------------------------------------------------------------------------------------------- fingerprints
def array_digest(*arrays: np.ndarray) -> str:
    """sha256 over the dtype, shape and bytes of each array."""
    digest = hashlib.sha256()
    for array in arrays:
        a = np.ascontiguousarray(array)
        digest.update(f"{a.dtype}{a.shape}".encode())
        digest.update(memoryview(a).cast("B"))
    return digest.hexdigest()


def checksum(meta_json: str, arrays: dict[str, np.ndarray]) -> str:
    """sha256 over a JSON metadata string and the digests of named arrays (the cache and shard checksum)."""
    digest = hashlib.sha256(meta_json.encode())
    for name in sorted(arrays):
        digest.update(name.encode())
        digest.update(array_digest(arrays[name]).encode())
    return digest.hexdigest()


def model_digest(network: nn.Module) -> str:
    """sha256 over the class name and the state dict (parameters and buffers) of ``network``."""
    digest = hashlib.sha256(type(network).__qualname__.encode())
    for name, tensor in network.state_dict().items():
        t = tensor.detach().cpu().contiguous()
        digest.update(f"{name}{t.dtype}{tuple(t.shape)}".encode())
        digest.update(
            memoryview(t.view(torch.uint8).numpy() if t.numel() else np.zeros(0, np.uint8)).cast("B")
        )
    return digest.hexdigest()


# ---------------------------------------------------------------------------------------------------- Lightning
class ImageRows(Dataset):
    """Items ``(uint8 image tensor (H, W, C), position in the split)`` for the given positions of ``images``."""

    def __init__(self, images: np.ndarray, positions: np.ndarray) -> None:
        self.images = images
        self.positions = np.asarray(positions, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.positions)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        pos = int(self.positions[i])
        return torch.from_numpy(np.ascontiguousarray(self.images[pos])), pos


class FeatureExtractor(pl.LightningModule):
    """A frozen backbone for ``Trainer.predict``: a batch ``(images, positions)`` gives ``(features, positions)``.

    ``preprocess`` turns the uint8 image batch (already on the module's device) into the network's input; the
    features come back as float32 whatever the precision the network ran in.
    """

    def __init__(self, network: nn.Module, preprocess: Callable[[torch.Tensor], torch.Tensor]) -> None:
        super().__init__()
        self.network = network.eval().requires_grad_(False)
        self.preprocess = preprocess

    def predict_step(
        self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int, dataloader_idx: int = 0
    ) -> Any:
        images, positions = batch
        return self.network(self.preprocess(images)).float(), positions


def _shard_name(indices: np.ndarray) -> str:
    # named by the items it holds: a shard recomputed for the same items replaces its stale namesake
    return f"{SHARD_PREFIX}{int(indices[0]):09d}_{array_digest(indices)[:16]}.npz"


def write_shard(folder: Path, job: dict, indices: np.ndarray, features: np.ndarray) -> Path:
    """Write one checksummed shard atomically; returns its path."""
    arrays = {"indices": np.asarray(indices, np.int64), "features": np.asarray(features, np.float32)}
    meta_json = json.dumps(job, sort_keys=True)
    path = folder / _shard_name(arrays["indices"])
    with atomic_write(path, suffix=".npz") as tmp:
        np.savez(tmp, meta=np.array(meta_json), checksum=np.array(checksum(meta_json, arrays)), **arrays)
    return path


def read_shards(folder: Path, job: dict) -> list[tuple[np.ndarray, np.ndarray]]:
    """``(indices, features)`` of every verified shard of ``job`` in ``folder``; other shards are refused."""
    kept, refused = [], []
    for path in sorted(folder.glob(f"{SHARD_PREFIX}*.npz")) if folder.is_dir() else []:
        try:
            with np.load(path, allow_pickle=False) as npz:
                meta_json, check = str(npz["meta"]), str(npz["checksum"])
                arrays = {"indices": npz["indices"], "features": npz["features"]}
            if json.loads(meta_json) != job:
                refused.append(f"{path.name} (another job)")
            elif checksum(meta_json, arrays) != check:
                refused.append(f"{path.name} (checksum mismatch)")
            elif arrays["indices"].ndim != 1 or len(arrays["indices"]) != len(arrays["features"]):
                refused.append(f"{path.name} (malformed)")
            elif len(arrays["indices"]) and not (
                0 <= arrays["indices"].min() <= arrays["indices"].max() < job["n"]
            ):
                refused.append(f"{path.name} (indices out of range)")
            else:
                kept.append((arrays["indices"], arrays["features"]))
        except Exception as exc:  # truncated or not an npz: refuse, never merge
            refused.append(f"{path.name} (unreadable: {type(exc).__name__})")
    if refused:
        message = f"refusing {len(refused)} shard(s) in {folder}, rebuilt instead: {'; '.join(refused[:3])}"
        log.warning(message)
        warnings.warn(message, ShardRefusedWarning, stacklevel=3)
    return kept


def merge_shards(shards: list[tuple[np.ndarray, np.ndarray]], n: int) -> tuple[np.ndarray | None, np.ndarray]:
    """Rows in dataset order from shards (first copy of a duplicated item wins) and the mask of items present."""
    present = np.zeros(n, dtype=bool)
    if not shards:
        return None, present
    dims = {f.shape[1] for _, f in shards if f.ndim == 2}
    if len(dims) != 1:
        raise ValueError(f"extraction shards disagree on the feature dimension: {sorted(dims)}")
    out = np.zeros((n, dims.pop()), np.float32)
    for indices, features in shards:
        new = ~present[indices]
        # within one shard an item appears once (Lightning's predict sampler does not repeat); across shards the
        # first copy is kept
        out[indices[new]] = features[new]
        present[indices[new]] = True
    return out, present


class ShardWriter(BasePredictionWriter):
    """Saves each rank's predictions ``(features, positions)`` as shards of at least ``shard_size`` rows."""

    def __init__(self, folder: Path, job: dict, shard_size: int) -> None:
        super().__init__(write_interval="batch")
        self.folder, self.job, self.shard_size = Path(folder), job, int(shard_size)
        self._rows: list[tuple[np.ndarray, np.ndarray]] = []

    def _flush(self) -> None:
        if self._rows:
            indices = np.concatenate([i for i, _ in self._rows])
            features = np.concatenate([f for _, f in self._rows])
            write_shard(self.folder, self.job, indices, features)
            self._rows = []

    def write_on_batch_end(
        self,
        trainer: pl.Trainer,
        pl_module: pl.LightningModule,
        prediction: Any,
        batch_indices: Any,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        features, positions = prediction
        self._rows.append((positions.cpu().numpy().astype(np.int64), features.cpu().numpy()))
        if sum(len(i) for i, _ in self._rows) >= self.shard_size:
            self._flush()

    def on_predict_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._flush()


# ---------------------------------------------------------------------------------------------------- the job
def barrier() -> None:
    """Wait for every rank when a process group is up (after a DDP job); a no-op in one process."""
    dist = torch.distributed
    if dist.is_available() and dist.is_initialized():
        dist.barrier()


def is_rank_zero() -> bool:
    """True in the process that writes shared outputs (global rank 0, or the only process).

    Before a process group is up the launcher's environment tells: ``RANK`` (torchrun), ``SLURM_PROCID`` (srun),
    ``LOCAL_RANK``/``NODE_RANK`` (processes Lightning started).
    """
    dist = torch.distributed
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank() == 0
    return all(
        os.environ.get(name, "0") == "0" for name in ("RANK", "SLURM_PROCID", "LOCAL_RANK", "NODE_RANK")
    )


def run_extraction(
    trainer_factory: Callable[[list[pl.Callback]], pl.Trainer],
    network: nn.Module,
    preprocess: Callable[[torch.Tensor], torch.Tensor],
    images: np.ndarray,
    job: dict,
    folder: Path,
    *,
    batch_size: int,
    shard_size: int,
    num_workers: int = 0,
) -> np.ndarray:
    """Features (N, D) float32 of ``images`` in their order, computed by ``Trainer.predict`` with resumable shards.

    ``trainer_factory(callbacks)`` builds the Trainer (placement, precision, progress bar). Items already held by
    verified shards of the same ``job`` in ``folder`` are not recomputed.
    """
    folder = Path(folder)
    n = len(images)
    if n == 0:
        raise ValueError(f"nothing to extract: the split of job {job.get('split')!r} has no images")
    _, present = merge_shards(read_shards(folder, job), n)
    remaining = np.flatnonzero(~present)
    if len(remaining):
        log.info("extracting %d of %d items (%d from finished shards)", len(remaining), n, n - len(remaining))
        from hashlab.training import quiet_lightning

        folder.mkdir(parents=True, exist_ok=True)
        with quiet_lightning():
            trainer = trainer_factory([ShardWriter(folder, job, shard_size)])
            if len(remaining) < trainer.world_size:
                # every rank needs at least one item; the repeats are dropped again when the shards are merged
                remaining = np.resize(remaining, trainer.world_size)
            loader = DataLoader(
                ImageRows(images, remaining), batch_size=batch_size, shuffle=False, num_workers=num_workers
            )
            trainer.predict(
                FeatureExtractor(network, preprocess), dataloaders=loader, return_predictions=False
            )
    barrier()  # every rank's shards are on disk
    features, present = merge_shards(read_shards(folder, job), n)
    if not present.all():
        raise RuntimeError(
            f"extraction left {int((~present).sum())} of {n} items without features in {folder}; run it again"
        )
    barrier()  # every rank has read the shards before rank 0 removes them
    if is_rank_zero():
        shutil.rmtree(folder, ignore_errors=True)
    assert features is not None
    return features


# ---------------------------------------------------------------------------------------------------- command line
def _devices(text: str) -> int | str:
    import argparse

    if text == "auto" or (text.isdigit() and int(text) > 0):
        return text if text == "auto" else int(text)
    raise argparse.ArgumentTypeError(f"must be a positive integer or 'auto', got {text!r}")


def add_embed_arguments(parser: Any) -> None:
    """Options of ``hashlab embed``."""
    parser.add_argument("--dataset", required=True, help="dataset name: digits, a MedMNIST flag, cifar10")
    parser.add_argument("--backbone", required=True, help="pixels, vit_b_16 or dinov2_vitb14")
    parser.add_argument("--size", type=int, default=28, help="MedMNIST image size (28, 64, 128, 224)")
    parser.add_argument(
        "--weights",
        choices=("default", "random"),
        default="default",
        help="pretrained or seeded random weights",
    )
    parser.add_argument("--batch-size", type=int, default=64, help="images per batch and process")
    parser.add_argument("--accelerator", default=None, help="Lightning accelerator: auto (default), cpu, gpu")
    parser.add_argument("--devices", type=_devices, default=None, help="processes (GPUs) per node, or auto")
    parser.add_argument("--num-nodes", type=int, default=None, help="number of nodes (default 1)")
    parser.add_argument("--strategy", default=None, help="Lightning strategy: auto (default), ddp, ddp_spawn")
    parser.add_argument("--precision", default=None, help="32-true (default), bf16-mixed, 16-mixed (GPU)")
    parser.add_argument("--num-workers", type=int, default=0, help="data loader workers per process")
    parser.add_argument("--rebuild", action="store_true", help="ignore existing cache files")
    parser.add_argument("--json", action="store_true", help="print the cache files as JSON (no progress bar)")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def run_embed(args: Any) -> int:
    """``hashlab embed``: fill the checked embeddings cache of every split; rank 0 prints where it is."""
    from hashlab.features import get_embeddings

    emb = get_embeddings(
        args.dataset,
        args.backbone,
        size=args.size,
        weights=None if args.weights == "random" else "default",
        batch_size=args.batch_size,
        rebuild=args.rebuild,
        progress=not (args.no_progress or args.json),  # Lightning's bar writes to stdout
        accelerator=args.accelerator,
        devices=args.devices,
        num_nodes=args.num_nodes,
        strategy=args.strategy,
        precision=args.precision,
        num_workers=args.num_workers,
    )
    if not is_rank_zero():
        return 0
    rows = {s: {"n": len(f), "dim": emb.in_dim, "path": emb.meta[s]["path"]} for s, f in emb.splits().items()}
    if args.json:
        print(json.dumps({"dataset": emb.dataset, "backbone": emb.backbone, "splits": rows}))
    else:
        for split, row in rows.items():
            print(f"{emb.dataset}/{emb.backbone} {split:<5} {row['n']:>7} x {row['dim']:<5} {row['path']}")
    return 0
