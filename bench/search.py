"""Search benchmark at PathMNIST scale: HammingIndex vs raw faiss IndexBinaryFlat vs exact float kNN (torch).

Synthetic data: 9 Gaussian clusters in 768-d (a ViT-B/16 embedding's width), 90,000 database and 7,000 query
points (PathMNIST's train and test sizes). Codes are training-free PCA + random rotation + sign
("PCA-RR") at 12/24/36/48/64 bits. For each bit width the script times, in one process:

- ``float kNN``: exact Euclidean kNN on the 768-d features, torch ``cdist`` + ``topk`` in query chunks (reference);
- ``faiss raw``: ``faiss.IndexBinaryFlat`` search on packed codes (no tie handling);
- ``HammingIndex``: :class:`hashlab.index.HammingIndex` (faiss plus exact (distance, id) tie-breaking);
- ``metrics kNN``: :func:`hashlab.metrics.knn_predict` on the codes (HammingIndex top-k + majority vote).

and prints times, ratios to the float reference, kNN accuracy (k=7, majority vote) and agreement with the float
kNN predictions, plus the fraction of queries where raw faiss returns exactly HammingIndex's ids.

It first measures the cost of exactness: ``HammingIndex.search`` (flat, exact (distance, id) order) against raw
``faiss.IndexBinaryFlat.search`` (faiss's default heap top-k, arbitrary order among ties) on uniform random codes,
200,000 x 64 bits, 1,000 queries, k = 100 (issue 14's setting), in alternating runs in one process; it prints the
median of each and their ratio (goal <= 1.1).

Usage: ``python bench/search.py [--small] [--overhead-only] [--repeats R]`` (``--small``: 9,000 x 700).
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import faiss
import numpy as np
import torch

from hashlab.codes import pack_codes, to_codes
from hashlab.index import HammingIndex
from hashlab.metrics import knn_predict, majority_vote


def make_data(n_db: int, n_q: int, dim: int, n_classes: int, seed: int) -> tuple[np.ndarray, ...]:
    """Clustered features: class centres ~ N(0, 0.18^2 I), points = centre + N(0, I).

    The small centre scale makes classes overlap (float kNN accuracy about 0.8-0.9, not 1), so the agreement
    of Hamming kNN with float kNN is informative.
    """
    rng = np.random.default_rng(seed)
    centres = 0.18 * rng.standard_normal((n_classes, dim)).astype(np.float32)
    y_db = rng.integers(0, n_classes, n_db)
    y_q = rng.integers(0, n_classes, n_q)
    x_db = centres[y_db] + rng.standard_normal((n_db, dim), dtype=np.float32)
    x_q = centres[y_q] + rng.standard_normal((n_q, dim), dtype=np.float32)
    return x_db, x_q, y_db, y_q


def float_knn(x_q: np.ndarray, x_db: np.ndarray, k: int, chunk: int = 512) -> np.ndarray:
    """Reference exact Euclidean kNN: torch cdist + topk over query chunks."""
    db = torch.from_numpy(x_db)
    out = []
    with torch.no_grad():
        for s in range(0, len(x_q), chunk):
            d = torch.cdist(torch.from_numpy(x_q[s : s + chunk]), db)
            out.append(torch.topk(d, k, dim=1, largest=False).indices.numpy())
    return np.concatenate(out)


def timed(fn, *args, **kwargs):
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t0


def flat_overhead(n_db: int, n_q: int, bits: int, k: int, repeats: int, seed: int) -> float:
    """Median time of HammingIndex (flat) over raw faiss IndexBinaryFlat, alternating runs; prints and returns it."""
    rng = np.random.default_rng(seed)
    db = to_codes(rng.standard_normal((n_db, bits), dtype=np.float32))
    q = to_codes(rng.standard_normal((n_q, bits), dtype=np.float32))
    raw = faiss.IndexBinaryFlat(bits)
    raw.add(pack_codes(db))
    packed_q = pack_codes(q)
    index = HammingIndex(bits)
    index.add(db)
    t_raw, t_idx = [], []
    for _ in range(repeats):
        (raw_d, _), t = timed(raw.search, packed_q, k)
        t_raw.append(t)
        (dist, ids), t = timed(index.search, q, k)
        t_idx.append(t)
    assert (raw_d == dist).all(), "HammingIndex distances differ from faiss"
    key = dist.astype(np.int64) * n_db + ids
    assert (np.diff(key, axis=1) > 0).all(), "HammingIndex rows are not in (distance, id) order"
    m_raw, m_idx = float(np.median(t_raw)), float(np.median(t_idx))
    print(
        f"exact flat path: {n_db} x {bits}-bit codes, {n_q} queries, k={k}, {repeats} alternating runs: "
        f"raw faiss IndexBinaryFlat {m_raw:.3f} s, HammingIndex {m_idx:.3f} s (median), "
        f"ratio {m_idx / m_raw:.2f} (goal <= 1.1); rows in (distance, id) order, distances equal faiss's"
    )
    return m_idx / m_raw


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--small", action="store_true", help="9,000 x 700 instead of 90,000 x 7,000")
    parser.add_argument("--k", type=int, default=7)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--threads", type=int, default=1, help="torch and faiss threads (same for all methods)"
    )
    parser.add_argument(
        "--repeats", type=int, default=7, help="alternating runs of the exact-path comparison"
    )
    parser.add_argument(
        "--overhead-only", action="store_true", help="only the exact-path overhead measurement"
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    faiss.omp_set_num_threads(args.threads)
    flat_overhead(200_000, 1_000, 64, 100, args.repeats, args.seed)
    if args.overhead_only:
        return
    n_db, n_q = (9_000, 700) if args.small else (90_000, 7_000)
    dim, n_classes, k = 768, 9, args.k
    bit_list = [12, 24, 36, 48, 64]

    print(f"# search benchmark: database {n_db} x query {n_q}, {dim}-d float, {n_classes} classes, k={k}")
    print(
        f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cpus, torch threads "
        f"{torch.get_num_threads()}, faiss omp threads {faiss.omp_get_max_threads()}, faiss {faiss.__version__}"
    )
    x_db, x_q, y_db, y_q = make_data(n_db, n_q, dim, n_classes, args.seed)

    ref_idx, t_ref = timed(float_knn, x_q, x_db, k)
    ref_pred = majority_vote(y_db[ref_idx])
    acc_ref = float((ref_pred == y_q).mean())
    print(f"float kNN (torch cdist+topk): {t_ref:.2f} s, accuracy {acc_ref:.4f}")
    pred_h, t_h = timed(knn_predict, x_q, x_db, y_db, k=k)
    print(
        f"float kNN (hashlab.metrics.knn_predict, exact (distance, id) ties): {t_h:.2f} s "
        f"({t_h / t_ref:.2f}x the reference), agreement with reference {float((pred_h == ref_pred).mean()):.4f}\n"
    )

    mean = x_db.mean(axis=0)
    cov = np.cov((x_db - mean).T)
    _, vecs = np.linalg.eigh(cov)  # ascending eigenvalues
    rng = np.random.default_rng(args.seed + 1)

    header = (
        f"{'bits':>4} | {'faiss raw s':>11} {'HammingIndex s':>14} {'metrics kNN s':>13} | "
        f"{'float/faiss':>11} {'float/HIdx':>10} {'HIdx/faiss':>10} | {'acc':>6} {'agree':>6} {'same ids':>8}"
    )
    print(header)
    print("-" * len(header))
    for bits in bit_list:
        # PCA to `bits` components + a random rotation, then sign (training-free "PCA-RR" codes)
        rot = np.linalg.qr(rng.standard_normal((bits, bits)))[0]
        proj = (vecs[:, ::-1][:, :bits] @ rot).astype(np.float32)
        c_db, c_q = to_codes((x_db - mean) @ proj), to_codes((x_q - mean) @ proj)
        raw = faiss.IndexBinaryFlat(((bits + 7) // 8) * 8)
        raw.add(pack_codes(c_db))
        (_, raw_ids), t_raw = timed(raw.search, pack_codes(c_q), k)
        index = HammingIndex(bits)
        index.add(c_db)
        (_, ids), t_idx = timed(index.search, c_q, k)
        pred_m, t_met = timed(knn_predict, c_q, c_db, y_db, k=k)
        pred = majority_vote(y_db[ids])
        assert (pred == pred_m).all(), "HammingIndex and metrics.knn_predict disagree"
        acc = float((pred == y_q).mean())
        agree = float((pred == ref_pred).mean())
        same = float((raw_ids == ids).all(axis=1).mean())
        print(
            f"{bits:>4} | {t_raw:>11.3f} {t_idx:>14.3f} {t_met:>13.3f} | {t_ref / t_raw:>11.1f} "
            f"{t_ref / t_idx:>10.1f} {t_idx / t_raw:>10.2f} | {acc:>6.3f} {agree:>6.3f} {same:>8.3f}"
        )
    print(
        "\nacc: kNN accuracy of Hamming kNN on PCA-RR codes; agree: fraction of queries predicted as float kNN does;"
        "\nsame ids: fraction of queries whose raw faiss top-k ids equal HammingIndex's (distance, id) order."
    )


if __name__ == "__main__":
    main()
