"""hashlab.checks: each check accepts valid input unchanged and rejects each kind of bad input with one line
that names the argument."""

import numpy as np
import pytest
import torch

from hashlab.checks import (
    as_numpy,
    check_choice,
    check_codes,
    check_features,
    check_finite,
    check_k,
    check_label_pair,
    check_labels,
    check_nonnegative,
    check_positive_int,
)


def test_as_numpy_accepts_torch_lists_and_arrays():
    t = torch.arange(6.0, requires_grad=True).reshape(2, 3)
    np.testing.assert_array_equal(as_numpy(t), np.arange(6.0).reshape(2, 3))
    assert as_numpy([1, 2]).tolist() == [1, 2]


@pytest.mark.parametrize("to", [np.asarray, torch.as_tensor])
def test_check_finite_counts_affected_rows(to):
    x = np.zeros((5, 3))
    check_finite(to(x), "x")  # finite: no error
    check_finite(to(np.arange(4)), "ints")  # integers are always finite
    x[1, 0], x[1, 2], x[3, 1] = np.nan, np.inf, -np.inf
    with pytest.raises(ValueError, match=r"^embeddings contains NaN or inf \(2 rows affected\)$"):
        check_finite(to(x), "embeddings")
    with pytest.raises(ValueError, match=r"v contains NaN or inf \(1 values affected\)"):
        check_finite(to(np.array([0.0, np.nan])), "v")


def test_check_features():
    x = np.arange(12.0).reshape(4, 3)
    assert check_features(x, "x") is x
    np.testing.assert_array_equal(check_features(torch.as_tensor(x), "x"), x)
    assert check_features(x, "x", dim=3).shape == (4, 3)
    cases = [
        (np.zeros(3), "q must be a 2-D feature matrix"),
        (np.zeros((0, 3)), "q is empty"),
        (np.zeros((3, 0)), "q is empty"),
        (np.zeros((2, 2), dtype=bool), "q must be numeric"),
        (np.array([["a", "b"]]), "q must be numeric"),
        (np.array([[0.0, np.nan]]), r"q contains NaN or inf \(1 rows affected\)"),
    ]
    for bad, match in cases:
        with pytest.raises(ValueError, match=match):
            check_features(bad, "q")
    with pytest.raises(ValueError, match="q has 3 features, expected 5"):
        check_features(x, "q", dim=5)


def test_check_codes_rejects_near_codes_before_casting():
    codes = np.array([[1, -1, 1], [-1, -1, 1]])
    out = check_codes(torch.as_tensor(codes, dtype=torch.float32), "c")
    assert out.dtype == np.int8 and out.tolist() == codes.tolist()
    for bad, match in [
        (1.3 * codes, r"c must contain only ±1, found 6 other value\(s\)"),
        (0.5 * codes, "c must contain only ±1"),
        (np.zeros((2, 3)), "c must contain only ±1"),
        (codes[0], "c must be a 2-D array"),
        (codes > 0, "c must be numeric"),
        (np.where(codes > 0, np.nan, -1.0), "c contains NaN"),
    ]:
        with pytest.raises(ValueError, match=match):
            check_codes(bad, "c")
    with pytest.raises(ValueError, match="c has 3 bits, expected 4"):
        check_codes(codes, "c", bits=4)


def test_check_labels_and_pairs():
    assert check_labels([0, 2, 1], 3).dtype == np.int64
    assert check_labels(np.array([0.0, 2.0]), 2).tolist() == [0, 2]
    assert check_labels(np.eye(3, dtype=bool), 3).tolist() == np.eye(3, dtype=int).tolist()
    for bad, n, match in [
        ([0, 1], 3, "y has 2 rows but there are 3"),
        ([0.5, 1.0], 2, "fractional"),
        ([np.nan, 1.0], 2, "y contains NaN or inf"),
        (np.zeros((2, 1)), 2, "single column is ambiguous"),
        (2 * np.eye(2), 2, "multi-hot with values in"),
        (np.zeros((2, 2, 2)), 2, "y must be"),
    ]:
        with pytest.raises(ValueError, match=match):
            check_labels(bad, n, "y")
    check_label_pair(np.zeros(3), np.zeros(4))  # both single-label: fine
    with pytest.raises(ValueError, match="query labels are 1-D but database labels are 2-D"):
        check_label_pair(np.zeros(3), np.zeros((4, 2)))
    with pytest.raises(ValueError, match="number of classes: a 2, b 3"):
        check_label_pair(np.zeros((3, 2)), torch.zeros(4, 3), ("a", "b"))


def test_option_checks_name_the_option():
    assert check_positive_int(np.int64(3), "epochs") == 3 and check_positive_int(1, "epochs") == 1
    for bad in (0, -2, 2.5, 2.0, True, "3", None):
        with pytest.raises(ValueError, match=f"^epochs must be an integer >= 1, got {bad!r}$"):
            check_positive_int(bad, "epochs")
    assert check_positive_int(0, "n_iter", minimum=0) == 0
    with pytest.raises(ValueError, match=r"^n_iter must be an integer >= 0, got -1$"):
        check_positive_int(-1, "n_iter", minimum=0)
    assert check_nonnegative(0, "margin") == 0.0 and check_nonnegative(np.float32(2.5), "margin") == 2.5
    for bad in (-0.1, "x", None, True):
        with pytest.raises(ValueError, match=f"^margin must be a finite number >= 0, got {bad!r}$"):
            check_nonnegative(bad, "margin")
    for bad in (float("nan"), -float("inf")):
        with pytest.raises(
            ValueError, match=rf"^margin must be a finite number >= 0, got {bad!r} \(NaN or inf\)$"
        ):
            check_nonnegative(bad, "margin")
    assert check_k(None, 50) == 50 and check_k(7, 50) == 7
    with pytest.raises(ValueError, match=r"map_k must be positive \(use map_k=None"):
        check_k(-1, 50, "map_k")
    with pytest.raises(ValueError, match="map_k=51 is larger than the database"):
        check_k(51, 50, "map_k")
    with pytest.raises(ValueError, match="k must be a positive int or None"):
        check_k(2.0, 50)
    check_choice("ties", "index", ("index", "average"))
    with pytest.raises(ValueError, match=r"ties must be one of \('index', 'average'\), got 'rank'"):
        check_choice("ties", "rank", ("index", "average"))
