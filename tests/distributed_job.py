"""One hashlab job as a rank of a Lightning DDP run on the CPU (gloo), started by tests/test_distributed.py.

``python tests/distributed_job.py OUT_DIR DEVICES`` extracts features of a synthetic image set with a tiny seeded
convolution and the ``pixels`` features of digits through the Lightning predict job, then trains DPSH (pairwise)
and DSDH (per-item state) heads on digits. With ``DEVICES=2`` and ``strategy="ddp"`` Lightning starts the second
rank by re-running this script; every rank writes ``rank<r>.json`` (what it saw), rank 0 writes ``result.npz``.
The test process imports :class:`TinyConv`, :func:`synthetic_bundle` and :func:`train_configs` for its
one-process reference, so both sides run the same job.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import torch
from torch import nn

from hashlab.data import DatasetBundle, Split

N_ITEMS = 300
METHODS = ("dpsh", "dsdh")
GLOBAL_BATCH = 128


class TinyConv(nn.Module):
    """A seeded 3x3 convolution, ReLU and global mean: a small stand-in for a backbone; counts the items it saw."""

    def __init__(self, fail_after: int | None = None) -> None:
        super().__init__()
        with torch.random.fork_rng():
            torch.manual_seed(0)
            self.conv = nn.Conv2d(3, 6, 3, stride=4)
        self.items, self.calls, self.fail_after = 0, 0, fail_after

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.fail_after is not None and self.calls >= self.fail_after:
            raise RuntimeError("simulated interruption")
        self.calls += 1
        self.items += len(x)
        return torch.relu(self.conv(x)).mean(dim=(2, 3))


def synthetic_bundle(n: int = N_ITEMS) -> DatasetBundle:
    """Seeded random 12x12 grey images (the same on every rank)."""
    rng = np.random.default_rng(0)

    def split(k: int) -> Split:
        return Split(rng.integers(0, 256, (k, 12, 12, 1), dtype=np.uint8), np.arange(k) % 3)

    return DatasetBundle("synthetic", split(n), split(8), split(8), ["a", "b", "c"], False, {"size": 12})


def placement(devices: int) -> dict:
    return {"accelerator": "cpu", "devices": devices, "strategy": "ddp" if devices > 1 else "auto"}


def train_configs(devices: int) -> list:
    """DPSH and DSDH on digits pixels; the per-rank batch keeps the global batch at 128 items."""
    from hashlab.experiment import ExperimentConfig

    return [
        ExperimentConfig(
            dataset="digits",
            backbone="pixels",
            method=method,
            bits=16,
            epochs=12,
            batch_size=GLOBAL_BATCH // devices,
            seed=0,
            **placement(devices),
        )
        for method in METHODS
    ]


def first_step_gradients(method: str, devices: int, n: int = 64) -> np.ndarray:
    """Parameter gradients of one training step on the first ``n`` digits items (one global batch).

    With ``devices`` ranks each rank holds ``n / devices`` of them (Lightning's DistributedSampler, no shuffle);
    the gradients are read after DDP's all-reduce. Equal to one process on all ``n`` items when pairs span the
    global batch.
    """
    import pytorch_lightning as pl
    from torch.utils.data import DataLoader, TensorDataset

    from hashlab.config import seed_everything
    from hashlab.features import get_embeddings
    from hashlab.module import HashingModule
    from hashlab.settings import TrainingConfig
    from hashlab.training import build_trainer, quiet_lightning

    class Grads(pl.Callback):
        def on_after_backward(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
            self.value = torch.cat([p.grad.flatten() for p in module.parameters() if p.grad is not None])

    emb = get_embeddings("digits", "pixels", progress=False)
    x = torch.as_tensor(emb.train.features[:n])
    y = torch.as_tensor(emb.train.labels[:n])
    loader = DataLoader(TensorDataset(x, y, torch.arange(n)), batch_size=n // devices, shuffle=False)
    seed_everything(0)
    model = HashingModule(in_dim=x.shape[1], bits=16, n_classes=10, method=method)
    grads = Grads()
    with quiet_lightning():
        trainer = build_trainer(
            TrainingConfig(**placement(devices)),
            epochs=1,
            callbacks=[grads],
            progress=False,
            validate=False,
            max_steps=1,
        )
        trainer.fit(model, loader)
    return grads.value.numpy()


def main(out: Path, devices: int) -> None:
    import hashlab.features as hf
    from hashlab.experiment import run
    from hashlab.extraction import is_rank_zero

    net = TinyConv()
    hf._load_backbone = lambda backbone, weights: net
    conv = hf.extract(
        synthetic_bundle(),
        "vit_b_16",
        "train",
        batch_size=16,
        shard_size=32,
        weights=None,
        progress=False,
        work_dir=out / "work",
        **placement(devices),
    )
    pixels = hf.get_embeddings("digits", "pixels", progress=False, **placement(devices))
    arrays = {"conv": conv.features, **{f"pixels_{s}": f.features for s, f in pixels.splits().items()}}
    info: dict = {"conv_items": net.items}
    for config in train_configs(devices):
        result = run(config, embeddings=pixels, progress=False)
        info[config.method] = {
            "test_map": result.metrics["map"],
            "val_map": result.val_metrics["map"],
            "best_epoch": result.best_epoch,
            "val_map_history": [row.get("val_map") for row in result.history],
        }
        arrays[f"{config.method}_test_codes"] = result.codes["test"]
    for method in METHODS:
        arrays[f"{method}_grad"] = first_step_gradients(method, devices)
    dist = torch.distributed
    up = dist.is_available() and dist.is_initialized()
    rank = dist.get_rank() if up else 0
    info.update(rank=rank, world_size=dist.get_world_size() if up else 1)
    (out / f"rank{rank}.json").write_text(json.dumps(info))
    if is_rank_zero():
        np.savez(out / "result.npz", **arrays)


if __name__ == "__main__":
    torch.set_num_threads(1)
    main(Path(sys.argv[1]), int(sys.argv[2]))
