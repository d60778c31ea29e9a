"""``digits``: scikit-learn's bundled 8×8 digits (1797 images, 10 classes), so quickstart and CI need no download.

The 0..16 grey levels are scaled to uint8 0..255 (``round(v * 255 / 16)``), images (N, 8, 8, 1). Split: stratified
60/20/20 train/val/test with ``sklearn.model_selection.train_test_split``, seed 0 (fixed): 1079/359/359 images.
"""

from __future__ import annotations

import numpy as np

from hashlab.data.bundle import DatasetBundle, Split
from hashlab.data.splits import stratified_three_way

DIGITS_SEED = 0
DIGITS_FRACTIONS = (0.6, 0.2, 0.2)
DIGITS_SIZE = 8


def load_digits() -> DatasetBundle:
    """The digits bundle with its fixed split (source indices in ``meta["indices"]``)."""
    from sklearn.datasets import load_digits as sk_load_digits

    raw = sk_load_digits()
    images = np.rint(raw.images * (255.0 / 16.0)).astype(np.uint8)[..., None]
    labels = raw.target.astype(np.int64)
    tr, va, te = stratified_three_way(labels, DIGITS_FRACTIONS, DIGITS_SEED)
    return DatasetBundle(
        name="digits",
        train=Split(images[tr], labels[tr]),
        val=Split(images[va], labels[va]),
        test=Split(images[te], labels[te]),
        class_names=[str(i) for i in range(10)],
        multilabel=False,
        meta={
            "source": "sklearn.datasets.load_digits",
            "size": DIGITS_SIZE,
            "scaling": "uint8 = round(value * 255 / 16) from 0..16",
            "split": f"stratified {DIGITS_FRACTIONS} train/val/test, train_test_split seed {DIGITS_SEED}",
            "indices": {"train": tr, "val": va, "test": te},
        },
    )
