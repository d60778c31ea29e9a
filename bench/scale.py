"""Hamming search at scale: latency and recall@k of every HammingIndex backend versus database size.

For each code length (32/64/128 bits), each kind of codes and each database size N (10^4 ... 10^7) the script
builds ``flat`` (exact, the ground truth), ``mih``, ``ivf`` and ``hnsw`` (:mod:`hashlab.index`, faiss), searches
the same queries for the top k = 100 and prints build time, ms per query, distance computations per query,
recall@100 against flat (ties at the 100th place count as hits, :func:`hashlab.index.recall_at_k`) and the
speed-up over flat.

Codes:

- ``structured``: sign random projections (Charikar 2002) of real images, replicated with bit noise. The base
  codes are ``sign((x - mean) @ R)`` of Fashion-MNIST's 60,000 training images (784 pixels, ``R`` Gaussian,
  seeded; sklearn's digits if Fashion-MNIST is not installed); database item ``i`` is base code ``i mod 60,000``
  with each bit flipped with probability ``--flip``; queries are the codes of test images (not in the database).
- ``uniform``: uniform random bits, the worst case for every index (no structure; for multi-index hashing the
  nearest neighbours are too far for the substring tables, Norouzi, Punjani & Fleet 2012).

It also prints bytes per item (codes vs float32 embeddings) and the physical limit of a flat scan: bytes scanned
per query divided by the memory bandwidth measured in the same run (numpy copy of a 512 MB array, counting the
bytes read and written). faiss scans the database in blocks against a batch of queries, so a block read from RAM
serves many queries and the flat scan can beat the per-query streaming limit.

Usage: ``python bench/scale.py [--quick] [--sizes 1e4,1e5,1e6,1e7] [--bits 32,64,128] [--codes structured,uniform]
[--backends flat,mih,ivf,hnsw] [--queries 200] [--threads 1] [--max-build-s 900]``. ``--quick``: 10^4 and 10^5 codes,
64 bits, 50 queries (about a minute). A backend whose build would exceed ``--max-build-s`` (extrapolated
from the previous size: linear, hnsw as N^1.6) or whose memory would exceed half the available RAM is skipped, with the
reason printed.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import time

import faiss
import numpy as np

from hashlab.index import BACKENDS, benchmark_backends

#: bytes per item of the index structures beyond the packed codes (rough, for the memory check)
_EXTRA_BYTES = {"flat": 0, "mih": 8 * 8, "ivf": 8, "hnsw": 2 * 32 * 4 + 16}
_CHUNK = 1 << 20
#: build time ~ N ** growth for the skip estimate (hnsw measured here: 24 s at 1e5, 984 s at 1e6 -> 1.6)
_GROWTH = {"flat": 1.0, "mih": 1.0, "ivf": 1.0, "hnsw": 1.6}


def real_features() -> tuple[np.ndarray, np.ndarray, str]:
    """Training and test images as float32 pixel rows, and a description of the source."""
    try:
        from hashlab.data.fashion_mnist import load_fashion_mnist

        bundle = load_fashion_mnist(download=False)
        train = np.concatenate([bundle.train.images, bundle.val.images]).reshape(-1, 784).astype(np.float32)
        test = bundle.test.images.reshape(-1, 784).astype(np.float32)
        return (
            train / 255.0,
            test / 255.0,
            "Fashion-MNIST (60,000 train images as base codes, test images as queries)",
        )
    except Exception as exc:  # not installed: sklearn's bundled digits
        from sklearn.datasets import load_digits

        x = load_digits().data.astype(np.float32) / 16.0
        return x[:1597], x[1597:], f"sklearn digits (1,597 base codes, 200 queries; Fashion-MNIST: {exc})"


def projection_codes(
    train: np.ndarray, test: np.ndarray, bits: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Packed sign random-projection codes of centred features (Charikar 2002)."""
    rng = np.random.default_rng(seed)
    proj = rng.standard_normal((train.shape[1], bits)).astype(np.float32)
    mean = train.mean(axis=0)
    return np.packbits((train - mean) @ proj > 0, axis=1), np.packbits((test - mean) @ proj > 0, axis=1)


