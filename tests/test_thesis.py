"""The thesis data file against the numbers printed in the thesis (Tables 3-6) and its derived checks."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from hashlab import thesis


def test_table_shapes_and_units():
    assert len(thesis.thesis_table(3)) == 5
    assert len(thesis.thesis_table(4)) == 2
    t5, t6 = thesis.thesis_table(5), thesis.thesis_table(6)
    assert len(t5) == 48 and len(t6) == 24
    assert set(t5["method"]) == set(thesis.PAIRWISE_METHODS)
    assert set(t6["method"]) == set(thesis.TRIPLET_METHODS)
    assert sorted(set(t5["bits"])) == [12, 24, 36, 48]
    assert set(t5["dataset"]) == {"cifar10", "pathmnist"}
    assert set(thesis.thesis_table(3)["unit"]) == {"fraction"}
    assert set(t6["unit"]) == {"percent"}
    assert (t5["k"] == 7).all()


@pytest.mark.parametrize(
    ("table", "method", "dataset", "bits", "expected"),
    [
        (5, "DSH", "CIFAR-10", 12, 88.78),
        (5, "dsh", "pathmnist", 48, 57.20),
        (5, "CNNH", "PathMNIST", 12, 23.40),
        (5, "HashNet", "cifar10", 24, 98.81),
        (5, "HashNet", "pathmnist", 36, 47.44),
        (5, "DHN", "pathmnist", 48, 69.80),
        (5, "DSDH", "pathmnist", 48, 70.15),
        (5, "DPSH", "cifar10", 48, 95.56),
        (6, "DNNH", "cifar10", 12, 98.21),
        (6, "DSHGAN", "pathmnist", 48, 77.89),
        (6, "dsh-gan", "pathmnist", 36, 76.77),
        (6, "TCL+softmax loss", "cifar10", 48, 98.78),
        (6, "tcl", "pathmnist", 36, 75.50),
    ],
)
def test_spot_values(table, method, dataset, bits, expected):
    assert thesis.thesis_value(table, method, dataset, bits) == expected


def test_raw_knn_tables():
    assert [thesis.thesis_value(3, "raw_knn", "pathmnist", k=k) for k in thesis.THESIS_KS] == [
        0.75,
        0.76,
        0.77,
        0.77,
        0.77,
    ]
    assert thesis.thesis_value(4, "raw_knn", "CIFAR-10") == 98.7
    assert thesis.thesis_value(4, "raw_knn", "pathmnist") == 75.6


def test_wide_matches_printed_row_order():
    wide = thesis.thesis_wide(5, "cifar10")
    assert list(wide.index) == ["dsh", "cnnh", "dpsh", "dhn", "hashnet", "dsdh"]
    assert list(wide.loc["dpsh"]) == [88.74, 91.43, 92.28, 95.56]
    wide6 = thesis.thesis_wide(6, "pathmnist")
    assert list(wide6.loc["dnnh"]) == [72.32, 72.85, 72.86, 72.92]


def test_derived_means_match_digest():
    digest = {  # "Means over the four lengths" in the thesis digest, rounded to 2 decimals
        "dsh": (89.43, 53.31),
        "cnnh": (98.04, 26.16),
        "dpsh": (92.00, 68.31),
        "dhn": (92.34, 69.63),
        "hashnet": (98.11, 40.45),
        "dsdh": (97.96, 69.37),
        "dnnh": (98.28, 72.74),
        "dshgan": (98.69, 76.57),
        "tcl": (98.68, 75.82),
    }
    means = thesis.thesis_means(5).combine_first(thesis.thesis_means(6))
    for method, (c, p) in digest.items():
        assert means.loc[method, "cifar10"] == pytest.approx(c, abs=0.006)
        assert means.loc[method, "pathmnist"] == pytest.approx(p, abs=0.006)


def test_derived_claims():
    # "DSDH outperforms DPSH" at every bit length on both datasets
    for ds in thesis.THESIS_DATASETS:
        for b in thesis.THESIS_BITS:
            assert thesis.thesis_value(5, "dsdh", ds, b) > thesis.thesis_value(5, "dpsh", ds, b)
    # best PathMNIST method at every length is DSHGAN
    frame = pd.concat([thesis.thesis_table(5), thesis.thesis_table(6)], ignore_index=True)
    for b in thesis.THESIS_BITS:
        sel = frame[(frame["dataset"] == "pathmnist") & (frame["bits"] == b)]
        assert sel.loc[sel["value"].idxmax(), "method"] == "dshgan"


def test_figures():
    assert thesis.thesis_figure(22)["method"] == "hashnet" and thesis.thesis_figure(22)["bits"] == 48
    assert thesis.thesis_figure(29)["method"] == "tcl"
    assert thesis.thesis_figure(20)["table"] == 5 and thesis.thesis_figure(21)["dataset"] == "pathmnist"
    assert "no numbers" in thesis.thesis_figure(30)["note"]
    assert [f["number"] for f in thesis.thesis_figures()] == list(range(17, 31))
    assert thesis.thesis_table(5).query("dataset == 'cifar10'")["figure"].unique().tolist() == [20]


def test_labels_and_families():
    assert thesis.method_label("dshgan") == "DSHGAN"
    assert thesis.method_label("tcl") == "TCL+softmax loss"
    assert thesis.method_table("HashNet") == 5 and thesis.method_table("tcl") == 6
    assert thesis.method_table("itq") is None


def test_bad_queries_name_choices():
    with pytest.raises(KeyError, match="tables are"):
        thesis.thesis_table(7)
    with pytest.raises(KeyError, match="datasets"):
        thesis.thesis_value(5, "dsh", "digits", 12)
    with pytest.raises(KeyError, match="choices"):
        thesis.thesis_value(5, "dsh", "cifar10", 16)
    with pytest.raises(KeyError, match="needs bits"):
        thesis.thesis_value(5, "dsh", "cifar10")
    with pytest.raises(KeyError, match="not a result figure"):
        thesis.thesis_figure(5)


def test_damaged_file_is_rejected(tmp_path, monkeypatch):
    doc = json.loads(thesis.DATA_FILE.read_text())
    doc["rows"] = doc["rows"][:-1]  # a row lost
    bad = tmp_path / "thesis_results.json"
    bad.write_text(json.dumps(doc))
    monkeypatch.setattr(thesis, "DATA_FILE", bad)
    thesis._load.cache_clear()
    try:
        with pytest.raises(ValueError, match="rows per table"):
            thesis.thesis_table(5)
        bad.write_text("{not json")
        thesis._load.cache_clear()
        with pytest.raises(ValueError, match="not valid JSON"):
            thesis.thesis_table(5)
    finally:
        thesis._load.cache_clear()
