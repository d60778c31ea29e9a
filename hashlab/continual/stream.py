"""Task streams for continual hashing: class-incremental tasks and a drifting stream (same classes, shifted inputs).

A *class-incremental* stream splits the classes of an :class:`~hashlab.features.EmbeddingSet` into tasks (digits
0-4 / 5-7 / 8-9, PathMNIST 5 + 2 + 2): task ``t`` brings the training items (the database grows), the validation
items (model selection) and the test items (queries) of its classes. A *drift* stream keeps every class in every
window but shifts the inputs from a given window on, to exercise the drift detector (the drift-triggered update
cycle of Crawford & Ahuja, undated preprint, §3).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

__all__ = ["ClassIncrementalStream", "DriftWindow", "Task", "drift_stream", "shift_features"]

SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class Task:
    """One task of a class-incremental stream.

    ``ids[split]`` are positions in the *full* split of the underlying embedding set; the database id of a training
    item is its position in the full training split, so ids never collide across tasks.
    """

    index: int
    classes: tuple[int, ...]
    ids: dict[str, np.ndarray] = field(repr=False)
    features: dict[str, np.ndarray] = field(repr=False)
    labels: dict[str, np.ndarray] = field(repr=False)

    def size(self, split: str = "train") -> int:
        return int(len(self.ids[split]))


def _labels_1d(labels: np.ndarray, split: str) -> np.ndarray:
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise ValueError(
            f"class-incremental streams need single-label data; the {split} labels have shape {labels.shape}"
        )
    return labels.astype(np.int64)


class ClassIncrementalStream:
    """Tasks of disjoint classes over an embedding set (``EmbeddingSet`` with ``train``/``val``/``test`` splits).

    Raises ``ValueError`` for an empty task, a class that appears in two tasks ("already seen"), a class absent
    from the data, or a task without training, validation or test items.
    """

    def __init__(self, embeddings, tasks: Sequence[Sequence[int]], name: str | None = None):
        if len(tasks) == 0:
            raise ValueError("a stream needs at least one task")
        self.embeddings = embeddings
        self.name = name or f"{getattr(embeddings, 'dataset', 'data')} " + " / ".join(
            f"{min(t)}-{max(t)}" if len(t) else "{}" for t in tasks
        )
        labels = {s: _labels_1d(getattr(embeddings, s).labels, s) for s in SPLITS}
        present = set(np.unique(labels["train"]).tolist())
        seen: dict[int, int] = {}
        self.tasks: list[Task] = []
        for t, classes in enumerate(tasks):
            classes = tuple(int(c) for c in classes)
            if not classes:
                raise ValueError(f"task {t} is empty: it has no classes")
            if len(set(classes)) != len(classes):
                raise ValueError(f"task {t} lists a class twice: {list(classes)}")
            repeated = sorted(c for c in classes if c in seen)
            if repeated:
                where = ", ".join(f"class {c} in task {seen[c]}" for c in repeated)
                raise ValueError(f"task {t} has classes already seen in earlier tasks ({where})")
            missing = sorted(c for c in classes if c not in present)
            if missing:
                raise ValueError(
                    f"task {t}: classes {missing} have no training items (present: {sorted(present)})"
                )
            ids, feats, labs = {}, {}, {}
            for s in SPLITS:
                idx = np.flatnonzero(np.isin(labels[s], classes)).astype(np.int64)
                if len(idx) == 0:
                    raise ValueError(f"task {t} (classes {list(classes)}) is empty in the {s} split")
                ids[s] = idx
                feats[s] = np.asarray(getattr(embeddings, s).features)[idx]
                labs[s] = labels[s][idx]
            self.tasks.append(Task(t, classes, ids, feats, labs))
            seen.update({c: t for c in classes})

    def __len__(self) -> int:
        return len(self.tasks)

    def __getitem__(self, t: int) -> Task:
        return self.tasks[t]

    def __iter__(self):
        return iter(self.tasks)

    @property
    def n_classes(self) -> int:
        return int(max(max(t.classes) for t in self.tasks)) + 1

    @property
    def in_dim(self) -> int:
        return int(self.tasks[0].features["train"].shape[1])

    def accumulated(self, t: int, split: str = "train") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(ids, features, labels)`` of tasks ``0..t`` in ``split`` (what a full retrain at step ``t`` sees)."""
        parts = self.tasks[: t + 1]
        return (
            np.concatenate([p.ids[split] for p in parts]),
            np.concatenate([p.features[split] for p in parts]),
            np.concatenate([p.labels[split] for p in parts]),
        )

    def summary(self) -> list[dict]:
        """One row per task: classes and item counts (for a table in the notebook)."""
        return [
            {"task": t.index, "classes": list(t.classes), **{f"n_{s}": t.size(s) for s in SPLITS}}
            for t in self.tasks
        ]