def replicate(base: np.ndarray, n: int, bits: int, flip: float, seed: int) -> np.ndarray:
    """``n`` packed codes: base code ``i mod len(base)`` with each bit flipped with probability ``flip``."""
    rng = np.random.default_rng(seed)
    out = np.empty((n, base.shape[1]), dtype=np.uint8)
    threshold = np.uint8(round(flip * 256))
    for s in range(0, n, _CHUNK):
        rows = np.arange(s, min(n, s + _CHUNK)) % len(base)
        noise = np.packbits(rng.integers(0, 256, (len(rows), bits), dtype=np.uint8) < threshold, axis=1)
        out[s : s + len(rows)] = base[rows] ^ noise
    return out


def uniform(n: int, bits: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, bits // 8), dtype=np.uint8)


def bandwidth(nbytes: int = 512 << 20, repeats: int = 3) -> float:
    """Memory bandwidth in bytes/s: (bytes read + bytes written) / time of a numpy copy, best of ``repeats``."""
    src = np.ones(nbytes, dtype=np.uint8)
    dst = np.empty_like(src)
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        np.copyto(dst, src)
        best = min(best, time.perf_counter() - t0)
    return 2 * nbytes / best


def available_bytes() -> int:
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError):  # pragma: no cover - non-POSIX
        return 8 << 30


