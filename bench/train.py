"""Lightning overhead: epochs of ``HashingModule`` through ``Trainer.fit`` vs a bare PyTorch loop doing the same updates.

Both paths train the same head with the same loss on the same batches (same seed, same sampler), without validation,
so the ratio is the cost of Lightning's loop, hooks and logging. Goal: ratio <= 1.3.

    python bench/train.py [--epochs 5] [--n 20000] [--dim 768] [--bits 48] [--method dpsh]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pytorch_lightning as pl
import torch

from hashlab.data import EmbeddingDataModule
from hashlab.experiment import quiet_lightning
from hashlab.features import EmbeddingSet, FeatureSplit
from hashlab.module import HashingModule


def synthetic_embeddings(n: int, dim: int, n_classes: int = 9, seed: int = 0) -> EmbeddingSet:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n_classes, dim)).astype(np.float32)

    def split(m: int) -> FeatureSplit:
        y = rng.integers(0, n_classes, size=m)
        return FeatureSplit(
            centres[y] + rng.normal(scale=2.0, size=(m, dim)).astype(np.float32), y.astype(np.int64)
        )

    return EmbeddingSet(
        dataset="synthetic",
        backbone="none",
        train=split(n),
        val=split(n // 10),
        test=split(n // 10),
        class_names=[str(c) for c in range(n_classes)],
        meta={},
    )


def make_model(emb: EmbeddingSet, bits: int, method: str) -> HashingModule:
    torch.manual_seed(0)
    return HashingModule(emb.in_dim, bits, len(emb.class_names), method=method)


def lightning_epochs(
    emb: EmbeddingSet, dm: EmbeddingDataModule, epochs: int, bits: int, method: str
) -> float:
    model = make_model(emb, bits, method)
    with quiet_lightning():
        trainer = pl.Trainer(
            max_epochs=epochs,
            accelerator="cpu",
            logger=False,
            enable_progress_bar=False,
            enable_model_summary=False,
            enable_checkpointing=False,
            limit_val_batches=0,
            num_sanity_val_steps=0,
        )
        start = time.perf_counter()
        trainer.fit(model, datamodule=dm)
        return time.perf_counter() - start


def bare_epochs(emb: EmbeddingSet, dm: EmbeddingDataModule, epochs: int, bits: int, method: str) -> float:
    model = make_model(emb, bits, method)
    optimizer = model.configure_optimizers()
    loader = dm.train_dataloader()
    start = time.perf_counter()
    model.loss.prepare(dm.train_labels)
    model.train()
    for _ in range(epochs):
        for x, y, idx in loader:
            features = model.backbone(x)
            h = model.relax(features)
            loss = model.loss(h, y, index=idx, features=features, encoder=model.relax).total
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        model.loss.on_epoch_end()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--n", type=int, default=20000, help="training items")
    parser.add_argument("--dim", type=int, default=768)
    parser.add_argument("--bits", type=int, default=48)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--method", default="dpsh")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    emb = synthetic_embeddings(args.n, args.dim)
    dm = EmbeddingDataModule(emb, batch_size=args.batch_size, seed=0)
    print(
        f"{args.method}, {args.bits} bits, {args.n} x {args.dim} embeddings, batch {args.batch_size}, "
        f"{args.epochs} epochs, torch threads {torch.get_num_threads()}"
    )
    bare_epochs(emb, dm, 1, args.bits, args.method)  # warm-up
    rows = []
    for repeat in range(args.repeats):
        t_bare = bare_epochs(emb, dm, args.epochs, args.bits, args.method)
        t_pl = lightning_epochs(emb, dm, args.epochs, args.bits, args.method)
        rows.append((t_bare, t_pl))
        print(
            f"run {repeat}: bare loop {t_bare:7.2f} s   Lightning {t_pl:7.2f} s   ratio {t_pl / t_bare:5.2f}"
        )
    bare, light = np.median(np.array(rows), axis=0)
    print(
        f"median: bare {bare:.2f} s, Lightning {light:.2f} s, overhead ratio {light / bare:.2f} (goal <= 1.3)"
    )


if __name__ == "__main__":
    main()