def shift_features(
    x: np.ndarray,
    kind: str = "noise",
    strength: float = 1.0,
    seed: int = 0,
    reference: np.ndarray | None = None,
) -> np.ndarray:
    """Shift inputs to simulate domain drift for the drift detector (hashlab's choice: noise, inverted intensities, offset).

    ``noise``: add ``strength * std * N(0, 1)`` per feature; ``invert``: ``lo + hi - x`` per feature, blended by
    ``strength`` in [0, 1]; ``offset``: add ``strength * std`` to every feature. ``std``/``lo``/``hi`` come from
    ``reference`` (default ``x``) so that windows are shifted consistently.
    """
    x = np.asarray(x, dtype=np.float32)
    ref = np.asarray(reference if reference is not None else x, dtype=np.float32)
    std = ref.std(0) + 1e-6
    if kind == "noise":
        rng = np.random.default_rng(seed)
        return (x + strength * std * rng.standard_normal(x.shape)).astype(np.float32)
    if kind == "invert":
        if not 0.0 <= strength <= 1.0:
            raise ValueError(f"invert strength must be in [0, 1], got {strength}")
        inv = ref.min(0) + ref.max(0) - x
        return ((1 - strength) * x + strength * inv).astype(np.float32)
    if kind == "offset":
        return (x + strength * std).astype(np.float32)
    raise ValueError(f"unknown shift kind {kind!r}; use 'noise', 'invert' or 'offset'")


@dataclass(frozen=True)
class DriftWindow:
    """One window of a drift stream: features, labels, and whether the inputs were shifted."""

    index: int
    features: np.ndarray
    labels: np.ndarray
    shifted: bool


def drift_stream(
    features: np.ndarray,
    labels: np.ndarray,
    n_windows: int = 8,
    shift_at: int = 4,
    kind: str = "noise",
    strength: float = 1.0,
    seed: int = 0,
) -> list[DriftWindow]:
    """Split ``features`` into ``n_windows`` random equal windows of the same classes; shift windows ``>= shift_at``."""
    features = np.asarray(features, dtype=np.float32)
    labels = np.asarray(labels)
    if len(features) != len(labels):
        raise ValueError(f"features ({len(features)}) and labels ({len(labels)}) differ in length")
    if n_windows < 2 or len(features) < 2 * n_windows:
        raise ValueError(
            f"need n_windows >= 2 and at least 2 items per window; got {n_windows} windows "
            f"for {len(features)} items"
        )
    if not 0 <= shift_at <= n_windows:
        raise ValueError(f"shift_at must be in 0..{n_windows}, got {shift_at}")
    order = np.random.default_rng(seed).permutation(len(features))
    windows = []
    for w, idx in enumerate(np.array_split(order, n_windows)):
        x = features[idx]
        shifted = w >= shift_at
        if shifted:
            x = shift_features(x, kind, strength, seed=seed + w, reference=features)
        windows.append(DriftWindow(w, x, labels[idx], shifted))
    return windows
