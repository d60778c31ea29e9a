"""Exact Hamming search over ±1 codes: packed bits in a faiss ``IndexBinaryFlat``, ties broken by id.

faiss binary indexes need a dimension that is a multiple of 8, so codes of ``bits`` bits are packed into
``ceil(bits/8)`` bytes with zero padding (identical for every code, so distances are unchanged). faiss returns
exact distances but does not promise which of several tied items it keeps at the k-th place, so
:meth:`HammingIndex.search` fetches extra candidates (or the whole tie group by range search) and re-sorts by
(distance, id): the result equals a brute-force stable ranking exactly.
"""

from __future__ import annotations

import hashlib
import os
import zipfile
from typing import Any

import faiss
import numpy as np

from hashlab.codes import check_codes, pack_codes, unpack_codes
from hashlab.config import atomic_write

__all__ = ["HammingIndex", "IndexFileError"]

_FORMAT = "hashlab.HammingIndex/1"


class IndexFileError(ValueError):
    """A saved index file is unreadable, truncated or inconsistent."""


def _sort_by_dist_id(dist: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Permutation ordering one row's candidates by (distance, id)."""
    return np.lexsort((ids, dist))


class HammingIndex:
    """Exact Hamming-distance index over ±1 codes of ``bits`` bits (faiss ``IndexBinaryFlat``).

    >>> index = HammingIndex(12); index.add(db_codes)          # doctest: +SKIP
    >>> dist, ids = index.search(query_codes, k=10)             # doctest: +SKIP
    """

    def __init__(self, bits: int) -> None:
        if isinstance(bits, bool) or not isinstance(bits, (int, np.integer)) or bits <= 0:
            raise ValueError(f"bits must be a positive int, got {bits!r}")
        self.bits = int(bits)
        self.nbytes = (self.bits + 7) // 8
        self._index = faiss.IndexBinaryFlat(self.nbytes * 8)

    # ----------------------------------------------------------------------------------------------------------
    @property
    def ntotal(self) -> int:
        """Number of codes in the index (ids are 0..ntotal-1 in insertion order)."""
        return int(self._index.ntotal)

    def __len__(self) -> int:
        return self.ntotal

    def __repr__(self) -> str:
        return f"HammingIndex(bits={self.bits}, ntotal={self.ntotal})"

    def _pack(self, codes: Any, name: str) -> np.ndarray:
        arr = check_codes(codes, name, bits=self.bits)
        return np.ascontiguousarray(pack_codes(arr))

    def add(self, codes: Any) -> None:
        """Append ±1 codes (N, bits); they get ids ntotal, ntotal+1, ..."""
        self._index.add(self._pack(codes, "codes"))

    def codes(self) -> np.ndarray:
        """All stored codes as ±1 ``np.int8`` (ntotal, bits), in id order."""
        return unpack_codes(self._packed(), self.bits)

    # ----------------------------------------------------------------------------------------------------------
    def search(self, query_codes: Any, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The k nearest codes per query: ``(distances int32 (Nq, k), ids int64 (Nq, k))`` by (distance, id)."""
        q = self._pack(query_codes, "query_codes")
        n = self.ntotal
        if n == 0:
            raise ValueError("the index is empty: add codes before searching")
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k <= 0:
            raise ValueError(f"k must be a positive int, got {k!r}")
        if k > n:
            raise ValueError(f"k={k} is larger than the index ({n} codes)")
        k = int(k)
        # Extra candidates: if the last one is farther than the k-th, every item tied with the k-th is among them.
        k2 = min(n, 2 * k + 16)
        dist2, ids2 = self._index.search(q, k2)
        out_d = np.empty((len(q), k), dtype=np.int32)
        out_i = np.empty((len(q), k), dtype=np.int64)
        # Rows are sorted by distance; re-sort each row by (distance, id).
        order = np.lexsort((ids2, dist2), axis=1)
        dist2 = np.take_along_axis(dist2, order, axis=1)
        ids2 = np.take_along_axis(ids2, order, axis=1)
        kth = dist2[:, k - 1]
        unresolved = (dist2[:, -1] == kth) & (k2 < n)
        out_d[:] = dist2[:, :k]
        out_i[:] = ids2[:, :k]
        rows = np.flatnonzero(unresolved)
        if len(rows):
            # The tie group at the k-th place may extend past the candidates: fetch all items with d <= kth.
            for row, ids, dist in zip(rows, *self._range(q[rows], kth[rows]), strict=True):
                o = _sort_by_dist_id(dist, ids)[:k]
                out_d[row], out_i[row] = dist[o], ids[o]
        return out_d, out_i

    def _range(self, q: np.ndarray, radius: np.ndarray | int) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Ids and distances of items with ``d <= radius`` (per query), unsorted. faiss's bound is strict."""
        radii = np.broadcast_to(np.asarray(radius, dtype=np.int64), (len(q),))
        ids_out: list[np.ndarray] = []
        dist_out: list[np.ndarray] = []
        for r in np.unique(radii):
            sel = np.flatnonzero(radii == r)
            lims, dist, ids = self._index.range_search(np.ascontiguousarray(q[sel]), int(r) + 1)
            for j in range(len(sel)):
                ids_out.append((int(sel[j]), ids[lims[j] : lims[j + 1]].astype(np.int64)))
                dist_out.append((int(sel[j]), dist[lims[j] : lims[j + 1]].astype(np.int32)))
        ids_sorted = [a for _, a in sorted(ids_out, key=lambda t: t[0])]
        dist_sorted = [a for _, a in sorted(dist_out, key=lambda t: t[0])]
        return ids_sorted, dist_sorted

    def range_search(
        self, query_codes: Any, radius: int, return_distances: bool = False
    ) -> list[np.ndarray] | tuple[list[np.ndarray], list[np.ndarray]]:
        """Ids within Hamming distance ``<= radius`` of each query, each array sorted by (distance, id).

        With ``return_distances=True`` returns ``(ids, distances)``, two lists of per-query arrays.
        """
        q = self._pack(query_codes, "query_codes")
        if isinstance(radius, bool) or not isinstance(radius, (int, np.integer)) or radius < 0:
            raise ValueError(f"radius must be an int >= 0, got {radius!r}")
        if self.ntotal == 0:
            raise ValueError("the index is empty: add codes before searching")
        ids, dists = self._range(q, int(radius))
        orders = [_sort_by_dist_id(d, i) for d, i in zip(dists, ids, strict=True)]
        ids = [i[o] for i, o in zip(ids, orders, strict=True)]
        if return_distances:
            return ids, [d[o] for d, o in zip(dists, orders, strict=True)]
        return ids

    # ----------------------------------------------------------------------------------------------------------
    def _packed(self) -> np.ndarray:
        if self.ntotal == 0:
            return np.empty((0, self.nbytes), dtype=np.uint8)
        flat = faiss.rev_swig_ptr(self._index.xb.data(), self.ntotal * self.nbytes)
        return np.array(flat, dtype=np.uint8).reshape(self.ntotal, self.nbytes)

    def save(self, path: str | os.PathLike) -> None:
        """Write the index atomically as an ``.npz`` (format tag, bits, packed codes, SHA-256 of the codes)."""
        packed = self._packed()
        digest = hashlib.sha256(packed.tobytes()).hexdigest()
        with atomic_write(path) as tmp, open(tmp, "wb") as fh:
            np.savez(
                fh,
                format=np.array(_FORMAT),
                bits=np.array(self.bits, dtype=np.int64),
                packed=packed,
                sha256=np.array(digest),
            )

    @classmethod
    def load(cls, path: str | os.PathLike) -> HammingIndex:
        """Read an index written by :meth:`save`; raises ``FileNotFoundError`` or :class:`IndexFileError`."""
        path = os.fspath(path)
        if not os.path.exists(path):
            raise FileNotFoundError(f"no HammingIndex file at {path}")
        try:
            with np.load(path, allow_pickle=False) as data:
                missing = {"format", "bits", "packed", "sha256"} - set(data.files)
                if missing:
                    raise IndexFileError(f"{path} is not a HammingIndex file (missing {sorted(missing)})")
                fmt, bits = str(data["format"]), int(data["bits"])
                packed, digest = data["packed"], str(data["sha256"])
        except IndexFileError:
            raise
        except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile) as exc:
            raise IndexFileError(f"{path} is corrupt or not a HammingIndex file: {exc}") from exc
        if fmt != _FORMAT:
            raise IndexFileError(f"{path} has format {fmt!r}, expected {_FORMAT!r}")
        if bits <= 0 or packed.dtype != np.uint8 or packed.ndim != 2 or packed.shape[1] != (bits + 7) // 8:
            raise IndexFileError(
                f"{path}: packed codes {packed.dtype} {packed.shape} do not match bits={bits}"
            )
        if hashlib.sha256(packed.tobytes()).hexdigest() != digest:
            raise IndexFileError(f"{path}: checksum mismatch, the stored codes are corrupt")
        pad = packed.shape[1] * 8 - bits
        if pad and len(packed) and (packed[:, -1] & np.uint8((1 << pad) - 1)).any():
            raise IndexFileError(
                f"{path}: padding bits are set; the file was not written by HammingIndex.save"
            )
        index = cls(bits)
        if len(packed):
            index._index.add(np.ascontiguousarray(packed))
        return index
