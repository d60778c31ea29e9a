"""hashlab.index.HammingIndex against a brute-force (distance, id) ranking written as plain loops."""

import numpy as np
import pytest

from hashlab.codes import to_codes
from hashlab.index import HammingIndex, IndexFileError


def ref_dist(a, b):
    return [[sum(1 for x, y in zip(qa, qb, strict=True) if x != y) for qb in b] for qa in a]


def codes(seed, n, bits):
    return to_codes(np.random.default_rng(seed).standard_normal((n, bits)))


@pytest.mark.parametrize("bits", [3, 8, 12, 13, 33])
@pytest.mark.parametrize("seed", [0, 1])
def test_search_equals_brute_force_including_ids(bits, seed):
    db, q = codes(seed, 400, bits), codes(seed + 100, 12, bits)
    index = HammingIndex(bits)
    index.add(db[:150])
    index.add(db[150:])  # ids continue across add() calls
    assert index.ntotal == len(index) == 400
    d = ref_dist(q, db)
    for k in (1, 5, 37, 400):
        dist, ids = index.search(q, k)
        assert dist.dtype == np.int32 and ids.dtype == np.int64 and dist.shape == ids.shape == (12, k)
        for i in range(12):
            order = sorted(range(400), key=lambda j: (d[i][j], j))[:k]
            assert ids[i].tolist() == order
            assert dist[i].tolist() == [d[i][j] for j in order]


def test_search_breaks_ties_by_id_when_tie_group_exceeds_candidates():
    # 300 identical codes: every candidate is tied; the answer must be the smallest ids, in order
    db = np.ones((300, 16), np.int8)
    db[::2, 0] = -1  # even ids at distance 1, odd ids at distance 0
    index = HammingIndex(16)
    index.add(db)
    dist, ids = index.search(np.ones((1, 16), np.int8), 10)  # 150 tied > 2k+16 candidates: range-search path
    assert ids[0].tolist() == list(range(1, 20, 2)) and (dist == 0).all()
    dist, ids = index.search(np.ones((1, 16), np.int8), 100)
    assert ids[0].tolist() == list(range(1, 200, 2))
    assert (dist == 0).all()
    dist, ids = index.search(np.ones((1, 16), np.int8), 200)
    assert ids[0].tolist() == list(range(1, 300, 2)) + list(range(0, 100, 2))
    assert dist[0].tolist() == [0] * 150 + [1] * 50


@pytest.mark.parametrize("bits", [5, 12, 24])
def test_range_search_equals_brute_force(bits):
    db, q = codes(7, 300, bits), codes(8, 10, bits)
    index = HammingIndex(bits)
    index.add(db)
    d = ref_dist(q, db)
    for radius in (0, 1, 2, 4):
        ids, dists = index.range_search(q, radius, return_distances=True)
        assert [a.tolist() for a in index.range_search(q, radius)] == [a.tolist() for a in ids]
        for i in range(10):
            expected = sorted((j for j in range(300) if d[i][j] <= radius), key=lambda j: (d[i][j], j))
            assert ids[i].tolist() == expected
            assert dists[i].tolist() == [d[i][j] for j in expected]


def test_save_load_round_trip_and_stored_codes(tmp_path):
    db = codes(3, 50, 13)
    index = HammingIndex(13)
    index.add(db)
    path = tmp_path / "sub" / "index.npz"
    index.save(path)
    assert [p.name for p in path.parent.iterdir()] == ["index.npz"]  # no temp file left behind
    loaded = HammingIndex.load(path)
    assert loaded.bits == 13 and loaded.ntotal == 50
    np.testing.assert_array_equal(loaded.codes(), db)
    q = codes(4, 5, 13)
    for a, b in zip(index.search(q, 9), loaded.search(q, 9), strict=True):
        np.testing.assert_array_equal(a, b)


def test_load_rejects_missing_and_corrupt_files(tmp_path):
    with pytest.raises(FileNotFoundError):
        HammingIndex.load(tmp_path / "nope.npz")
    index = HammingIndex(16)
    index.add(codes(5, 40, 16))
    path = tmp_path / "index.npz"
    index.save(path)
    raw = path.read_bytes()
    (tmp_path / "trunc.npz").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(IndexFileError, match="corrupt"):
        HammingIndex.load(tmp_path / "trunc.npz")
    (tmp_path / "junk.npz").write_bytes(b"not an index at all")
    with pytest.raises(IndexFileError):
        HammingIndex.load(tmp_path / "junk.npz")
    np.savez(tmp_path / "other.npz", x=np.arange(3))
    with pytest.raises(IndexFileError, match="missing"):
        HammingIndex.load(tmp_path / "other.npz")
    with np.load(path) as data:
        parts = {k: data[k] for k in data.files}
    parts["packed"] = parts["packed"].copy()
    parts["packed"][0, 0] ^= 1  # flip one stored bit: checksum must catch it
    np.savez(tmp_path / "flipped.npz", **parts)
    with pytest.raises(IndexFileError, match="checksum"):
        HammingIndex.load(tmp_path / "flipped.npz")


def test_bad_input():
    with pytest.raises(ValueError, match="bits"):
        HammingIndex(0)
    index = HammingIndex(8)
    with pytest.raises(ValueError, match="empty"):
        index.search(codes(0, 2, 8), 1)
    with pytest.raises(ValueError, match="expected 8"):
        index.add(codes(0, 3, 9))
    with pytest.raises(ValueError, match="only ±1"):
        index.add(np.zeros((3, 8)))
    index.add(codes(0, 3, 8))
    with pytest.raises(ValueError, match="larger than the index"):
        index.search(codes(1, 2, 8), 4)
    with pytest.raises(ValueError, match="radius"):
        index.range_search(codes(1, 2, 8), -1)
