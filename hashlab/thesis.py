"""The published numbers (Tables 3-6) and figure list of Mao's thesis (2024), read from
``data_files/thesis_results.json``.

Source: P. Mao, "Exploring and Evaluating Deep Hashing Methods within Vision Foundation Model Feature Spaces for
Similarity Search and Privacy Preservation", B.Sc. thesis, University of Bamberg, 2024. Values are copied exactly as
printed: Table 3 as a fraction, Tables 4-6 in percent. Every row carries its table number, the figure that plots it
(when one does), dataset, method (hashlab registry name plus the thesis's label), bits and KNN k.

The file is validated when read (schema, counts per table, value ranges); a damaged file raises ``ValueError``.
"""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path
from typing import Any

import pandas as pd

DATA_FILE = Path(__file__).resolve().parent / "data_files" / "thesis_results.json"

THESIS_DATASETS: tuple[str, ...] = ("cifar10", "pathmnist")
THESIS_BITS: tuple[int, ...] = (12, 24, 36, 48)
THESIS_KS: tuple[int, ...] = (3, 5, 7, 10, 15)
PAIRWISE_METHODS: tuple[str, ...] = ("dsh", "cnnh", "dpsh", "dhn", "hashnet", "dsdh")
TRIPLET_METHODS: tuple[str, ...] = ("dnnh", "dshgan", "tcl")
TABLES: tuple[int, ...] = (3, 4, 5, 6)

_COLUMNS = ["table", "figure", "dataset", "method", "method_label", "bits", "k", "value", "unit", "split"]
_EXPECTED_ROWS = {3: 5, 4: 2, 5: 6 * 2 * 4, 6: 3 * 2 * 4}
# Spellings used by the thesis or by users, mapped to canonical keys (compared after lower-casing and
# removing everything that is not a letter or digit).
_METHOD_ALIASES = {
    "tclsoftmaxloss": "tcl",
    "tclsoftmax": "tcl",
    "raw": "raw_knn",
    "rawknn": "raw_knn",
    "knn": "raw_knn",
}


