"""Notebook 02's study: the autoencoder paper's printed result tables (claims, not measurements), checked on read,
beside ours, and the dataset helpers its MedMNIST section uses (:func:`find_medmnist`, :func:`subsample_bundle`).

The paper: Alsoufi, "Deep Feature Embedding for Content-Based Image Retrieval Using Autoencoders and Semantic
Hashing". Its tables are copied exactly into ``hashlab/data_files/autoencoder_paper_claims.json``; protocol,
database size and hardware are unstated there, so a row of ours is a measurement beside a claim, not a
reproduction.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from hashlab.checks import check_positive_int

__all__ = [
    "CLAIMS_PATH",
    "claims_vs_measured",
    "find_medmnist",
    "load_autoencoder_claims",
    "subsample_bundle",
]

CLAIMS_PATH = Path(__file__).resolve().parent.parent / "data_files" / "autoencoder_paper_claims.json"


def load_autoencoder_claims(path: str | Path | None = None) -> dict[str, Any]:
    """The paper's printed result tables as pandas DataFrames keyed by table name (``table_I``, ...).

    Reads :data:`CLAIMS_PATH` (or ``path``) and checks it: every table is a non-empty list of records, mAP /
    precision values lie in [0, 1], times are positive. Raises ``ValueError`` naming the bad entry.
    """
    import pandas as pd

    path = Path(path) if path is not None else CLAIMS_PATH
    if not path.exists():
        raise FileNotFoundError(f"autoencoder claims file not found: {path}")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path} is not valid JSON: {exc}") from exc
    tables = raw.get("tables") if isinstance(raw, dict) else None
    if not isinstance(tables, dict) or "table_I" not in tables:
        raise ValueError(f"{path} must hold an object with 'tables' containing at least 'table_I'")
    out: dict[str, Any] = {}
    for name, records in tables.items():
        if not isinstance(records, list) or not records or not all(isinstance(r, dict) for r in records):
            raise ValueError(f"{path}: table {name!r} must be a non-empty list of records")
        df = pd.DataFrame(records)
        for col in df.columns:
            if col.startswith(("map", "p@")) and not df[col].between(0, 1).all():
                raise ValueError(f"{path}: table {name!r} column {col!r} has values outside [0, 1]")
            if col.endswith(("_ms", "_s")) and not (df[col] > 0).all():
                raise ValueError(f"{path}: table {name!r} column {col!r} must be positive")
        out[name] = df
    return out


def claims_vs_measured(table: Any, meta: dict[str, Any], method: str = "ae_latent") -> Any:
    """The paper's Table I (labelled ``claim``) stacked over our measurements of ``method`` (``measured here``)."""
    import pandas as pd

    from hashlab.autoencoder.comparison import METHOD_LABELS

    claims = load_autoencoder_claims()["table_I"].copy()
    claims.insert(0, "source", "claim (Alsoufi, Table I)")
    ours = table[table["method"] == method][["bits", "map", "p@100", "ms_per_query"]].copy()
    ours = ours.rename(columns={"ms_per_query": "rt_ms"})
    ours.insert(0, "dataset", meta.get("dataset", "?"))
    ours.insert(
        0, "source", f"measured here ({METHOD_LABELS.get(method, method)}, N_db={meta.get('n_database')})"
    )
    ours["bits"] = ours["bits"].astype(int)
    return pd.concat([claims, ours], ignore_index=True)


def find_medmnist(candidates: Sequence[str], root: str | Path | None = None, size: int = 28) -> str | None:
    """The first MedMNIST flag in ``candidates`` whose file is already in ``root`` (default
    ``data_dir()/medmnist``), or ``None``: notebooks use it to run a MedMNIST section only when no download is needed.
    """
    from hashlab.config import data_dir
    from hashlab.data import medmnist_file

    folder = Path(root) if root is not None else data_dir() / "medmnist"
    for flag in candidates:
        if (folder / medmnist_file(flag, size)).exists():
            return flag
    return None


def subsample_bundle(bundle: Any, n_train: int, n_test: int, seed: int = 0) -> Any:
    """A copy of ``bundle`` with at most ``n_train`` training and ``n_test`` test images (seeded, without
    replacement, sorted positions); val is kept. For CPU-sized runs on large MedMNIST sets."""
    from dataclasses import replace

    from hashlab.data import Split

    rng = np.random.default_rng(seed)

    def pick(split: Any, n: int) -> Any:
        n = check_positive_int(n, "sample size")
        if len(split) <= n:
            return split
        idx = np.sort(rng.choice(len(split), size=n, replace=False))
        return Split(split.images[idx], split.labels[idx])

    meta = {**bundle.meta, "subsample": {"n_train": n_train, "n_test": n_test, "seed": seed}}
    return replace(bundle, train=pick(bundle.train, n_train), test=pick(bundle.test, n_test), meta=meta)
