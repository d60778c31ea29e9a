"""Benchmark: lifelong update (code distillation, stored codes frozen) vs full retrain at growing database sizes.

Setting: digits pixel features. The old database (classes 0-7) is grown to N items by stacking jittered copies of
the training items (Gaussian noise of 0.1 x per-feature std); the new chunk (classes 8-9, 212 items) is fixed.
Both updates start from the same base model and train the same number of epochs; full retrain trains a fresh model
on old + new and re-hashes the whole database, the lifelong update trains on the chunk + a 50-item buffer and
encodes only the new items. Queries are the real test items (old classes 0-7, new classes 8-9).

Goal (issue 7): >= 5x less training time with <= 2 mAP points lost on old classes. Prints what is measured.

    .venv/bin/python bench/continual.py [--sizes 1 4 8 16] [--epochs 10]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from hashlab.continual import ClassIncrementalStream, ContinualConfig, run_stream, train_base
from hashlab.continual.strategies import CodeDistillation, FullRetrain
from hashlab.features import EmbeddingSet, FeatureSplit, get_embeddings
from hashlab.hardware import hardware_info

OLD, NEW = list(range(8)), [8, 9]


def grown(emb: EmbeddingSet, copies: int, seed: int = 0) -> EmbeddingSet:
    """Old-class training items repeated ``copies`` times with jitter; new-class items once."""
    x, y = emb.train.features, emb.train.labels
    old = np.isin(y, OLD)
    rng = np.random.default_rng(seed)
    std = x.std(0)
    xs = [x[old]] + [x[old] + 0.1 * std * rng.standard_normal(x[old].shape) for _ in range(copies - 1)]
    train = FeatureSplit(
        np.concatenate([*xs, x[~old]]).astype(np.float32), np.concatenate([np.tile(y[old], copies), y[~old]])
    )
    return EmbeddingSet(
        emb.dataset, emb.backbone, train, emb.val, emb.test, emb.class_names, meta={"grown_copies": copies}
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes", type=int, nargs="+", default=[1, 4, 8, 16], help="copies of the old database"
    )
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--bits", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(hardware_info())
    emb = get_embeddings("digits", "pixels", progress=False)
    config = ContinualConfig(
        bits=args.bits, hidden=(256,), epochs=args.epochs, batch_size=128, seed=args.seed
    )
    rows = []
    for copies in args.sizes:
        stream = ClassIncrementalStream(grown(emb, copies, args.seed), [OLD, NEW])
        t0 = time.perf_counter()
        base = train_base(stream, config)
        base_s = time.perf_counter() - t0
        full = run_stream(stream, FullRetrain(), base=base)
        life = run_stream(stream, CodeDistillation(memory=50, seed=args.seed), base=base)
        cf, cl = full.costs[1], life.costs[1]
        rows.append(
            {
                "old_db_items": stream[0].size("train"),
                "chunk_items": stream[1].size("train"),
                "base_train_s": round(base_s, 2),
                "full_train_s": round(cf.train_seconds, 2),
                "lifelong_train_s": round(cl.train_seconds, 2),
                "time_ratio": round(cf.train_seconds / cl.train_seconds, 2),
                "grad_ratio": round(cf.sample_gradients / cl.sample_gradients, 2),
                "full_total_s": round(cf.total_seconds, 2),
                "lifelong_total_s": round(cl.total_seconds, 2),
                "full_encoded": cf.encoded_items,
                "lifelong_encoded": cl.encoded_items,
                "old_map_full": round(full.old_map[1], 4),
                "old_map_lifelong": round(life.old_map[1], 4),
                "old_points_lost": round(100 * (full.old_map[1] - life.old_map[1]), 2),
                "new_map_full": round(full.new_map[1], 4),
                "new_map_lifelong": round(life.new_map[1], 4),
                "all_map_full": round(full.all_map[1], 4),
                "all_map_lifelong": round(life.all_map[1], 4),
            }
        )
        print(pd.DataFrame(rows[-1:]).T.to_string(header=False), flush=True)
    table = pd.DataFrame(rows).set_index("old_db_items")
    pd.set_option("display.width", 250)
    print("\nlifelong (code distillation, frozen codes) vs full retrain, same epochs, same process:")
    print(
        table[
            [
                "chunk_items",
                "full_train_s",
                "lifelong_train_s",
                "time_ratio",
                "grad_ratio",
                "old_map_full",
                "old_map_lifelong",
                "old_points_lost",
                "all_map_full",
                "all_map_lifelong",
            ]
        ].to_string()
    )
    goal = (table.time_ratio >= 5) & (table.old_points_lost <= 2)
    print(
        "\ngoal (>= 5x less training time and <= 2 old-class mAP points lost) met at old-database sizes:",
        list(table.index[goal]) or "none",
    )


if __name__ == "__main__":
    main()