def _key(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", str(name).lower())


def normalize_method(name: str) -> str:
    """Canonical thesis method key: ``"DSH-GAN"``, ``"dsh_gan"`` -> ``"dshgan"``; ``"TCL+softmax loss"`` -> ``"tcl"``."""
    key = _key(name)
    return _METHOD_ALIASES.get(key, key)


def normalize_dataset(name: str) -> str:
    """Canonical dataset key: ``"CIFAR-10"`` -> ``"cifar10"``, ``"PathMNIST"`` -> ``"pathmnist"``."""
    return _key(name)


@functools.lru_cache(maxsize=1)
def _load() -> dict[str, Any]:
    if not DATA_FILE.is_file():
        raise FileNotFoundError(
            f"thesis data file missing: {DATA_FILE} (it ships with hashlab; reinstall the package)"
        )
    try:
        doc = json.loads(DATA_FILE.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"thesis data file {DATA_FILE} is not valid JSON: {err}") from err
    for field in ("rows", "tables", "figures", "source"):
        if field not in doc:
            raise ValueError(f"thesis data file {DATA_FILE} lacks the '{field}' section")
    counts: dict[int, int] = {}
    for i, row in enumerate(doc["rows"]):
        if sorted(row) != sorted(_COLUMNS):
            raise ValueError(
                f"thesis data file row {i} has fields {sorted(row)}, expected {sorted(_COLUMNS)}"
            )
        table, value = row["table"], row["value"]
        if table not in _EXPECTED_ROWS:
            raise ValueError(f"thesis data file row {i}: unknown table {table!r}")
        upper = 1.0 if row["unit"] == "fraction" else 100.0
        if not isinstance(value, int | float) or not 0.0 <= value <= upper:
            raise ValueError(f"thesis data file row {i}: value {value!r} outside [0, {upper}]")
        counts[table] = counts.get(table, 0) + 1
    if counts != _EXPECTED_ROWS:
        raise ValueError(f"thesis data file rows per table {counts} differ from the thesis {_EXPECTED_ROWS}")
    return doc


def thesis_source() -> dict[str, str]:
    """Bibliographic record of the thesis (title, author, type, date)."""
    return dict(_load()["source"])


def thesis_table(n: int) -> pd.DataFrame:
    """Table ``n`` (3, 4, 5 or 6) in long form, one row per published number.

    Columns: table, figure (the figure that plots the row, or <NA>), dataset, method, method_label, bits (<NA> for
    the raw-embedding tables), k, value (exactly as printed), unit ("fraction" for Table 3, "percent" otherwise),
    split ("test" for Tables 4-6; Table 3's split is not stated: <NA>).
    """
    if n not in TABLES:
        raise KeyError(f"thesis table {n!r} not available; the thesis's result tables are {list(TABLES)}")
    rows = [r for r in _load()["rows"] if r["table"] == n]
    frame = pd.DataFrame(rows, columns=_COLUMNS)
    for col in ("figure", "bits", "k"):
        frame[col] = frame[col].astype("Int64")
    frame["value"] = frame["value"].astype(float)
    return frame.reset_index(drop=True)


def thesis_table_info(n: int) -> dict[str, Any]:
    """Caption, metric, unit and notes of table ``n``."""
    if n not in TABLES:
        raise KeyError(f"thesis table {n!r} not available; the thesis's result tables are {list(TABLES)}")
    return dict(_load()["tables"][str(n)])


def thesis_figure(n: int) -> dict[str, Any]:
    """Caption, kind (confusion, accuracy_vs_bits, timing, data), dataset, method, bits of result figure ``n``."""
    figures = _load()["figures"]
    if str(n) not in figures:
        raise KeyError(
            f"thesis figure {n!r} is not a result figure; known: {sorted(int(k) for k in figures)}"
        )
    return {"number": int(n), **figures[str(n)]}


def thesis_figures() -> list[dict[str, Any]]:
    """Every reproducible figure (Figs. 17-30), in order."""
    return [thesis_figure(int(k)) for k in sorted(_load()["figures"], key=int)]


def thesis_value(
    table: int, method: str, dataset: str, bits: int | None = None, k: int | None = None
) -> float:
    """One published number, exactly as printed (Table 3 a fraction, Tables 4-6 percent).

    ``method`` and ``dataset`` accept the thesis's spellings ("DSHGAN", "TCL+softmax loss", "CIFAR-10"). Tables 3
    and 4 are raw-embedding KNN: use ``method="raw_knn"``, ``bits=None`` and, for Table 3, ``k``. Raises
    ``KeyError`` naming the valid choices when nothing matches.
    """
    frame = thesis_table(table)
    m, d = normalize_method(method), normalize_dataset(dataset)
    sel = frame[(frame["method"] == m) & (frame["dataset"] == d)]
    if sel.empty:
        raise KeyError(
            f"no thesis value for method={method!r} dataset={dataset!r} in Table {table}; methods: "
            f"{sorted(frame['method'].unique())}, datasets: {sorted(frame['dataset'].unique())}"
        )
    if bits is not None:
        sel = sel[sel["bits"] == int(bits)]
    elif sel["bits"].notna().any():
        raise KeyError(
            f"Table {table} needs bits, one of {sorted(int(b) for b in frame['bits'].dropna().unique())}"
        )
    if k is not None:
        sel = sel[sel["k"] == int(k)]
    if len(sel) != 1:
        choices = {
            "bits": sorted({int(b) for b in frame["bits"].dropna()}),
            "k": sorted({int(x) for x in frame["k"]}),
        }
        raise KeyError(
            f"Table {table}, {m}/{d}: bits={bits!r} k={k!r} select {len(sel)} values; choices {choices}"
        )
    return float(sel["value"].iloc[0])


def thesis_wide(table: int, dataset: str) -> pd.DataFrame:
    """Table 5 or 6 for one dataset as printed: one row per method (thesis order), one column per bit length."""
    if table not in (5, 6):
        raise KeyError(f"thesis_wide needs Table 5 or 6, got {table!r}")
    frame = thesis_table(table)
    d = normalize_dataset(dataset)
    if d not in THESIS_DATASETS:
        raise KeyError(f"dataset {dataset!r} is not in the thesis; choices: {list(THESIS_DATASETS)}")
    sel = frame[frame["dataset"] == d]
    order = list(dict.fromkeys(sel["method"]))
    wide = sel.pivot(index="method", columns="bits", values="value").loc[order]
    wide.columns = [int(c) for c in wide.columns]
    return wide


def thesis_means(table: int) -> pd.DataFrame:
    """Mean over the four bit lengths per method and dataset (the digest's derived check), in percent."""
    frame = thesis_table(table)
    if frame["bits"].isna().all():
        raise KeyError(f"Table {table} has no bit lengths to average over; use Table 5 or 6")
    order = list(dict.fromkeys(frame["method"]))
    means = frame.groupby(["method", "dataset"])["value"].mean().unstack("dataset")
    return means.loc[order]


def method_label(method: str) -> str:
    """The thesis's printed name of a method ("dshgan" -> "DSHGAN"), or the input upper-cased if unknown."""
    m = normalize_method(method)
    for row in _load()["rows"]:
        if row["method"] == m and row["table"] in (5, 6):
            return str(row["method_label"])
    return str(method).upper()


def method_table(method: str) -> int | None:
    """Thesis table that reports ``method`` (5 pairwise, 6 triplet / centre), or None if the thesis lacks it."""
    m = normalize_method(method)
    if m in PAIRWISE_METHODS:
        return 5
    if m in TRIPLET_METHODS:
        return 6
    return None
