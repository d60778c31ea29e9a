"""Hamming search over ±1 codes on faiss's binary indexes: one exact scan and three sub-linear backends.

Codes of ``bits`` bits are packed into ``ceil(bits/8)`` bytes with zero padding (identical for every code, so
distances are unchanged) because faiss binary indexes need a dimension that is a multiple of 8. Backends
(``HammingIndex(bits, backend=..., **options)``):

=========  ==============================  ======================================  =================================
backend    faiss index                     top-k (:meth:`~HammingIndex.search`)    radius (:meth:`~.range_search`)
=========  ==============================  ======================================  =================================
``flat``   ``IndexBinaryFlat``             exact, (distance, id) order             exact
``mih``    ``IndexBinaryMultiHash``        approximate (candidates within          exact (pigeonhole, see below)
                                           ``nflip`` flips of a substring)
``ivf``    ``IndexBinaryIVF``              approximate (``nprobe`` of ``nlist``)   approximate; exact if
                                                                                   ``nprobe == nlist``
``hnsw``   ``IndexBinaryHNSW``             approximate (graph, ``ef_search``)      exact (scan of its storage)
=========  ==============================  ======================================  =================================

Exact top-k order. ``flat`` searches with faiss's counting variant (``use_heap = False``, ``hammings_knn_mc``):
it scans the database in id order and keeps, per distance, the first ids met, so its top-k *is* the stable
(distance, id) ranking, with no re-sort, and it is faster than faiss's default heap variant. Approximate backends
return their candidates sorted by (distance, id); a slot they could not fill has id ``-1`` and distance
``INT32_MAX`` (faiss's convention).

Multi-index hashing (Norouzi, Punjani & Fleet 2012) cuts a code into ``nhash`` disjoint substrings of ``b`` bits and
looks each up in a hash table. An item within Hamming distance ``r`` of the query is within ``r // nhash`` of it on
at least one substring (pigeonhole), so a radius search that enumerates ``nflip = r // nhash`` flips per table is
exact; when that enumeration would cost more than a scan, the scan of the index's storage is used (same answer).
IVF: Jégou, Douze & Schmid (2011) inverted lists over binary k-means centroids. HNSW: Malkov & Yashunin (2020).

Sharding (``shards=n``): faiss ``IndexBinaryShards`` over ``n`` sub-indexes searched in parallel threads; the shards
hold contiguous id ranges, so the merged flat result keeps the exact (distance, id) order. ``add`` on a sharded
index re-partitions all codes (build it with one ``add``).

Codes larger than RAM: :meth:`HammingIndex.from_packed_file` maps a file of packed codes with ``np.memmap`` and
scans it in chunks of ``chunk_rows`` with ``faiss.knn_hamming`` (counting variant), merging the chunks' top-k by
(distance, id). faiss's on-disk storage (``OnDiskInvertedLists``) exists only for IVF indexes in faiss's own file
format; a memory-mapped array of ``np.packbits`` codes is the format users already have, the scan is exact, and RAM
use is one chunk plus the results.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import zipfile
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from hashlab.checks import check_positive_int
from hashlab.codes import check_codes, pack_codes, unpack_codes
from hashlab.config import atomic_write

__all__ = ["BACKENDS", "HammingIndex", "IndexFileError", "benchmark_backends", "recall_at_k"]

_FORMAT = "hashlab.HammingIndex/2"
_FORMAT_V1 = "hashlab.HammingIndex/1"
BACKENDS = ("flat", "mih", "ivf", "hnsw")
_DEFAULTS: dict[str, dict[str, Any]] = {
    "flat": {},
    "mih": {"nhash": None, "nflip": 1},
    "ivf": {"nlist": None, "nprobe": 16, "max_train": 65536, "seed": 0},
    "hnsw": {"m": 32, "ef_construction": 40, "ef_search": 128},
}
_SEARCH_PARAMS = {"mih": ("nflip",), "ivf": ("nprobe",), "hnsw": ("ef_search",)}
_FAISS_TYPE = {
    "flat": faiss.IndexBinaryFlat,
    "mih": faiss.IndexBinaryMultiHash,
    "ivf": faiss.IndexBinaryIVF,
    "hnsw": faiss.IndexBinaryHNSW,
}
_INT32_MAX = np.iinfo(np.int32).max
_MC_BYTES = 64 << 20  # memory of faiss's counting top-k per query batch: nq * (d + 1) * k * 8 bytes


class IndexFileError(ValueError):
    """A saved index file (or a save target) is unreadable, truncated, inconsistent or not a HammingIndex file."""


def recall_at_k(found_dist: np.ndarray, exact_dist: np.ndarray) -> float:
    """Recall@k of an approximate top-k against the exact one, counting ties as hits.

    ``found_dist``: distances (Nq, k) of the returned items (unfilled slots ``INT32_MAX``); ``exact_dist``: the
    exact top-k distances (Nq, k). A returned item counts when its distance is at most the exact k-th distance:
    any item tied with the k-th is an equally correct answer, so this equals the usual
    ``|found ∩ exact| / k`` when there are no ties and does not penalise a different choice among tied items.
    """
    found, exact = np.asarray(found_dist), np.asarray(exact_dist)
    if found.shape != exact.shape or found.ndim != 2:
        raise ValueError(
            f"found_dist {found.shape} and exact_dist {exact.shape} must be the same (Nq, k) shape"
        )
    return float((found <= exact[:, -1:]).sum() / found.size)


def _check_save_target(path: str | os.PathLike) -> Path:
    """Refuse a directory, or a path under a regular file, naming the target (before any temporary file)."""
    target = Path(path)
    if target.is_dir():
        raise IndexFileError(f"cannot save HammingIndex to {target}: it is a directory")
    for parent in target.parents:
        if parent.exists():
            if not parent.is_dir():
                raise IndexFileError(
                    f"cannot save HammingIndex to {target}: {parent} is a file, not a directory"
                )
            break
    return target


def _sort_rows(dist: np.ndarray, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each row ordered by (distance, id); faiss's unfilled slots (id -1, distance INT32_MAX) go last."""
    key_ids = np.where(ids < 0, np.iinfo(np.int64).max, ids)
    order = np.lexsort((key_ids, dist), axis=1)
    return np.take_along_axis(dist, order, axis=1), np.take_along_axis(ids, order, axis=1)


