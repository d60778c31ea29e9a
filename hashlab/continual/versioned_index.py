"""A versioned Hamming index: the live index keeps serving while an update is staged, then swaps atomically.

Crawford & Ahuja (undated preprint, §3: dual-index serving and staged re-hashing) describe a primary index that
serves queries while a shadow copy receives re-hashed codes and is promoted after checks. :class:`VersionedIndex` keeps the stored codes (``np.int8`` ±1) and item ids of the
live version next to a :class:`hashlab.index.HammingIndex` built from them. :meth:`VersionedIndex.update` stages a
new version - new items appended, selected items re-encoded by the updated model, and only the items whose code
actually changed rewritten - then replaces the live version in one assignment. Any exception while staging
(a failing encoder, a bit-length mismatch) leaves the live version untouched.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hashlab.codes import check_codes
from hashlab.config import atomic_write

__all__ = ["SwapReport", "VersionedIndex", "check_model_bits"]

Encoder = Callable[[np.ndarray], np.ndarray]


def check_model_bits(model, bits: int, what: str = "the live index") -> None:
    """Raise ``ValueError`` when a model (or checkpoint) produces codes of a different length than ``bits``."""
    model_bits = int(getattr(model, "bits", -1))
    if model_bits != int(bits):
        raise ValueError(
            f"model produces {model_bits}-bit codes but {what} stores {bits}-bit codes; "
            "use a checkpoint of the same bit length (or a code-extension update)"
        )


def _positions(all_ids: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Row positions of ``ids`` in ``all_ids`` (``KeyError`` naming the ids that are missing)."""
    ids = np.asarray(ids, dtype=np.int64)
    order = np.argsort(all_ids, kind="stable")
    sorted_ids = all_ids[order]
    p = np.clip(np.searchsorted(sorted_ids, ids), 0, max(len(sorted_ids) - 1, 0))
    found = sorted_ids[p] == ids if len(sorted_ids) else np.zeros(len(ids), dtype=bool)
    if not found.all():
        raise KeyError(f"item ids not in the index: {ids[~found][:10].tolist()}")
    return order[p]


@dataclass(frozen=True)
class SwapReport:
    """What one update did: version numbers, items added / encoded / rewritten, bit flips, staging time."""

    old_version: int
    new_version: int
    n_added: int
    n_encoded: int
    n_rewritten: int
    mean_bit_flips: float
    bits: int
    seconds: float


