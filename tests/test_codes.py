"""hashlab.codes: sign(0)=+1, validation errors, packing round trip against a plain bit loop."""

import numpy as np
import pytest
import torch

from hashlab.codes import check_codes, label_similarity, pack_codes, to_codes, unpack_codes


def test_to_codes_sign_zero_is_plus_one_numpy_and_torch():
    x = np.array([[-2.0, -0.0, 0.0, 1e-9, -1e-9, 3.0]])
    expected = np.array([[-1, 1, 1, 1, -1, 1]], dtype=np.int8)
    for inp in (x, torch.tensor(x), torch.tensor(x, dtype=torch.float32, requires_grad=True)):
        out = to_codes(inp)
        assert out.dtype == np.int8
        np.testing.assert_array_equal(out, expected)
    np.testing.assert_array_equal(to_codes(np.array([[0, -3, 5]])), [[1, -1, 1]])
    np.testing.assert_array_equal(to_codes(np.array([[True, False]])), [[1, -1]])


def test_to_codes_rejects_nan():
    with pytest.raises(ValueError, match="NaN"):
        to_codes(np.array([[0.5, np.nan]]))


@pytest.mark.parametrize(
    ("bad", "match"),
    [
        (np.array([[1, 0, -1]]), "only ±1"),
        (np.array([[1.0, np.nan]]), "NaN"),
        (np.array([1, -1, 1]), "2-D"),
        (np.zeros((0, 8)), "empty"),
        (np.ones((3, 0)), "empty"),
        (np.array([[2, -1]]), "only ±1"),
    ],
)
def test_check_codes_errors(bad, match):
    with pytest.raises(ValueError, match=match):
        check_codes(bad, "my_codes")


def test_check_codes_names_input_and_bits():
    with pytest.raises(ValueError, match="db_codes"):
        check_codes(np.array([[0, 1]]), "db_codes")
    with pytest.raises(ValueError, match="expected 16"):
        check_codes(np.ones((2, 8)), bits=16)
    out = check_codes(torch.tensor([[1.0, -1.0]]))
    assert out.dtype == np.int8 and out.tolist() == [[1, -1]]


@pytest.mark.parametrize("bits", [1, 7, 8, 12, 13, 64, 100])
def test_pack_matches_bit_loop_and_round_trips(bits):
    rng = np.random.default_rng(bits)
    codes = to_codes(rng.standard_normal((9, bits)))
    packed = pack_codes(codes)
    assert packed.dtype == np.uint8 and packed.shape == (9, (bits + 7) // 8)
    for i in range(9):
        for j in range(bits):  # MSB first, bit 1 for +1, padding bits 0
            byte, shift = divmod(j, 8)
            assert (packed[i, byte] >> (7 - shift)) & 1 == (codes[i, j] == 1)
        for j in range(bits, packed.shape[1] * 8):
            byte, shift = divmod(j, 8)
            assert (packed[i, byte] >> (7 - shift)) & 1 == 0
    np.testing.assert_array_equal(unpack_codes(packed, bits), codes)


def test_unpack_errors():
    with pytest.raises(ValueError, match="bytes"):
        unpack_codes(np.zeros((2, 2), np.uint8), 24)
    with pytest.raises(ValueError, match="uint8"):
        unpack_codes(np.zeros((2, 1), np.int64), 8)
    with pytest.raises(ValueError, match="bits must be an integer >= 1, got 0"):
        unpack_codes(np.zeros((2, 1), np.uint8), 0)


# ------------------------------------------------------------------------------------------- label_similarity
def _brute_similarity(a, b):
    """s_ij = share at least one label, written as a plain loop."""
    out = []
    for x in a:
        row = []
        for y in b:
            if np.ndim(x) == 0:
                row.append(bool(x == y))
            else:
                row.append(any(xi == 1 and yi == 1 for xi, yi in zip(x, y, strict=True)))
        out.append(row)
    return np.array(out, dtype=bool)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("multi_hot", [False, True])
def test_label_similarity_matches_brute_force_numpy_and_torch(seed, multi_hot):
    rng = np.random.default_rng(seed)
    if multi_hot:
        a, b = rng.integers(0, 2, size=(9, 5)), rng.integers(0, 2, size=(13, 5))
        a[0] = 0  # an item without labels is similar to nothing
    else:
        a, b = rng.integers(0, 4, size=9), rng.integers(0, 4, size=13)
    want = _brute_similarity(a, b)
    got = label_similarity(a, b)
    assert isinstance(got, np.ndarray) and got.dtype == np.bool_ and got.shape == (9, 13)
    np.testing.assert_array_equal(got, want)
    got_t = label_similarity(torch.as_tensor(a), torch.as_tensor(b))
    assert isinstance(got_t, torch.Tensor) and got_t.dtype == torch.bool
    np.testing.assert_array_equal(got_t.numpy(), want)
    np.testing.assert_array_equal(label_similarity(a), _brute_similarity(a, a))  # b defaults to a
    if multi_hot:
        assert not got[0].any()
    paired = label_similarity(a, b[:9], paired=True)
    np.testing.assert_array_equal(paired, np.diag(want[:, :9]))
    np.testing.assert_array_equal(label_similarity(torch.as_tensor(a), b[:9], paired=True).numpy(), paired)


def test_label_similarity_rejects_mixed_label_kinds():
    with pytest.raises(ValueError, match="a_labels are 1-D but b_labels are 2-D"):
        label_similarity(np.array([0, 1]), np.eye(3, dtype=int))
    with pytest.raises(ValueError, match="number of classes: a_labels 3, b_labels 4"):
        label_similarity(np.eye(3, dtype=int), np.eye(4, dtype=int))
    with pytest.raises(ValueError, match="paired labels need as many rows"):
        label_similarity(np.arange(3), np.arange(4), paired=True)