def _flat_knn(index: Any, q: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """faiss counting top-k on an IndexBinaryFlat (or shards of them) in query batches of bounded memory."""
    per_query = (index.d + 1) * k * 8
    batch = max(1, _MC_BYTES // per_query)
    if len(q) <= batch:
        return index.search(q, k)
    dist = np.empty((len(q), k), dtype=np.int32)
    ids = np.empty((len(q), k), dtype=np.int64)
    for s in range(0, len(q), batch):
        dist[s : s + batch], ids[s : s + batch] = index.search(q[s : s + batch], k)
    return dist, ids


def _range_one(index: Any, q: np.ndarray, radius: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Per-query (ids, distances) with ``d <= radius`` from a faiss index with range_search (its bound is strict)."""
    lims, dist, ids = index.range_search(q, radius + 1)
    return (
        [ids[lims[j] : lims[j + 1]].astype(np.int64) for j in range(len(q))],
        [dist[lims[j] : lims[j + 1]].astype(np.int32) for j in range(len(q))],
    )


def _storage_codes(flat: Any) -> np.ndarray:
    """Packed codes of an IndexBinaryFlat (a copy)."""
    flat = faiss.downcast_IndexBinary(flat)
    n, nbytes = int(flat.ntotal), int(flat.code_size)
    if n == 0:
        return np.empty((0, nbytes), dtype=np.uint8)
    return np.array(faiss.rev_swig_ptr(flat.xb.data(), n * nbytes), dtype=np.uint8).reshape(n, nbytes)


def _ivf_codes(ivf: Any) -> np.ndarray:
    """Packed codes of an IndexBinaryIVF in id order, read from its inverted lists."""
    out = np.zeros((int(ivf.ntotal), int(ivf.code_size)), dtype=np.uint8)
    invlists = ivf.invlists
    for lst in range(int(ivf.nlist)):
        size = int(invlists.list_size(lst))
        if size == 0:
            continue
        ids = faiss.rev_swig_ptr(invlists.get_ids(lst), size).copy()
        codes = faiss.rev_swig_ptr(invlists.get_codes(lst), size * int(ivf.code_size))
        out[ids] = np.array(codes, dtype=np.uint8).reshape(size, -1)
    return out


class HammingIndex:
    """Hamming-distance index over ±1 codes of ``bits`` bits on a faiss binary index (see the module docstring).

    ``backend``: ``"flat"`` (exact, default), ``"mih"`` (options ``nhash``: substrings, default about one per 16
    bits; ``nflip``: flips per substring at search, default 1), ``"ivf"`` (``nlist``: lists, default
    ``clip(round(sqrt(N)), 1, 1024)`` at the first ``add``, which also trains on at most ``max_train`` codes;
    ``nprobe``: lists visited, default 16), ``"hnsw"`` (``m``, ``ef_construction``, ``ef_search``; defaults 32, 40,
    128). ``shards``: number of faiss ``IndexBinaryShards`` parts searched in parallel threads.

    >>> index = HammingIndex(64, backend="mih"); index.add(db_codes)      # doctest: +SKIP
    >>> dist, ids = index.search(query_codes, k=10)                       # doctest: +SKIP
    >>> ids_within_3 = index.range_search(query_codes, radius=3)          # doctest: +SKIP
    """

    def __init__(self, bits: int, backend: str = "flat", *, shards: int = 1, **options: Any) -> None:
        self.bits = check_positive_int(bits, "bits")
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
        self.backend = backend
        self.shards = check_positive_int(shards, "shards")
        unknown = sorted(set(options) - set(_DEFAULTS[backend]))
        if unknown:
            raise ValueError(
                f"unknown option(s) {unknown} for backend {backend!r}; valid: {sorted(_DEFAULTS[backend])}"
            )
        self.options: dict[str, Any] = {**_DEFAULTS[backend], **options}
        for name, value in self.options.items():
            if value is not None and name != "seed":
                check_positive_int(value, name)
        self.nbytes = (self.bits + 7) // 8
        self.d = self.nbytes * 8
        if backend == "mih":
            nhash = self.options["nhash"] or max(1, round(self.d / 16))
            if nhash > self.d:
                raise ValueError(f"nhash={nhash} is larger than the padded code length {self.d}")
            self.options["nhash"] = int(nhash)
        self._mmap: np.ndarray | None = None
        self._mmap_path: str | None = None
        self._chunk_rows = 0
        self._index: Any = None if backend == "ivf" else self._build()

    # ----------------------------------------------------------------------------------------------- building
    def _new_sub(self) -> Any:
        """One faiss index of this backend (untrained for ivf)."""
        o, d = self.options, self.d
        if self.backend == "flat":
            sub = faiss.IndexBinaryFlat(d)
            sub.use_heap = False  # counting top-k: exact (distance, id) order, faster than the heap
        elif self.backend == "mih":
            sub = faiss.IndexBinaryMultiHash(d, o["nhash"], d // o["nhash"])
            sub.nflip = o["nflip"]
        elif self.backend == "ivf":
            quantizer = faiss.IndexBinaryFlat(d)
            sub = faiss.IndexBinaryIVF(quantizer, d, o["nlist"])
            sub.own_fields = True
            quantizer.this.disown()
            sub.nprobe = min(o["nprobe"], o["nlist"])
        else:
            sub = faiss.IndexBinaryHNSW(d, o["m"])
            sub.hnsw.efConstruction = o["ef_construction"]
            sub.hnsw.efSearch = o["ef_search"]
        return sub

    def _build(self, subs: list[Any] | None = None) -> Any:
        subs = subs if subs is not None else [self._new_sub() for _ in range(self.shards)]
        self._subs = subs
        if self.shards == 1:
            return subs[0]
        shards = faiss.IndexBinaryShards(self.d, True, True)  # threaded, successive ids (contiguous ranges)
        for sub in subs:
            shards.add_shard(sub)
        return shards

    def _train(self, packed: np.ndarray) -> None:
        """IVF: fix nlist from the first batch and train binary k-means on a seeded sample of it."""
        n = len(packed)
        if self.options["nlist"] is None:
            self.options["nlist"] = int(min(1024, max(1, round(math.sqrt(n)))))
        if n < self.options["nlist"]:
            raise ValueError(
                f"ivf needs at least nlist={self.options['nlist']} codes in its first add, got {n}"
            )
        self._index = self._build()
        m = min(n, max(self.options["max_train"], self.options["nlist"]))
        rng = np.random.default_rng(self.options["seed"])
        sample = packed if m == n else packed[np.sort(rng.choice(n, m, replace=False))]
        self._index.train(np.ascontiguousarray(sample))

    # ------------------------------------------------------------------------------------------------- basics
    @property
    def ntotal(self) -> int:
        """Number of codes in the index (ids are 0..ntotal-1 in insertion order)."""
        if self._mmap is not None:
            return int(len(self._mmap))
        return 0 if self._index is None else int(self._index.ntotal)

    @property
    def exact(self) -> bool:
        """True when :meth:`search` is exact (the ``flat`` backend)."""
        return self.backend == "flat"

    def __len__(self) -> int:
        return self.ntotal

    def __repr__(self) -> str:
        extra = "".join(f", {k}={v!r}" for k, v in self.options.items())
        shards = f", shards={self.shards}" if self.shards > 1 else ""
        mm = f", file={self._mmap_path!r}" if self._mmap is not None else ""
        return f"HammingIndex(bits={self.bits}, backend={self.backend!r}{shards}{extra}, ntotal={self.ntotal}{mm})"

    def _pack(self, codes: Any, name: str, packed: bool = False) -> np.ndarray:
        if not packed:
            return np.ascontiguousarray(pack_codes(check_codes(codes, name, bits=self.bits)))
        arr = np.asarray(codes)
        if arr.dtype != np.uint8 or arr.ndim != 2 or arr.shape[1] != self.nbytes or len(arr) == 0:
            raise ValueError(
                f"{name} (packed=True) must be np.uint8 (N, {self.nbytes}) for bits={self.bits}, "
                f"got {arr.dtype} {arr.shape}"
            )
        pad = self.d - self.bits
        if pad and (arr[:, -1] & np.uint8((1 << pad) - 1)).any():
            raise ValueError(
                f"{name} (packed=True) has padding bits set: not np.packbits of {self.bits}-bit codes"
            )
        return np.ascontiguousarray(arr)

    def add(self, codes: Any, *, packed: bool = False) -> None:
        """Append ±1 codes (N, bits); they get ids ntotal, ntotal+1, ... (ivf trains on the first batch).

        ``packed=True``: ``codes`` are already ``np.uint8`` (N, ceil(bits/8)) as :func:`hashlab.codes.pack_codes`
        makes (8x less memory than ±1 ``int8`` for large databases).
        """
        if self._mmap is not None:
            raise ValueError(
                f"this index is memory-mapped from {self._mmap_path} and read-only; append to the file"
            )
        packed = self._pack(codes, "codes", packed)
        if self.shards > 1 and self.ntotal:  # keep contiguous id ranges per shard: re-partition all codes
            packed = np.concatenate([self._packed(), packed])
            self._index = None if self.backend == "ivf" else self._build()
        if self._index is None:  # ivf before its first add (or re-partitioned)
            self._train(packed)
        self._index.add(packed)

    def codes(self) -> np.ndarray:
        """All stored codes as ±1 ``np.int8`` (ntotal, bits), in id order."""
        return unpack_codes(self._packed(), self.bits)

    def set_search_params(self, **params: int) -> None:
        """Change search-time options: ``nflip`` (mih), ``nprobe`` (ivf), ``ef_search`` (hnsw)."""
        valid = _SEARCH_PARAMS.get(self.backend, ())
        for name, value in params.items():
            if name not in valid:
                raise ValueError(
                    f"{name!r} is not a search option of backend {self.backend!r}; valid: {valid}"
                )
            self.options[name] = check_positive_int(value, name)
        for sub in getattr(self, "_subs", []) if self._index is not None else []:
            self._apply_search_params(sub)

    def _apply_search_params(self, sub: Any) -> None:
        o = self.options
        if self.backend == "mih":
            sub.nflip = o["nflip"]
        elif self.backend == "ivf":
            sub.nprobe = min(o["nprobe"], int(sub.nlist))
        elif self.backend == "hnsw":
            sub.hnsw.efSearch = o["ef_search"]

    # ------------------------------------------------------------------------------------------------- search
    def _check_query(self, query_codes: Any, packed: bool) -> np.ndarray:
        q = self._pack(query_codes, "query_codes", packed)
        if self.ntotal == 0:
            raise ValueError("the index is empty: add codes before searching")
        return q

    def search(self, query_codes: Any, k: int, *, packed: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """The k nearest codes per query: ``(distances int32 (Nq, k), ids int64 (Nq, k))`` by (distance, id).

        Exact for ``flat`` (and a memory-mapped index); approximate backends may leave slots unfilled (id -1).
        ``packed=True``: queries are packed ``np.uint8`` as in :meth:`add`.
        """
        check_positive_int(k, "k")
        q = self._check_query(query_codes, packed)
        n, k = self.ntotal, int(k)
        if k > n:
            raise ValueError(f"k={k} is larger than the index ({n} codes)")
        if self._mmap is not None:
            return self._mmap_knn(q, k)
        if self.backend == "flat":
            return _flat_knn(self._index, q, k)
        return _sort_rows(*self._index.search(q, k))

    def range_search(
        self, query_codes: Any, radius: int, return_distances: bool = False, *, packed: bool = False
    ) -> list[np.ndarray] | tuple[list[np.ndarray], list[np.ndarray]]:
        """Ids within Hamming distance ``<= radius`` of each query, each array sorted by (distance, id).

        Exact for ``flat``, ``mih`` and ``hnsw``; ``ivf`` searches ``nprobe`` lists (exact when ``nprobe == nlist``).
        With ``return_distances=True`` returns ``(ids, distances)``, two lists of per-query arrays.
        """
        if isinstance(radius, bool) or not isinstance(radius, (int, np.integer)) or radius < 0:
            raise ValueError(f"radius must be an int >= 0, got {radius!r}")
        q = self._check_query(query_codes, packed)
        radius = int(radius)
        if self._mmap is not None:
            ids, dists = self._mmap_range(q, radius)
        else:
            ids, dists = [[] for _ in q], [[] for _ in q]
            offset = 0
            for sub in self._subs:
                sub_ids, sub_d = self._range_sub(sub, q, radius)
                for j in range(len(q)):
                    ids[j].append(sub_ids[j] + offset)
                    dists[j].append(sub_d[j])
                offset += int(sub.ntotal)
            ids = [np.concatenate(a) for a in ids]
            dists = [np.concatenate(a) for a in dists]
        orders = [np.lexsort((i, d)) for d, i in zip(dists, ids, strict=True)]
        ids = [i[o] for i, o in zip(ids, orders, strict=True)]
        if return_distances:
            return ids, [d[o] for d, o in zip(dists, orders, strict=True)]
        return ids

    def _range_sub(self, sub: Any, q: np.ndarray, radius: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
        if self.backend == "hnsw":  # faiss's HNSW has no range search: exact scan of its flat storage
            return _range_one(sub.storage, q, radius)
        if self.backend == "mih":
            nhash, b = int(sub.nhash), int(sub.b)
            nflip = radius // nhash  # pigeonhole over nhash disjoint substrings: exact
            probes = nhash * sum(math.comb(b, f) for f in range(min(nflip, b) + 1))
            if probes >= sub.ntotal:  # enumerating the flips costs more than a scan: same answer from storage
                return _range_one(sub.storage, q, radius)
            old, sub.nflip = sub.nflip, nflip
            try:
                return _range_one(sub, q, radius)
            finally:
                sub.nflip = old
        return _range_one(sub, q, radius)

    # ------------------------------------------------------------------------------------------ memory-mapped
    @classmethod
    def from_packed_file(cls, path: str | os.PathLike, bits: int, chunk_rows: int = 1 << 22) -> HammingIndex:
        """An exact (``flat``) read-only index over packed codes in a file, memory-mapped, scanned in chunks.

        ``path``: a ``.npy`` of ``np.uint8`` (N, ceil(bits/8)) as :func:`hashlab.codes.pack_codes` makes (write
        large ones chunk by chunk with ``np.lib.format.open_memmap``), or a raw file of N * ceil(bits/8) bytes.
        Search scans ``chunk_rows`` codes at a time with ``faiss.knn_hamming`` (counting variant, exact
        (distance, id) order) and merges the chunks' top-k; RAM use is one chunk's pages plus the results.
        """
        index = cls(bits)
        index._chunk_rows = check_positive_int(chunk_rows, "chunk_rows")
        path = os.fspath(path)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"no packed-codes file at {path}")
        try:
            if path.endswith(".npy"):
                mm = np.load(path, mmap_mode="r", allow_pickle=False)
            else:
                size = os.path.getsize(path)
                if size == 0 or size % index.nbytes:
                    raise IndexFileError(
                        f"{path}: {size} bytes is not a positive multiple of {index.nbytes} (bits={bits})"
                    )
                mm = np.memmap(path, dtype=np.uint8, mode="r", shape=(size // index.nbytes, index.nbytes))
        except IndexFileError:
            raise
        except (OSError, ValueError) as exc:
            raise IndexFileError(f"{path} is not a .npy of packed codes: {exc}") from exc
        if mm.dtype != np.uint8 or mm.ndim != 2 or mm.shape[1] != index.nbytes or len(mm) == 0:
            raise IndexFileError(
                f"{path}: expected np.uint8 (N, {index.nbytes}) packed codes for bits={bits}, "
                f"got {mm.dtype} {mm.shape}"
            )
        if not mm.flags.c_contiguous:
            raise IndexFileError(f"{path}: the array is not C-contiguous (Fortran order)")
        index._mmap, index._mmap_path = mm, path
        index._index = None
        index._subs = []
        return index

    def _chunks(self):
        pad = self.d - self.bits
        mask = np.uint8((1 << pad) - 1) if pad else None
        for start in range(0, len(self._mmap), self._chunk_rows):
            chunk = self._mmap[start : start + self._chunk_rows]
            if mask is not None and (chunk[:, -1] & mask).any():
                raise IndexFileError(
                    f"{self._mmap_path}: padding bits are set in rows {start}..{start + len(chunk) - 1}; "
                    f"these are not packed {self.bits}-bit codes"
                )
            yield start, chunk

    def _mmap_knn(self, q: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        best_d = np.empty((len(q), 0), dtype=np.int32)
        best_i = np.empty((len(q), 0), dtype=np.int64)
        for start, chunk in self._chunks():
            dist, ids = faiss.knn_hamming(q, chunk, min(k, len(chunk)), variant="mc")
            # earlier chunks hold smaller ids: a stable sort by distance keeps (distance, id) order
            dist = np.concatenate([best_d, dist.astype(np.int32)], axis=1)
            ids = np.concatenate([best_i, ids + start], axis=1)
            order = np.argsort(dist, axis=1, kind="stable")[:, :k]
            best_d, best_i = np.take_along_axis(dist, order, 1), np.take_along_axis(ids, order, 1)
        return best_d, best_i

    def _mmap_range(self, q: np.ndarray, radius: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
        ids: list[list[np.ndarray]] = [[] for _ in q]
        dists: list[list[np.ndarray]] = [[] for _ in q]
        for start, chunk in self._chunks():
            flat = faiss.IndexBinaryFlat(self.d)
            flat.add(np.ascontiguousarray(chunk))  # one chunk in RAM at a time
            for j, (i, d) in enumerate(zip(*_range_one(flat, q, radius), strict=True)):
                ids[j].append(i + start)
                dists[j].append(d)
        return [np.concatenate(a) for a in ids], [np.concatenate(a) for a in dists]

    # ------------------------------------------------------------------------------------------- persistence
    def _packed(self) -> np.ndarray:
        """All packed codes (ntotal, nbytes) in id order."""
        if self._mmap is not None:
            return np.asarray(self._mmap)
        if self.ntotal == 0:
            return np.empty((0, self.nbytes), dtype=np.uint8)
        parts = []
        for sub in self._subs:
            if self.backend == "flat":
                parts.append(_storage_codes(sub))
            elif self.backend == "ivf":
                parts.append(_ivf_codes(sub))
            else:
                parts.append(_storage_codes(sub.storage))
        return np.concatenate(parts)

    def save(self, path: str | os.PathLike) -> None:
        """Write the index atomically as an ``.npz``: format tag, bits, backend, options, shards and either the
        packed codes (``flat``) or each shard's faiss serialization (others), with a SHA-256 of the payload."""
        target = _check_save_target(path)
        meta = {
            "format": np.array(_FORMAT),
            "bits": np.array(self.bits, dtype=np.int64),
            "backend": np.array(self.backend),
            "options": np.array(json.dumps(self.options, sort_keys=True)),
            "shards": np.array(self.shards if self._mmap is None else 1, dtype=np.int64),
            "ntotal": np.array(self.ntotal, dtype=np.int64),
        }
        if self.backend == "flat":
            payload = {"packed": self._packed()}
        elif self._index is None:
            payload = {}
        else:
            payload = {f"faiss_{i}": faiss.serialize_index_binary(sub) for i, sub in enumerate(self._subs)}
        digest = hashlib.sha256(
            b"".join(np.ascontiguousarray(v).tobytes() for v in payload.values())
        ).hexdigest()
        with atomic_write(target) as tmp, open(tmp, "wb") as fh:
            np.savez(fh, **meta, **payload, sha256=np.array(digest))

    @classmethod
    def load(cls, path: str | os.PathLike) -> HammingIndex:
        """Read an index written by :meth:`save`; raises ``FileNotFoundError`` or :class:`IndexFileError`."""
        path = os.fspath(path)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"no HammingIndex file at {path}")
        try:
            data = np.load(path, allow_pickle=False)
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
            raise IndexFileError(f"{path} is corrupt or not a HammingIndex file: {exc}") from exc
        if not isinstance(data, np.lib.npyio.NpzFile):
            raise IndexFileError(
                f"{path} holds a single array ({data.dtype} {data.shape}), not a HammingIndex .npz"
            )
        try:
            with data:
                parts = {name: data[name] for name in data.files}
        except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile) as exc:
            raise IndexFileError(f"{path} is corrupt or not a HammingIndex file: {exc}") from exc
        return cls._from_parts(path, parts)

    @classmethod
    def _from_parts(cls, path: str, parts: dict[str, np.ndarray]) -> HammingIndex:
        missing = {"format", "bits", "sha256"} - set(parts)
        if missing:
            raise IndexFileError(f"{path} is not a HammingIndex file (missing {sorted(missing)})")
        fmt = str(parts["format"])
        if fmt == _FORMAT_V1:
            parts = {**parts, "backend": np.array("flat"), "options": np.array("{}"), "shards": np.array(1)}
        elif fmt != _FORMAT:
            raise IndexFileError(f"{path} has format {fmt!r}, expected {_FORMAT!r}")
        missing = {"backend", "options", "shards"} - set(parts)
        if missing:
            raise IndexFileError(f"{path} is not a HammingIndex file (missing {sorted(missing)})")
        try:
            bits, backend, shards = int(parts["bits"]), str(parts["backend"]), int(parts["shards"])
            options = json.loads(str(parts["options"]))
            index = cls(bits, backend, shards=shards, **options)
        except (ValueError, TypeError) as exc:
            raise IndexFileError(f"{path}: inconsistent header: {exc}") from exc
        payload_names = (
            ["packed"] if backend == "flat" else sorted(p for p in parts if p.startswith("faiss_"))
        )
        if backend == "flat" and "packed" not in parts:
            raise IndexFileError(f"{path} is not a HammingIndex file (missing ['packed'])")
        payload = [parts[p] for p in payload_names]
        digest = hashlib.sha256(b"".join(np.ascontiguousarray(v).tobytes() for v in payload)).hexdigest()
        if digest != str(parts["sha256"]):
            raise IndexFileError(f"{path}: checksum mismatch, the stored index is corrupt")
        if backend == "flat":
            packed = payload[0]
            if packed.dtype != np.uint8 or packed.ndim != 2 or packed.shape[1] != index.nbytes:
                raise IndexFileError(
                    f"{path}: packed codes {packed.dtype} {packed.shape} do not match bits={bits}"
                )
            pad = index.d - bits
            if pad and len(packed) and (packed[:, -1] & np.uint8((1 << pad) - 1)).any():
                raise IndexFileError(
                    f"{path}: padding bits are set; the file was not written by HammingIndex.save"
                )
            if len(packed) and shards > 1:
                index.add(unpack_codes(packed, bits))
            elif len(packed):
                index._index.add(np.ascontiguousarray(packed))
            return index
        if not payload:
            return index  # an ivf index saved before its first add
        if len(payload) != shards:
            raise IndexFileError(f"{path}: {len(payload)} faiss parts for shards={shards}")
        subs = []
        for name, blob in zip(payload_names, payload, strict=True):
            try:
                sub = faiss.deserialize_index_binary(np.ascontiguousarray(blob, dtype=np.uint8))
            except RuntimeError as exc:
                raise IndexFileError(f"{path}: part {name} is not a faiss binary index: {exc}") from exc
            if not isinstance(sub, _FAISS_TYPE[backend]) or int(sub.d) != index.d:
                raise IndexFileError(
                    f"{path}: part {name} is a {type(sub).__name__} of d={sub.d}, expected "
                    f"{_FAISS_TYPE[backend].__name__} of d={index.d}"
                )
            index._apply_search_params(sub)
            subs.append(sub)
        index._index = index._build(subs)
        if "ntotal" in parts and int(parts["ntotal"]) != index.ntotal:
            raise IndexFileError(
                f"{path}: header says {int(parts['ntotal'])} codes, the index holds {index.ntotal}"
            )
        return index


def _stats_ndis(backend: str, reset: bool) -> float:
    """faiss's global count of distance computations for the backend's search (reset or read)."""
    stats = {
        "mih": faiss.cvar.indexBinaryHash_stats,
        "ivf": faiss.cvar.indexIVF_stats,
        "hnsw": faiss.cvar.hnsw_stats,
    }.get(backend)
    if stats is None:
        return float("nan")
    if reset:
        stats.reset()
        return 0.0
    return float(stats.ndis)


def benchmark_backends(
    db_codes: Any,
    query_codes: Any,
    k: int = 100,
    configs: dict[str, dict[str, Any]] | None = None,
    *,
    packed: bool = False,
    bits: int | None = None,
) -> list[dict[str, Any]]:
    """Build each backend on ``db_codes``, search ``query_codes`` for the top ``k``, and compare with ``flat``.

    ``configs`` maps a label to ``{"backend": name, **options}`` (default: each backend with its defaults).
    Returns one dict per config: ``label``, ``backend``, ``options``, ``build_s``, ``search_s`` (all queries,
    faiss's current thread count), ``ms_per_query``, ``recall`` (:func:`recall_at_k` against flat),
    ``ndis_per_query`` (distance computations per query, from faiss's statistics; N for flat) and
    ``speedup`` (flat's search time over this one's); one warm-up query precedes each timed search.
    ``packed=True`` takes ``np.uint8`` packed codes and needs
    ``bits``.
    """
    import time

    if packed and bits is None:
        raise ValueError("bits is required with packed=True")
    bits = int(bits) if packed else check_codes(db_codes, "db_codes").shape[1]
    configs = configs if configs is not None else {b: {"backend": b} for b in BACKENDS}
    flat = HammingIndex(bits)
    t0 = time.perf_counter()
    flat.add(db_codes, packed=packed)
    flat_build = time.perf_counter() - t0
    check_positive_int(k, "k")
    flat.search(query_codes[:1], k, packed=packed)  # warm-up: first-call allocations are not search time
    t0 = time.perf_counter()
    exact_d, _ = flat.search(query_codes, k, packed=packed)
    flat_search = time.perf_counter() - t0
    nq = len(exact_d)
    rows = []
    for label, cfg in configs.items():
        cfg = dict(cfg)
        backend = cfg.pop("backend", label)
        if backend == "flat" and not cfg:
            index, build_s, search_s, dist = flat, flat_build, flat_search, exact_d
            ndis = float(flat.ntotal)
        else:
            index = HammingIndex(bits, backend, **cfg)
            t0 = time.perf_counter()
            index.add(db_codes, packed=packed)
            build_s = time.perf_counter() - t0
            index.search(query_codes[:1], k, packed=packed)  # warm-up
            _stats_ndis(backend, reset=True)
            t0 = time.perf_counter()
            dist, _ = index.search(query_codes, k, packed=packed)
            search_s = time.perf_counter() - t0
            ndis = float(index.ntotal) if backend == "flat" else _stats_ndis(backend, reset=False) / nq
        rows.append(
            {
                "label": label,
                "backend": backend,
                "options": {**index.options, **({"shards": index.shards} if index.shards > 1 else {})},
                "build_s": build_s,
                "search_s": search_s,
                "ms_per_query": 1000.0 * search_s / nq,
                "recall": recall_at_k(dist, exact_d),
                "ndis_per_query": ndis,
                "speedup": flat_search / search_s if search_s > 0 else float("inf"),
            }
        )
        del index
    return rows