class VersionedIndex:
    """Live Hamming index over item ids with atomic, versioned updates."""

    def __init__(self, bits: int):
        from hashlab.heads import check_bits

        self._bits = check_bits(bits)
        self._codes = np.empty((0, self._bits), dtype=np.int8)
        self._ids = np.empty(0, dtype=np.int64)
        self._index = self._build(self._codes, self._bits)
        self.version = 0
        self.history: list[SwapReport] = []

    @staticmethod
    def _build(codes: np.ndarray, bits: int):
        from hashlab.index import HammingIndex

        index = HammingIndex(bits)
        if len(codes):
            index.add(codes)
        return index

    # ------------------------------------------------------------------------------------------- read side
    @property
    def bits(self) -> int:
        return self._bits

    @property
    def ntotal(self) -> int:
        return int(len(self._ids))

    @property
    def codes(self) -> np.ndarray:
        """A read-only view of the stored codes of the live version (rows follow :attr:`ids`)."""
        view = self._codes.view()
        view.flags.writeable = False
        return view

    @property
    def ids(self) -> np.ndarray:
        view = self._ids.view()
        view.flags.writeable = False
        return view

    def codes_for(self, ids: np.ndarray) -> np.ndarray:
        """Stored codes of the given item ids (``KeyError`` naming ids that are not indexed)."""
        return self._codes[_positions(self._ids, ids)]

    def search(self, query_codes: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` (Hamming distance, item id) from the live version."""
        index, ids = self._index, self._ids  # one consistent snapshot even if a swap happens meanwhile
        dist, pos = index.search(check_codes(query_codes, "query codes"), k)
        return dist, np.where(pos >= 0, ids[np.clip(pos, 0, None)], -1)

    # ------------------------------------------------------------------------------------------- write side
    def update(
        self,
        add_ids: np.ndarray | None = None,
        add_codes: np.ndarray | None = None,
        encoder: Encoder | None = None,
        features: np.ndarray | None = None,
        reencode_ids: np.ndarray | None = None,
        batch_size: int = 1024,
    ) -> SwapReport:
        """Stage and swap in a new version.

        * ``add_ids``/``add_codes``: new items (ids must be new).
        * ``encoder`` + ``features`` (+ ``reencode_ids``, default all stored ids): re-encode those stored items in
          batches (``features`` rows follow ``reencode_ids``); only codes that differ are rewritten. An encoder with
          a longer output (code extension) rewrites every item and rebuilds the index at the new bit length.
        """
        start = time.perf_counter()
        codes, ids, bits = self._codes.copy(), self._ids.copy(), self._bits
        n_encoded = n_rewritten = 0
        flips = 0.0
        if encoder is not None:
            if features is None:
                raise ValueError("re-encoding needs the features of the items to re-encode")
            target = self._ids if reencode_ids is None else np.asarray(reencode_ids, dtype=np.int64)
            features = np.asarray(features)
            if len(features) != len(target):
                raise ValueError(f"{len(features)} feature rows for {len(target)} items to re-encode")
            pos = _positions(ids, target)
            fresh = [
                check_codes(encoder(features[i : i + batch_size]), "re-encoded codes")
                for i in range(0, len(target), batch_size)
            ]
            fresh_codes = np.concatenate(fresh) if fresh else np.empty((0, bits), np.int8)
            n_encoded = len(target)
            new_bits = fresh_codes.shape[1] if len(fresh_codes) else bits
            if new_bits < bits:
                raise ValueError(f"encoder gives {new_bits}-bit codes, shorter than the stored {bits} bits")
            if new_bits > bits:  # code extension: every stored item needs the extra bits
                if len(target) != len(ids):
                    raise ValueError("a code extension must re-encode every stored item")
                flips = float((codes[pos] != fresh_codes[:, :bits]).sum(1).mean()) if len(pos) else 0.0
                extended = np.empty((len(codes), new_bits), dtype=np.int8)
                extended[pos] = fresh_codes
                codes, bits = extended, new_bits
                n_rewritten = len(pos)
            else:
                diff = (codes[pos] != fresh_codes).sum(1)
                changed = diff > 0
                codes[pos[changed]] = fresh_codes[changed]
                n_rewritten = int(changed.sum())
                flips = float(diff.mean()) if len(diff) else 0.0
        n_added = 0
        if add_ids is not None or add_codes is not None:
            if add_ids is None or add_codes is None:
                raise ValueError("adding items needs both add_ids and add_codes")
            add_ids = np.asarray(add_ids, dtype=np.int64)
            add_codes = check_codes(add_codes, "new codes") if len(add_ids) else np.empty((0, bits), np.int8)
            if len(add_ids) != len(add_codes):
                raise ValueError(f"{len(add_ids)} new ids but {len(add_codes)} new codes")
            if add_codes.shape[1] != bits:
                raise ValueError(
                    f"new codes have {add_codes.shape[1]} bits but the index stores {bits}-bit codes"
                )
            dup = np.intersect1d(add_ids, ids)
            if len(dup) or len(np.unique(add_ids)) != len(add_ids):
                raise ValueError(f"item ids already indexed or repeated: {dup[:10].tolist()}")
            codes = np.concatenate([codes, add_codes])
            ids = np.concatenate([ids, add_ids])
            n_added = len(add_ids)
        index = self._build(codes, bits)
        report = SwapReport(
            self.version,
            self.version + 1,
            n_added,
            n_encoded,
            n_rewritten,
            flips,
            bits,
            time.perf_counter() - start,
        )
        # the swap: one tuple assignment of fully built objects
        self._index, self._codes, self._ids, self._bits, self.version = (
            index,
            codes,
            ids,
            bits,
            self.version + 1,
        )
        self.history.append(report)
        return report

    # ------------------------------------------------------------------------------------------- persistence
    def save(self, path: str | Path) -> Path:
        """Write ids, codes, bits and version to one ``.npz`` file atomically."""
        path = Path(path)
        with atomic_write(path, suffix=".npz") as tmp:
            np.savez(tmp, ids=self._ids, codes=self._codes, bits=self._bits, version=self.version)
        return path

    @classmethod
    def load(cls, path: str | Path) -> VersionedIndex:
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"no versioned index at {path}")
        try:
            with np.load(path) as data:
                ids, codes, bits, version = (
                    data["ids"],
                    data["codes"],
                    int(data["bits"]),
                    int(data["version"]),
                )
        except Exception as err:
            raise ValueError(f"{path} is not a readable versioned index: {err}") from err
        if codes.ndim != 2 or codes.shape[1] != bits or len(codes) != len(ids):
            raise ValueError(f"{path} is inconsistent: codes {codes.shape}, {len(ids)} ids, {bits} bits")
        out = cls(bits)
        if len(ids):
            out._codes, out._ids = check_codes(codes, "stored codes"), ids.astype(np.int64)
            out._index = cls._build(out._codes, bits)
        out.version = version
        return out
