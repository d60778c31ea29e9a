"""hashlab.index.HammingIndex against a brute-force (distance, id) ranking written as plain loops."""

import numpy as np
import pytest

from hashlab.codes import pack_codes, to_codes
from hashlab.index import HammingIndex, IndexFileError, benchmark_backends, recall_at_k


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


# ---------------------------------------------------------------------------------------------------------------
# backends, radius search, persistence, memory-mapped files, shards (issue 14)

BACKENDS = ["flat", "mih", "ivf", "hnsw"]
OPTS = {"flat": {}, "mih": {}, "ivf": {"nlist": 16}, "hnsw": {"m": 16}}


def structured(seed, n_centres, copies, bits, flips):
    """Clustered codes: ``copies`` noisy copies (``flips`` random bits flipped) of ``n_centres`` random codes."""
    rng = np.random.default_rng(seed)
    centres = codes(seed, n_centres, bits)
    out = np.repeat(centres, copies, axis=0)
    for row in out:
        row[rng.choice(bits, flips, replace=False)] *= -1
    return out


def brute(q, db, k):
    d = (q[:, None, :] != db[None, :, :]).sum(-1)
    order = np.argsort(d, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(d, order, axis=1), order


def build(backend, db, shards=1, **extra):
    index = HammingIndex(db.shape[1], backend, shards=shards, **{**OPTS[backend], **extra})
    index.add(db)
    return index


@pytest.fixture(scope="module")
def clustered():
    db = structured(11, 40, 50, 64, 3)  # 2,000 codes
    q = structured(11, 40, 1, 64, 5)[::2]  # 20 queries: centres with 5 bits flipped
    q[:10] = db[::200][:10]  # 10 of them replaced by database items
    return db, q


def test_recall_at_k_counts_ties_as_hits():
    exact = np.array([[0, 1, 2, 2]])
    assert recall_at_k(np.array([[0, 1, 2, 2]]), exact) == 1.0  # other items tied at the k-th place
    assert recall_at_k(np.array([[0, 2, 3, np.iinfo(np.int32).max]]), exact) == 0.5
    with pytest.raises(ValueError, match="same"):
        recall_at_k(exact, exact[:, :2])


@pytest.mark.parametrize("backend", BACKENDS)
def test_backend_topk_against_flat(clustered, backend):
    """Approximate backends: true distances for the returned ids, (distance, id) order, recall@10 vs flat.

    Tie-aware recall@10 (:func:`recall_at_k`) on these 2,000 clustered 64-bit codes: mih (nflip=1) >= 0.9,
    hnsw >= 0.95, ivf with all 16 lists probed = 1 (exact distances; ties may pick other ids); flat equals brute
    force, ids included.
    """
    db, q = clustered
    index = build(backend, db)
    dist, ids = index.search(q, 10)
    ref_d, ref_i = brute(q, db, 10)
    np.testing.assert_array_equal(index.codes(), db)
    found = ids >= 0
    true_d = (q[:, None, :] != db[np.where(found, ids, 0)]).sum(-1)
    assert (dist[found] == true_d[found]).all()
    key = np.where(found, dist.astype(np.int64) * 10**6 + ids, np.iinfo(np.int64).max)
    unfilled = key[:, 1:] == np.iinfo(np.int64).max
    assert ((np.diff(key, axis=1) > 0) | unfilled).all()  # increasing (distance, id); unfilled slots last
    recall = recall_at_k(dist, ref_d)
    if backend == "flat":
        np.testing.assert_array_equal(ids, ref_i)
        np.testing.assert_array_equal(dist, ref_d)
    elif backend == "ivf":
        index.set_search_params(nprobe=16)
        np.testing.assert_array_equal(index.search(q, 10)[0], ref_d)
    else:
        assert recall >= {"mih": 0.9, "hnsw": 0.95}[backend], recall
    if backend == "mih":  # more flips per substring: more candidates, recall does not drop
        index.set_search_params(nflip=3)
        assert recall_at_k(index.search(q, 10)[0], ref_d) >= recall


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("shards", [1, 3])
def test_range_search_every_backend_equals_brute_force(clustered, backend, shards):
    db, q = clustered
    index = build(backend, db, shards=shards)
    if backend == "ivf":
        index.set_search_params(nprobe=16)  # all lists: exact
    d = (q[:, None, :] != db[None]).sum(-1)
    for radius in (0, 3, 8, 20):
        ids, dists = index.range_search(q, radius, return_distances=True)
        for i in range(len(q)):
            expected = np.flatnonzero(d[i] <= radius)
            expected = expected[np.lexsort((expected, d[i][expected]))]
            assert ids[i].tolist() == expected.tolist(), (backend, radius, i)
            assert dists[i].tolist() == d[i][expected].tolist()
    if backend == "ivf":  # fewer lists: a subset of the exact answer
        index.set_search_params(nprobe=2)
        for got, i in zip(index.range_search(q, 8), range(len(q)), strict=True):
            assert set(got.tolist()) <= set(np.flatnonzero(d[i] <= 8).tolist())


@pytest.mark.parametrize("shards", [2, 3])
def test_flat_shards_equal_unsharded_with_heavy_ties(shards):
    db, q = codes(21, 3000, 12), codes(22, 15, 12)  # 12 bits, 3,000 codes: large tie groups
    ref = build("flat", db).search(q, 200)
    index = build("flat", db[:1000], shards=shards)
    index.add(db[1000:])  # a second add re-partitions into contiguous id ranges
    for a, b in zip(index.search(q, 200), ref, strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(ref[1], brute(q, db, 200)[1])
    np.testing.assert_array_equal(index.codes(), db)


@pytest.mark.parametrize("backend", ["mih", "ivf"])
def test_approximate_shards_equal_unsharded(clustered, backend):
    """mih candidates and ivf with all lists probed do not depend on the partition: same distances."""
    db, q = clustered
    extra = {"nprobe": 16} if backend == "ivf" else {}
    ref = build(backend, db, **extra).search(q, 10)[0]
    np.testing.assert_array_equal(build(backend, db, shards=2, **extra).search(q, 10)[0], ref)


def test_hnsw_shards_recall(clustered):
    db, q = clustered
    assert recall_at_k(build("hnsw", db, shards=2).search(q, 10)[0], brute(q, db, 10)[0]) >= 0.95


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("shards", [1, 2])
def test_save_load_round_trip_every_backend(tmp_path, clustered, backend, shards):
    db, q = clustered
    index = build(backend, db, shards=shards)
    path = tmp_path / f"{backend}.npz"
    index.save(path)
    assert [p.name for p in tmp_path.iterdir()] == [path.name]
    loaded = HammingIndex.load(path)
    assert (loaded.backend, loaded.shards, loaded.ntotal, loaded.options) == (
        backend,
        shards,
        len(db),
        index.options,
    )
    np.testing.assert_array_equal(loaded.codes(), db)
    for a, b in zip(index.search(q, 10), loaded.search(q, 10), strict=True):
        np.testing.assert_array_equal(a, b)
    assert [a.tolist() for a in index.range_search(q, 6)] == [a.tolist() for a in loaded.range_search(q, 6)]


@pytest.mark.parametrize("suffix", [".npy", ".bin"])
@pytest.mark.parametrize("bits", [12, 64])
def test_memory_mapped_file_equals_in_memory(tmp_path, suffix, bits):
    db, q = codes(31, 1000, bits), codes(32, 9, bits)
    path = tmp_path / f"codes{suffix}"
    packed = pack_codes(db)
    np.save(path, packed) if suffix == ".npy" else packed.tofile(path)
    mm = HammingIndex.from_packed_file(path, bits, chunk_rows=37)  # many chunks: exercises the merge
    ref = build("flat", db)
    assert mm.ntotal == 1000 and mm.exact
    for k in (1, 50, 1000):
        for a, b in zip(mm.search(q, k), ref.search(q, k), strict=True):
            np.testing.assert_array_equal(a, b)
    for radius in (0, 2, 5):
        got, ref_r = mm.range_search(q, radius, True), ref.range_search(q, radius, True)
        for a, b in zip(got, ref_r, strict=True):
            assert [x.tolist() for x in a] == [x.tolist() for x in b]
    np.testing.assert_array_equal(mm.codes(), db)
    with pytest.raises(ValueError, match="read-only"):
        mm.add(db[:2])


def test_bad_input_backends_radius_k_and_widths(tmp_path, clustered):
    db, q = clustered
    with pytest.raises(ValueError, match="backend"):
        HammingIndex(64, "lsh")
    with pytest.raises(ValueError, match="unknown option.*nprobe"):
        HammingIndex(64, "hnsw", nprobe=3)
    with pytest.raises(ValueError, match="shards"):
        HammingIndex(64, shards=0)
    with pytest.raises(ValueError, match="nlist"):
        HammingIndex(64, "ivf", nlist=0)
    with pytest.raises(ValueError, match="ef_search"):
        build("hnsw", db).set_search_params(ef_search=-1)
    with pytest.raises(ValueError, match="nprobe.*not a search option"):
        build("mih", db).set_search_params(nprobe=2)
    for backend in BACKENDS:
        index = build(backend, db)
        with pytest.raises(ValueError, match="query_codes has 32 bits, expected 64"):
            index.search(q[:, :32], 5)
        with pytest.raises(ValueError, match="codes has 63 bits, expected 64"):
            index.add(db[:, :63])
        with pytest.raises(ValueError, match="radius"):
            index.range_search(q, -1)
        for k in (0, -3, 2.5, True):
            with pytest.raises(ValueError, match="^k must"):
                index.search(q, k)
    with pytest.raises(ValueError, match="ivf needs at least nlist=16"):
        HammingIndex(64, "ivf", nlist=16).add(db[:10])


def test_save_and_load_errors_name_the_file(tmp_path, clustered):
    db, _ = clustered
    index = build("hnsw", db)
    with pytest.raises(IndexFileError, match=f"{tmp_path}: it is a directory"):
        index.save(tmp_path)
    (tmp_path / "afile").write_text("x")
    with pytest.raises(IndexFileError, match="afile is a file, not a directory"):
        index.save(tmp_path / "afile" / "index.npz")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile"]  # nothing else written
    np.save(tmp_path / "codes.npy", pack_codes(db))
    with pytest.raises(IndexFileError, match="codes.npy holds a single array"):
        HammingIndex.load(tmp_path / "codes.npy")
    path = tmp_path / "index.npz"
    index.save(path)
    with np.load(path) as data:
        parts = {k: data[k] for k in data.files}
    parts["faiss_0"] = parts["faiss_0"].copy()
    parts["faiss_0"][-100] ^= 1
    np.savez(tmp_path / "tampered.npz", **parts)
    with pytest.raises(IndexFileError, match="tampered.npz: checksum mismatch"):
        HammingIndex.load(tmp_path / "tampered.npz")
    # a faiss blob of another type with a consistent header and checksum
    parts = {**parts, "backend": np.array("ivf"), "options": np.array('{"nlist": 16}')}
    with np.load(path) as data:
        parts["faiss_0"] = data["faiss_0"]
    np.savez(tmp_path / "wrongtype.npz", **parts)
    with pytest.raises(IndexFileError, match="wrongtype.npz: part faiss_0 is a IndexBinaryHNSW"):
        HammingIndex.load(tmp_path / "wrongtype.npz")
    (tmp_path / "odd.bin").write_bytes(b"\x00" * 13)
    with pytest.raises(IndexFileError, match="odd.bin: 13 bytes is not a positive multiple of 8"):
        HammingIndex.from_packed_file(tmp_path / "odd.bin", 64)
    with pytest.raises(IndexFileError, match=r"codes.npy: expected np.uint8 \(N, 4\)"):
        HammingIndex.from_packed_file(tmp_path / "codes.npy", 32)
    (tmp_path / "pad.bin").write_bytes(bytes([0, 1]) * 5)  # 12-bit codes with a padding bit set
    with pytest.raises(IndexFileError, match="pad.bin: padding bits are set"):
        HammingIndex.from_packed_file(tmp_path / "pad.bin", 12).search(codes(0, 1, 12), 1)


def test_packed_input_equals_codes_and_is_checked(clustered):
    db, q = clustered
    a, b = build("flat", db), HammingIndex(64)
    b.add(pack_codes(db), packed=True)
    for x, y in zip(a.search(q, 7), b.search(pack_codes(q), 7, packed=True), strict=True):
        np.testing.assert_array_equal(x, y)
    assert [x.tolist() for x in a.range_search(q, 5)] == [
        x.tolist() for x in b.range_search(pack_codes(q), 5, packed=True)
    ]
    with pytest.raises(ValueError, match=r"codes \(packed=True\) must be np.uint8 \(N, 8\)"):
        b.add(db, packed=True)
    with pytest.raises(ValueError, match="padding bits"):
        HammingIndex(12).add(np.array([[0, 1]], np.uint8), packed=True)


def test_benchmark_backends_compares_with_flat(clustered):
    db, q = clustered
    rows = benchmark_backends(
        db, q, 10, {"flat": {"backend": "flat"}, "ivf all": {"backend": "ivf", "nlist": 8, "nprobe": 8}}
    )
    assert [r["label"] for r in rows] == ["flat", "ivf all"]
    assert rows[0]["recall"] == 1.0 and rows[0]["ndis_per_query"] == len(db) and rows[0]["speedup"] == 1.0
    assert rows[1]["recall"] == 1.0  # every list probed: exact distances
    assert rows[1]["options"]["nlist"] == 8 and rows[1]["ndis_per_query"] == len(db)
    with pytest.raises(ValueError, match="bits is required"):
        benchmark_backends(pack_codes(db), pack_codes(q), 10, packed=True)
