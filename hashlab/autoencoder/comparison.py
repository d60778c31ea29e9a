"""Every autoencoder variant and training-free baseline at every code length under one retrieval protocol."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hashlab.autoencoder.images import flatten_images
from hashlab.autoencoder.model import ConvAutoencoderHasher
from hashlab.autoencoder.training import train_autoencoder
from hashlab.checks import check_positive_int

__all__ = ["AE_METHODS", "METHOD_LABELS", "ComparisonResult", "code_statistics", "compare_methods"]

AE_METHODS: dict[str, dict[str, Any]] = {
    "ae_latent": {"decoder_input": "latent", "hash_norm": False},
    "ae_latent_bn": {"decoder_input": "latent", "hash_norm": True},
    "ae_code": {"decoder_input": "code", "hash_norm": True},
}
METHOD_LABELS = {
    "ae_latent": "AE, decoder reads z (as in the paper)",
    "ae_latent_bn": "AE, decoder reads z, BN hash layer",
    "ae_code": "AE, decoder reads code, BN hash layer (hashlab)",
    "lsh": "LSH (random hyperplanes)",
    "pca_sign": "PCA-sign",
    "itq": "ITQ",
    "float_knn": "exact float KNN on pixels (ceiling)",
}


@dataclass
class ComparisonResult:
    """What :func:`compare_methods` returns: the table, trained models and codes per (method, bits)."""

    table: Any  # pandas.DataFrame, one row per (method, bits)
    models: dict[tuple[str, int], ConvAutoencoderHasher] = field(default_factory=dict)
    codes: dict[tuple[str, int], dict[str, np.ndarray]] = field(default_factory=dict)
    labels: dict[str, np.ndarray] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)


def compare_methods(
    bundle: Any,
    bits_list: Sequence[int] = (16, 32, 64),
    lam: float = 0.1,
    epochs: int = 20,
    seed: int = 0,
    k: int = 100,
    methods: Sequence[str] = ("ae_latent", "ae_latent_bn", "ae_code", "lsh", "pca_sign", "itq"),
    progress: bool = True,
    ae_kwargs: dict[str, Any] | None = None,
) -> ComparisonResult:
    """Every method at every code length under one protocol: database = train, queries = test.

    Autoencoders (:data:`AE_METHODS`) train on the training images (no labels); the baselines fit on the flattened
    training pixels.
    Metrics (``hashing_report``): mAP over the full Hamming ranking, P@k, ms per query for a top-k search. The
    exact float KNN ceiling (Euclidean on pixels) is one extra row with ``bits = NaN``.
    """
    import pandas as pd
    from tqdm.auto import tqdm

    from hashlab.baselines import float_knn_report, get_baseline, hashing_report

    unknown = sorted(set(methods) - set(METHOD_LABELS) - {"float_knn"})
    if unknown:
        raise KeyError(f"unknown method(s) {unknown}; available: {sorted(METHOD_LABELS)}")
    bits_list = [check_positive_int(b, "bits") for b in bits_list]
    train, test = bundle.train, bundle.test
    y_db, y_q = np.asarray(train.labels), np.asarray(test.labels)
    X_db, X_q = flatten_images(train.images), flatten_images(test.images)
    result = ComparisonResult(table=None, labels={"database": y_db, "queries": y_q})
    rows: list[dict[str, Any]] = []
    grid = [(bits, method) for bits in bits_list for method in methods]
    # one bar over the grid (a per-epoch bar per model floods a notebook's output channel)
    for bits, method in tqdm(grid, desc="methods x bits", disable=not progress):
        t0 = time.perf_counter()
        if method in AE_METHODS:
            model = train_autoencoder(
                train.images,
                bits=bits,
                **AE_METHODS[method],
                lam=lam,
                epochs=epochs,
                seed=seed,
                progress=False,
                **(ae_kwargs or {}),
            )
            result.models[(method, bits)] = model
            encode: Callable[[Any], np.ndarray] = model.encode
            db_in, q_in = train.images, test.images
        else:
            hasher = get_baseline(method, bits, seed=seed).fit(X_db)
            encode, db_in, q_in = hasher.encode, X_db, X_q
        fit_s = time.perf_counter() - t0
        db_codes, q_codes = encode(db_in), encode(q_in)
        result.codes[(method, bits)] = {"database": db_codes, "queries": q_codes}
        report = hashing_report(q_codes, db_codes, y_q, y_db, k=k)
        rows.append({"method": method, "bits": bits, **report, "fit_s": fit_s})
    report = float_knn_report(X_q, X_db, y_q, y_db, k=k)
    rows.append({"method": "float_knn", "bits": None, **report, "fit_s": 0.0})
    table = pd.DataFrame(rows)
    table["bits"] = table["bits"].astype("Int64")  # <NA> for the float ceiling
    table.insert(1, "label", table["method"].map(METHOD_LABELS))
    result.table = table
    n_classes = len(np.unique(y_db))
    result.meta = {
        "dataset": getattr(bundle, "name", "?"),
        "n_database": len(y_db),
        "n_queries": len(y_q),
        "chance_map": float(np.mean([np.mean(y_db == c) for c in y_q])) if n_classes else float("nan"),
        "lam": lam,
        "epochs": epochs,
        "seed": seed,
        "k": k,
    }
    return result


def code_statistics(result: ComparisonResult, bits: int) -> Any:
    """Per method at ``bits``: distinct database codes and the mean |bit balance| (0 = each bit half +1, 1 = a
    constant bit). A collapsed hash layer shows one distinct code and balance 1."""
    import pandas as pd

    rows = []
    for (method, b), codes in result.codes.items():
        if b != bits:
            continue
        db = codes["database"]
        rows.append(
            {
                "method": method,
                "label": METHOD_LABELS.get(method, method),
                "distinct codes": len(np.unique(db, axis=0)),
                "of N": len(db),
                "mean |bit balance|": float(np.abs(db.mean(axis=0)).mean()),
            }
        )
    return pd.DataFrame(rows)