def parse_sizes(text: str) -> list[int]:
    try:
        sizes = [int(float(s)) for s in text.split(",") if s.strip()]
    except ValueError as exc:
        raise SystemExit(f"--sizes: expected numbers like 1e4,1e5, got {text!r}") from exc
    if not sizes or min(sizes) < 200:
        raise SystemExit(f"--sizes: need sizes >= 200, got {text!r}")
    return sizes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="1e4 and 1e5 codes, 64 bits, 50 queries")
    parser.add_argument("--sizes", default="1e4,1e5,1e6,1e7")
    parser.add_argument("--bits", default="32,64,128")
    parser.add_argument("--codes", default="structured,uniform")
    parser.add_argument("--backends", default=",".join(BACKENDS))
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--k", type=int, default=100)
    parser.add_argument("--flip", type=float, default=0.03, help="bit-flip probability of the replicas")
    parser.add_argument("--threads", type=int, default=1, help="faiss OpenMP threads (all backends)")
    parser.add_argument("--max-build-s", type=float, default=900.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    sizes = [10_000, 100_000] if args.quick else parse_sizes(args.sizes)
    bit_list = [64] if args.quick else [int(b) for b in args.bits.split(",")]
    n_queries = 50 if args.quick else args.queries
    kinds = args.codes.split(",")
    backends = args.backends.split(",")
    for name, values, valid in (
        ("--codes", kinds, ("structured", "uniform")),
        ("--backends", backends, BACKENDS),
    ):
        if set(values) - set(valid):
            raise SystemExit(f"{name}: unknown {sorted(set(values) - set(valid))}; valid: {valid}")
    if any(b % 8 or b <= 0 for b in bit_list):
        raise SystemExit(f"--bits: multiples of 8 only (packed codes), got {bit_list}")
    if "flat" not in backends:
        backends = ["flat", *backends]
    faiss.omp_set_num_threads(args.threads)

    bw = bandwidth()
    avail = available_bytes()
    print(f"# hashlab bench/scale.py, {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC")
    print(
        f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cpus (faiss threads {args.threads}), "
        f"faiss {faiss.__version__}, numpy {np.__version__}, {avail / 2**30:.1f} GiB RAM available, "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    print(f"# memory bandwidth (numpy copy of 512 MB, read + write): {bw / 1e9:.1f} GB/s")
    train, test, source = real_features()
    print(f"# structured codes: sign random projections of {source}, replicated with bit-flip p={args.flip}")
    print(
        "# uniform codes: uniform random bits (worst case); queries: same distribution, not in the database"
    )
    print(
        f"# k={args.k}, {n_queries} queries per run, recall@{args.k} vs flat (ties at the k-th place are hits)"
    )
    print(
        "# bytes per item: "
        + ", ".join(f"{b}-bit code {b // 8} B" for b in bit_list)
        + "; float32 embedding: "
        "784-d pixels 3136 B, ViT-B/16 768-d 3072 B, ViT-S 384-d 1536 B"
    )
    if max(sizes) >= 10**8:
        need = 10**8 * (max(bit_list) // 8 + _EXTRA_BYTES["hnsw"])
        print(
            f"# note: 1e8 codes need about {need / 2**30:.0f} GiB for hnsw (links {_EXTRA_BYTES['hnsw']} B/item);"
            " backends that do not fit half the available RAM are skipped below"
        )
    header = (
        f"{'bits':>4} {'codes':>10} {'N':>9} {'backend':>7} {'build s':>8} {'ms/query':>9} {'ndis/q':>10} "
        f"{'recall':>6} {'speedup':>7}  notes"
    )
    print(header)
    print("-" * len(header))
    for bits in bit_list:
        base, queries_real = projection_codes(train, test, bits, args.seed)
        rng = np.random.default_rng(args.seed + bits)
        for kind in kinds:
            last: dict[str, tuple[int, float]] = {}
            for n in sizes:
                if kind == "structured":
                    db = replicate(base, n, bits, args.flip, args.seed + n)
                    q = queries_real[
                        rng.choice(len(queries_real), min(n_queries, len(queries_real)), replace=False)
                    ]
                else:
                    db, q = uniform(n, bits, args.seed + n), uniform(n_queries, bits, args.seed + 1)
                configs, skipped = {}, []
                for backend in backends:
                    need = n * (bits // 8 + _EXTRA_BYTES[backend])
                    if need > avail / 2:
                        skipped.append(
                            f"{backend}: needs ~{need / 2**30:.1f} GiB > half of the available RAM"
                        )
                        continue
                    if backend in last and backend != "flat":
                        n0, t0 = last[backend]
                        estimate = t0 * (n / n0) ** _GROWTH[backend]
                        if estimate > args.max_build_s:
                            skipped.append(
                                f"{backend}: build ~{estimate:.0f} s (extrapolated) > --max-build-s"
                            )
                            continue
                    configs[backend] = {"backend": backend}
                limit_ms = 1000.0 * n * (bits // 8) / bw
                rows = benchmark_backends(db, q, args.k, configs, packed=True, bits=bits)
                for row in rows:
                    last[row["backend"]] = (n, row["build_s"])
                    notes = ""
                    if row["backend"] == "flat":
                        notes = f"scan limit {limit_ms:.3f} ms/q -> {row['ms_per_query'] / limit_ms:.2f}x"
                    else:
                        notes = ", ".join(f"{k}={v}" for k, v in row["options"].items() if k not in ("seed",))
                    print(
                        f"{bits:>4} {kind:>10} {n:>9.0e} {row['backend']:>7} {row['build_s']:>8.2f} "
                        f"{row['ms_per_query']:>9.3f} {row['ndis_per_query']:>10.0f} {row['recall']:>6.3f} "
                        f"{row['speedup']:>7.1f}  {notes}",
                        flush=True,
                    )
                for reason in skipped:
                    print(f"{bits:>4} {kind:>10} {n:>9.0e} skipped  {reason}", flush=True)
                del db
    print(
        "\nms/query: batch of queries, faiss threads as printed; ndis/q: distance computations per query (faiss "
        "statistics; flat scans N); speedup: flat's search time / the backend's."
    )


if __name__ == "__main__":
    main()
