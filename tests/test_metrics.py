"""hashlab.metrics against brute-force references written as plain Python loops, hand examples and torchmetrics."""

import itertools
from collections import Counter

import numpy as np
import pytest
import torch
from torchmetrics.functional.retrieval import retrieval_average_precision

from hashlab import metrics as M
from hashlab.codes import pack_codes, to_codes
from hashlab.metrics import ranking

SEEDS = [0, 1, 2]


# ------------------------------------------------------------------------------------------------ references
def ref_hamming(a, b):
    return [[sum(1 for x, y in zip(qa, qb, strict=True) if x != y) for qb in b] for qa in a]


def ref_relevant(ql, dl):
    if np.ndim(ql) == 0:
        return ql == dl
    return any(x == 1 and y == 1 for x, y in zip(ql, dl, strict=True))


def ref_order(dist_row):
    return sorted(range(len(dist_row)), key=lambda j: (dist_row[j], j))


def ref_ap(rel_sorted, k, normalize, total_rel):
    hits, s = 0, 0.0
    for i, r in enumerate(rel_sorted[:k]):
        if r:
            hits += 1
            s += hits / (i + 1)
    div = hits if normalize == "retrieved" else min(k, total_rel)
    return s / div if div > 0 else 0.0


def ref_map(q, db, ql, dl, k=None, normalize="retrieved", no_relevant="zero"):
    d = ref_hamming(q, db)
    k = len(db) if k is None else k
    aps = []
    for i in range(len(q)):
        rel = [ref_relevant(ql[i], dl[j]) for j in range(len(db))]
        if not any(rel) and no_relevant == "skip":
            continue
        aps.append(ref_ap([rel[j] for j in ref_order(d[i])], k, normalize, sum(rel)))
    return sum(aps) / len(aps)


def ref_ap_tie_average(dist_row, rel, k, normalize):
    """Average AP over every ordering of the items inside each tie group (tiny inputs only)."""
    groups = [[j for j in range(len(dist_row)) if dist_row[j] == g] for g in sorted(set(dist_row))]
    vals = []
    for combo in itertools.product(*[list(itertools.permutations(g)) for g in groups]):
        order = [j for perm in combo for j in perm]
        vals.append(ref_ap([rel[j] for j in order], k, normalize, sum(rel)))
    return sum(vals) / len(vals)


def data(seed, nq=20, ndb=150, bits=6, n_classes=4, multilabel=False):
    rng = np.random.default_rng(seed)
    q = to_codes(rng.standard_normal((nq, bits)))
    db = to_codes(rng.standard_normal((ndb, bits)))
    if multilabel:
        ql = (rng.random((nq, n_classes)) < 0.3).astype(np.int64)
        dl = (rng.random((ndb, n_classes)) < 0.3).astype(np.int64)
    else:
        ql, dl = rng.integers(0, n_classes, nq), rng.integers(0, n_classes, ndb)
    return q, db, ql, dl


# ------------------------------------------------------------------------------------------------ distances
@pytest.mark.parametrize("bits", [3, 12, 13, 70])
def test_hamming_distance_dense_and_packed_match_loops(bits):
    q, db, _, _ = data(bits, nq=7, ndb=11, bits=bits)
    ref = np.array(ref_hamming(q, db))
    d = M.hamming_distance(q, db)
    assert d.dtype == np.int32
    np.testing.assert_array_equal(d, ref)
    np.testing.assert_array_equal(M.hamming_distance_packed(pack_codes(q), pack_codes(db)), ref)
    np.testing.assert_array_equal(M.hamming_distance(torch.tensor(q), torch.tensor(db)), ref)


@pytest.mark.parametrize("seed", SEEDS)
def test_hamming_ranking_is_stable_by_index(seed):
    q, db, _, _ = data(seed, bits=4)  # 4 bits, 150 codes: many ties
    d = ref_hamming(q, db)
    for k in (None, 1, 9, 150):
        dist, idx = M.hamming_ranking(q, db, k=k)
        kk = 150 if k is None else k
        assert dist.dtype == np.int32 and idx.dtype == np.int64 and idx.shape == (20, kk)
        for i in range(20):
            order = ref_order(d[i])[:kk]
            assert idx[i].tolist() == order
            assert dist[i].tolist() == [d[i][j] for j in order]


# ------------------------------------------------------------------------------------------------ mAP
def test_map_hand_computed():
    # query 0...0; database distances 0,1,1,2 (ties at 1 broken by index), relevance 1,0,1,0
    q = np.array([[1, 1]])
    db = np.array([[1, 1], [1, -1], [-1, 1], [-1, -1]])
    ql, dl = np.array([0]), np.array([0, 1, 0, 1])
    assert M.mean_average_precision(q, db, ql, dl) == pytest.approx((1 / 1 + 2 / 3) / 2)
    # k=2: one hit in top 2 -> AP@2 = 1 ("retrieved") or 1/min(2, 2) = 0.5
    assert M.mean_average_precision(q, db, ql, dl, k=2) == pytest.approx(1.0)
    assert M.mean_average_precision(q, db, ql, dl, k=2, normalize="min_k_relevant") == pytest.approx(0.5)
    # tie-averaged: items 1, 2 tied at distance 1 -> orders [0,1,2,3] (AP 5/6) and [0,2,1,3] (AP 1)
    assert M.mean_average_precision(q, db, ql, dl, ties="average") == pytest.approx((5 / 6 + 1) / 2)
    # k=2 tie-averaged: item 2 relevant in second place half the time: AP@2 = 1 either way ("retrieved")
    assert M.mean_average_precision(q, db, ql, dl, k=2, ties="average") == pytest.approx(1.0)
    assert M.mean_average_precision(
        q, db, ql, dl, k=2, ties="average", normalize="min_k_relevant"
    ) == pytest.approx((0.5 + 1.0) / 2)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("multilabel", [False, True])
def test_map_matches_reference(seed, multilabel):
    q, db, ql, dl = data(seed, bits=5, multilabel=multilabel)
    for k in (None, 1, 10, 37):
        for normalize in ("retrieved", "min_k_relevant"):
            got = M.mean_average_precision(q, db, ql, dl, k=k, normalize=normalize)
            assert got == pytest.approx(ref_map(q, db, ql, dl, k=k, normalize=normalize), abs=1e-12)


@pytest.mark.parametrize("seed", range(6))
def test_tie_averaged_ap_matches_all_permutations(seed):
    rng = np.random.default_rng(seed)
    n, bits = 7, 2  # 3 distance values for 7 items: large tie groups, <= 7! orderings
    for _ in range(4):
        q = to_codes(rng.standard_normal((1, bits)))
        db = to_codes(rng.standard_normal((n, bits)))
        ql, dl = np.array([0]), rng.integers(0, 2, n)
        d = ref_hamming(q, db)[0]
        rel = [dl[j] == 0 for j in range(n)]
        for k in [None, *range(1, n + 1)]:
            for normalize in ("retrieved", "min_k_relevant"):
                got = M.mean_average_precision(q, db, ql, dl, k=k, ties="average", normalize=normalize)
                ref = ref_ap_tie_average(d, rel, n if k is None else k, normalize)
                assert got == pytest.approx(ref, abs=1e-12), (k, normalize, d, rel)


def test_tie_average_equals_index_without_ties_and_differs_with_ties():
    rng = np.random.default_rng(3)
    bits = 40
    q = np.ones((1, bits), np.int8)
    db = np.ones((bits + 1, bits), np.int8)
    for j in range(bits + 1):
        db[j, :j] = -1  # item j at distance j: no ties
    db = db[rng.permutation(bits + 1)]
    ql, dl = np.array([0]), rng.integers(0, 2, bits + 1)
    for k in (None, 10):
        a = M.mean_average_precision(q, db, ql, dl, k=k, ties="average")
        assert a == pytest.approx(M.mean_average_precision(q, db, ql, dl, k=k), abs=1e-12)
    q2, db2, ql2, dl2 = data(4, bits=2, ndb=40)
    assert M.mean_average_precision(q2, db2, ql2, dl2, ties="average") != pytest.approx(
        M.mean_average_precision(q2, db2, ql2, dl2), abs=1e-6
    )


@pytest.mark.parametrize("seed", SEEDS)
def test_map_matches_torchmetrics(seed):
    """torchmetrics AP with a positive score ordering by (distance, index); k=None and top_k agree.

    torchmetrics zeroes targets whose score is <= 0 (>= 1.8.0), hence the positive score; for k=None its divisor
    (total relevant) equals the relevant-retrieved count, and with top_k it divides by relevant in the top k.
    """
    q, db, ql, dl = data(seed, bits=6, ndb=60)
    d = M.hamming_distance(q, db)
    n = len(db)
    for k in (None, 15):
        aps = []
        for i in range(len(q)):
            score = torch.tensor(((6 - d[i]) * n + (n - np.arange(n))).astype(np.float64))  # > 0, no ties
            target = torch.tensor(dl == ql[i])
            aps.append(float(retrieval_average_precision(score, target, top_k=k)))
        assert M.mean_average_precision(q, db, ql, dl, k=k) == pytest.approx(np.mean(aps), abs=1e-6)


def test_no_relevant_policies_and_count():
    q, db, ql, dl = data(5, bits=4)
    ql = ql.copy()
    ql[:3] = 99  # three queries with no relevant database item
    res = M.mean_average_precision(q, db, ql, dl, return_per_query=True)
    assert isinstance(res, M.MAPResult)
    assert res.n_no_relevant == 3 and res.n_evaluated == 20
    assert (res.per_query[:3] == 0).all()
    assert res.map == pytest.approx(ref_map(q, db, ql, dl))
    skip = M.mean_average_precision(q, db, ql, dl, no_relevant="skip", return_per_query=True)
    assert skip.n_evaluated == 17 and np.isnan(skip.per_query[:3]).all()
    assert skip.map == pytest.approx(ref_map(q, db, ql, dl, no_relevant="skip"))
    assert skip.map == pytest.approx(res.map * 20 / 17)
    with pytest.raises(ValueError, match="no relevant"):
        M.mean_average_precision(q, db, ql, dl, no_relevant="error")


def test_chunking_does_not_change_results(monkeypatch):
    q, db, ql, dl = data(6, nq=33, bits=5)
    full = M.retrieval_report(q, db, ql, dl, k_map=20)
    avg = M.mean_average_precision(q, db, ql, dl, ties="average", k=20)
    top = [M.mean_average_precision(q, db, ql, dl, k=20), M.precision_at_k(q, db, ql, dl, k=20)]
    qm, dbm, qlm, dlm = data(6, nq=33, bits=5, multilabel=True)
    top_m = M.mean_average_precision(qm, dbm, qlm, dlm, k=20)
    monkeypatch.setattr(ranking, "CHUNK_BYTES", 1)  # one query per chunk
    assert M.retrieval_report(q, db, ql, dl, k_map=20) == pytest.approx(full)
    assert M.mean_average_precision(q, db, ql, dl, ties="average", k=20) == pytest.approx(avg)
    assert [M.mean_average_precision(q, db, ql, dl, k=20), M.precision_at_k(q, db, ql, dl, k=20)] == top
    assert M.mean_average_precision(qm, dbm, qlm, dlm, k=20) == top_m
    assert top[0] == pytest.approx(ref_map(q, db, ql, dl, k=20))


@pytest.mark.parametrize("multilabel", [False, True])
def test_numpy_top_k_path_matches_reference(monkeypatch, multilabel):
    """Small k uses faiss (HammingIndex); with it switched off the numpy sort path must give the same answers."""
    monkeypatch.setattr(ranking, "FAISS_MAX_K", 0)
    q, db, ql, dl = data(11, bits=4, multilabel=multilabel)
    d = ref_hamming(q, db)
    dist, idx = M.hamming_ranking(q, db, k=9)
    assert [row.tolist() for row in idx] == [ref_order(d[i])[:9] for i in range(len(q))]
    for k in (1, 9, 40):
        assert M.mean_average_precision(q, db, ql, dl, k=k) == pytest.approx(ref_map(q, db, ql, dl, k=k))
        ref_p = [sum(ref_relevant(ql[i], dl[j]) for j in ref_order(d[i])[:k]) / k for i in range(len(q))]
        assert M.precision_at_k(q, db, ql, dl, k=k) == pytest.approx(np.mean(ref_p))
    if not multilabel:
        np.testing.assert_array_equal(M.knn_predict(q, db, dl, k=5), ref_knn(d, dl, 5))
    rep = M.retrieval_report(q, db, ql, dl, k_map=30)
    assert rep["map@k"] == pytest.approx(ref_map(q, db, ql, dl, k=30))


# ------------------------------------------------------------------------------------------------ precision
@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("multilabel", [False, True])
def test_precision_at_k_and_radius_match_reference(seed, multilabel):
    q, db, ql, dl = data(seed, bits=6, multilabel=multilabel)
    d = ref_hamming(q, db)
    for k in (1, 5, 50):
        ref = []
        for i in range(len(q)):
            ref.append(sum(ref_relevant(ql[i], dl[j]) for j in ref_order(d[i])[:k]) / k)
        assert M.precision_at_k(q, db, ql, dl, k=k) == pytest.approx(np.mean(ref))
    for radius in (0, 1, 2, 3):
        ref = []
        for i in range(len(q)):
            inside = [j for j in range(len(db)) if d[i][j] <= radius]
            ref.append(sum(ref_relevant(ql[i], dl[j]) for j in inside) / len(inside) if inside else 0.0)
        assert M.precision_within_radius(q, db, ql, dl, radius=radius) == pytest.approx(np.mean(ref))


def test_precision_at_k_tie_average_matches_permutations():
    rng = np.random.default_rng(0)
    for _ in range(10):
        q, db = to_codes(rng.standard_normal((1, 2))), to_codes(rng.standard_normal((6, 2)))
        ql, dl = np.array([1]), rng.integers(0, 2, 6)
        d = ref_hamming(q, db)[0]
        groups = [[j for j in range(6) if d[j] == g] for g in sorted(set(d))]
        for k in range(1, 7):
            vals = []
            for combo in itertools.product(*[list(itertools.permutations(g)) for g in groups]):
                order = [j for p in combo for j in p]
                vals.append(sum(dl[j] == 1 for j in order[:k]) / k)
            assert M.precision_at_k(q, db, ql, dl, k=k, ties="average") == pytest.approx(np.mean(vals))


def test_precision_within_radius_empty_ball_counts_zero():
    q = np.array([[1, 1, 1, 1]])
    db = np.array([[-1, -1, -1, -1], [-1, -1, -1, 1]])
    assert M.precision_within_radius(q, db, np.array([0]), np.array([0, 0]), radius=2) == 0.0
    assert M.precision_within_radius(q, db, np.array([0]), np.array([0, 1]), radius=3) == 0.0
    assert M.precision_within_radius(q, db, np.array([0]), np.array([1, 0]), radius=3) == 1.0


@pytest.mark.parametrize("seed", SEEDS)
def test_precision_recall_curves_match_reference(seed):
    q, db, ql, dl = data(seed, bits=5)
    d = ref_hamming(q, db)
    p, r = M.precision_recall_curve(q, db, ql, dl, by="radius")
    assert p.shape == r.shape == (6,)
    for radius in range(6):
        ps, rs = [], []
        for i in range(len(q)):
            inside = [j for j in range(len(db)) if d[i][j] <= radius]
            hits = sum(ql[i] == dl[j] for j in inside)
            total = sum(ql[i] == dl[j] for j in range(len(db)))
            ps.append(hits / len(inside) if inside else 0.0)
            rs.append(hits / total if total else 0.0)
        assert p[radius] == pytest.approx(np.mean(ps)) and r[radius] == pytest.approx(np.mean(rs))
    ranks = np.array([1, 7, 80, 150])
    p, r = M.precision_recall_curve(q, db, ql, dl, by="rank", ranks=ranks)
    for c, k in enumerate(ranks):
        ps, rs = [], []
        for i in range(len(q)):
            hits = sum(ql[i] == dl[j] for j in ref_order(d[i])[:k])
            total = sum(ql[i] == dl[j] for j in range(len(db)))
            ps.append(hits / k)
            rs.append(hits / total if total else 0.0)
        assert p[c] == pytest.approx(np.mean(ps)) and r[c] == pytest.approx(np.mean(rs))
    assert r[-1] == pytest.approx(1.0)


# ------------------------------------------------------------------------------------------------ kNN
def ref_knn(dist_rows, dl, k):
    preds = []
    for row in dist_rows:
        neigh = sorted(range(len(row)), key=lambda j: (row[j], j))[:k]
        counts = Counter(dl[j] for j in neigh)
        best = max(counts.values())
        preds.append(next(dl[j] for j in neigh if counts[dl[j]] == best))  # first-appearing tied class
    return preds


@pytest.mark.parametrize("seed", SEEDS)
def test_knn_hamming_matches_reference(seed):
    q, db, ql, dl = data(seed, bits=4, n_classes=3)  # heavy distance ties and vote ties
    d = ref_hamming(q, db)
    for k in (1, 2, 4, 7):
        ref = ref_knn(d, dl, k)
        np.testing.assert_array_equal(M.knn_predict(q, db, dl, k=k), ref)
        assert M.knn_accuracy(q, db, ql, dl, k=k) == pytest.approx(np.mean(np.array(ref) == ql))


@pytest.mark.parametrize("seed", SEEDS)
def test_knn_euclidean_matches_reference_with_exact_ties(seed):
    rng = np.random.default_rng(seed)
    db = rng.integers(-2, 3, (120, 5)).astype(np.float32)  # small integer grid: exact duplicate distances
    q = rng.integers(-2, 3, (15, 5)).astype(np.float32)
    dl, ql = rng.integers(0, 3, 120), rng.integers(0, 3, 15)
    d = [[sum((a - b) ** 2 for a, b in zip(qi, dj, strict=True)) for dj in db.tolist()] for qi in q.tolist()]
    for k in (1, 4, 7):
        np.testing.assert_array_equal(M.knn_predict(q, db, dl, k=k), ref_knn(d, dl, k))
        np.testing.assert_array_equal(
            M.knn_predict(torch.tensor(q), torch.tensor(db), dl, k=k), ref_knn(d, dl, k)
        )
        assert M.knn_accuracy(q, db, ql, dl, k=k) == pytest.approx(np.mean(np.array(ref_knn(d, dl, k)) == ql))


def test_knn_vote_tie_goes_to_first_appearing_class():
    q = np.array([[1, 1, 1]])
    db = np.array([[1, 1, 1], [1, 1, -1], [1, -1, 1], [-1, -1, -1]])
    # neighbours by (distance, index): 0 (class 5), 1 (class 2), 2 (class 2), 3; k=2: 1-1 tie -> class 5
    assert M.knn_predict(q, db, np.array([5, 2, 2, 5]), k=2).tolist() == [5]
    assert M.knn_predict(q, db, np.array([5, 2, 2, 5]), k=3).tolist() == [2]
    assert M.knn_predict(q, db, np.array([2, 5, 2, 5]), k=4).tolist() == [2]


def test_knn_multilabel_strict_majority():
    q = np.array([[1, 1]])
    db = np.array([[1, 1], [1, -1], [-1, 1], [-1, -1]])
    dl = np.array([[1, 0], [1, 1], [0, 1], [1, 1]])
    np.testing.assert_array_equal(M.knn_predict(q, db, dl, k=3), [[1, 1]])  # counts (2, 2) of 3
    np.testing.assert_array_equal(M.knn_predict(q, db, dl, k=2), [[1, 0]])  # counts (2, 1) of 2
    assert M.knn_accuracy(q, db, np.array([[1, 1]]), dl, k=2) == 0.5


def test_confusion_matrix_counts():
    cm = M.confusion_matrix(np.array([0, 1, 1, 2]), np.array([0, 1, 0, 2]), 4)
    expected = np.zeros((4, 4), int)
    for t, p in [(0, 0), (1, 1), (1, 0), (2, 2)]:
        expected[t, p] += 1
    np.testing.assert_array_equal(cm, expected)
    with pytest.raises(ValueError, match="outside"):
        M.confusion_matrix(np.array([0, 5]), np.array([0, 1]), 3)


# ------------------------------------------------------------------------------------------------ report, torchmetrics
def test_retrieval_report_matches_functions():
    q, db, ql, dl = data(7, bits=6)
    rep = M.retrieval_report(q, db, ql, dl, k_map=30, knn_k=5)
    assert set(rep) == {"map", "map@k", "p@k", "p@r2", "knn_acc"}
    assert rep["map"] == pytest.approx(ref_map(q, db, ql, dl))
    assert rep["map@k"] == pytest.approx(ref_map(q, db, ql, dl, k=30))
    assert rep["p@k"] == pytest.approx(M.precision_at_k(q, db, ql, dl, k=30))
    assert rep["p@r2"] == pytest.approx(M.precision_within_radius(q, db, ql, dl, radius=2))
    assert rep["knn_acc"] == pytest.approx(M.knn_accuracy(q, db, ql, dl, k=5))
    assert set(M.retrieval_report(q, db, ql, dl)) == {"map", "p@k", "p@r2", "knn_acc"}
    qm, dbm, qlm, dlm = data(7, bits=6, multilabel=True)
    repm = M.retrieval_report(qm, dbm, qlm, dlm, knn_k=5)
    assert repm["map"] == pytest.approx(ref_map(qm, dbm, qlm, dlm))
    assert repm["knn_acc"] == pytest.approx(M.knn_accuracy(qm, dbm, qlm, dlm, k=5))


def test_torchmetrics_wrappers_accumulate_batches():
    q, db, ql, dl = data(8, bits=6)
    m, a = M.HammingMAP(k=25), M.HammingKNNAccuracy(k=3)
    for metric in (m, a):
        for s in range(0, 150, 40):
            metric.update(torch.tensor(db[s : s + 40]), torch.tensor(dl[s : s + 40]), role="database")
        for s in range(0, 20, 6):
            metric.update(torch.tensor(q[s : s + 6]), torch.tensor(ql[s : s + 6]), role="query")
    assert float(m.compute()) == pytest.approx(ref_map(q, db, ql, dl, k=25))
    assert float(a.compute()) == pytest.approx(M.knn_accuracy(q, db, ql, dl, k=3))
    m.reset()
    with pytest.raises(ValueError, match="no query codes"):
        m.compute()
    with pytest.raises(ValueError, match="role"):
        m.update(torch.tensor(q), torch.tensor(ql), role="gallery")


@pytest.mark.parametrize("cls", [M.HammingMAP, M.HammingKNNAccuracy])
def test_torchmetrics_update_validates_codes_before_the_int8_cast(cls):
    """int8(1.3) == 1 and int8(0.5) == 0: the values must be checked before the cast, not after."""
    q, _, ql, _ = data(10, bits=6)
    metric = cls()
    with pytest.raises(ValueError, match=r"query codes must contain only ±1, found 120 other value"):
        metric.update(torch.tensor(q, dtype=torch.float32) * 1.3, torch.tensor(ql))
    with pytest.raises(ValueError, match="database codes must contain only ±1"):
        metric.update(torch.tensor(q, dtype=torch.float32) * 0.5, torch.tensor(ql), role="database")
    with pytest.raises(ValueError, match="query labels contains NaN or inf"):
        metric.update(torch.tensor(q), torch.full((len(q),), float("nan")))
    assert metric.query_codes == [] and metric.db_codes == []  # nothing was stored


# ------------------------------------------------------------------------------------------------ bad input
def test_bad_inputs_raise_clear_errors():
    q, db, ql, dl = data(9, bits=6, multilabel=False)
    with pytest.raises(ValueError, match="only ±1"):
        M.mean_average_precision(q * 0, db, ql, dl)
    with pytest.raises(ValueError, match="query_labels has 19 rows"):
        M.mean_average_precision(q, db, ql[:-1], dl)
    with pytest.raises(ValueError, match="bits"):
        M.mean_average_precision(q[:, :5], db, ql, dl)
    with pytest.raises(ValueError, match="larger than the database"):
        M.mean_average_precision(q, db, ql, dl, k=151)
    with pytest.raises(ValueError, match="larger than the database"):
        M.knn_accuracy(q, db, ql, dl, k=151)
    with pytest.raises(ValueError, match="k=None"):
        M.mean_average_precision(q, db, ql, dl, k=-1)
    with pytest.raises(ValueError, match="empty"):
        M.mean_average_precision(q, db[:0], ql, dl[:0])
    with pytest.raises(ValueError, match="empty"):
        M.knn_predict(q.astype(np.float32), np.zeros((0, 6), np.float32), dl[:0])
    feats = np.random.default_rng(0).standard_normal((20, 4)).astype(np.float32)
    feats[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN or inf"):
        M.knn_predict(feats, feats, ql)
    feats[3, 1] = np.inf
    with pytest.raises(ValueError, match="NaN or inf"):
        M.knn_accuracy(feats, feats, ql, ql)
    with pytest.raises(ValueError, match="ties"):
        M.mean_average_precision(q, db, ql, dl, ties="random")
    with pytest.raises(ValueError, match="ranks must lie"):
        M.precision_recall_curve(q, db, ql, dl, by="rank", ranks=[0, 5])
    with pytest.raises(ValueError, match="integer"):
        M.precision_recall_curve(q, db, ql, dl, by="rank", ranks=[1.5])


def test_bad_multilabel_labels():
    q, db, ql, dl = data(10, bits=6, multilabel=True)
    with pytest.raises(ValueError, match="number of classes"):
        M.mean_average_precision(q, db, ql[:, :3], dl)
    with pytest.raises(ValueError, match="multi-hot"):
        M.mean_average_precision(q, db, ql * 2, dl)
    with pytest.raises(ValueError, match="both"):
        M.mean_average_precision(q, db, ql[:, 0], dl)
    with pytest.raises(ValueError, match="ambiguous"):
        M.mean_average_precision(q, db, ql[:, :1], dl[:, :1])
    with pytest.raises(ValueError, match="shape"):
        M.mean_average_precision(q, db, ql[:, :, None], dl)


# ------------------------------------------------------------------------------------------------ float features
def ref_euclidean(a, b):
    return [[sum((x - y) ** 2 for x, y in zip(qa, qb, strict=True)) ** 0.5 for qb in b] for qa in a]


def ref_map_float(q, db, ql, dl, k=None, normalize="retrieved"):
    d = ref_euclidean(q.tolist(), db.tolist())
    k = len(db) if k is None else k
    aps = []
    for i in range(len(q)):
        rel = [ref_relevant(ql[i], dl[j]) for j in range(len(db))]
        aps.append(ref_ap([rel[j] for j in ref_order(d[i])], k, normalize, sum(rel)))
    return sum(aps) / len(aps)


def float_data(seed, nq=15, ndb=120, dim=4, n_classes=3, multilabel=False):
    """Features on a small integer grid, so many distances tie exactly (ties must go by database index)."""
    rng = np.random.default_rng(seed)
    q = rng.integers(-2, 3, (nq, dim)).astype(np.float32)
    db = rng.integers(-2, 3, (ndb, dim)).astype(np.float32)
    if multilabel:
        ql = (rng.random((nq, n_classes + 1)) < 0.3).astype(np.int64)
        dl = (rng.random((ndb, n_classes + 1)) < 0.3).astype(np.int64)
    else:
        ql, dl = rng.integers(0, n_classes, nq), rng.integers(0, n_classes, ndb)
    return q, db, ql, dl


def test_float_map_hand_computed_ties_by_index():
    # distances 1, 1, 2: stable order 0, 1, 2 -> relevance [0, 1, 1] -> AP = (1/2 + 2/3) / 2
    q, db = np.array([[0.0]]), np.array([[1.0], [-1.0], [2.0]])
    assert M.mean_average_precision_float(q, db, [0], [1, 0, 0]) == pytest.approx(7 / 12)
    # the other tie order would give (1 + 2/3) / 2
    assert M.mean_average_precision_float(q, db, [0], [0, 1, 0]) == pytest.approx(5 / 6)
    assert M.mean_average_precision_float(q, db, [0], [1, 0, 0], k=2) == pytest.approx(1 / 2)
    assert M.precision_at_k_float(q, db, [0], [1, 0, 0], k=2) == pytest.approx(1 / 2)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("multilabel", [False, True])
def test_float_map_and_precision_match_reference(seed, multilabel):
    q, db, ql, dl = float_data(seed, multilabel=multilabel)
    d = ref_euclidean(q.tolist(), db.tolist())
    for k in (None, 1, 7, 40):
        for normalize in ("retrieved", "min_k_relevant"):
            got = M.mean_average_precision_float(q, db, ql, dl, k=k, normalize=normalize)
            ref = ref_map_float(q, db, ql, dl, k=k, normalize=normalize)
            assert got == pytest.approx(ref), (k, normalize)
    for k in (1, 7, 40):
        ref_p = [sum(ref_relevant(ql[i], dl[j]) for j in ref_order(d[i])[:k]) / k for i in range(len(q))]
        assert M.precision_at_k_float(q, db, ql, dl, k=k) == pytest.approx(np.mean(ref_p))
    torch_in = M.mean_average_precision_float(torch.tensor(q), torch.tensor(db), ql, dl, k=7)
    assert torch_in == pytest.approx(ref_map_float(q, db, ql, dl, k=7))


@pytest.mark.parametrize("seed", SEEDS)
def test_float_map_of_codes_equals_hamming_map(seed):
    """For ±1 codes Euclidean distance = 2·sqrt(Hamming): same ranking, same ties, so the same mAP."""
    q, db, ql, dl = data(seed, bits=5)
    for k in (None, 10):
        assert M.mean_average_precision_float(q.astype(np.float32), db.astype(np.float32), ql, dl, k=k) == (
            pytest.approx(M.mean_average_precision(q, db, ql, dl, k=k))
        )


def test_float_map_no_relevant_policies_and_chunking(monkeypatch):
    q, db, ql, dl = float_data(4, nq=12)
    ql = ql.copy()
    ql[:2] = 7  # no database item has class 7
    res = M.mean_average_precision_float(q, db, ql, dl, return_per_query=True)
    assert res.n_no_relevant == 2 and res.n_evaluated == 12 and (res.per_query[:2] == 0).all()
    assert res.map == pytest.approx(ref_map_float(q, db, ql, dl))
    skip = M.mean_average_precision_float(q, db, ql, dl, no_relevant="skip")
    assert skip == pytest.approx(res.map * 12 / 10)
    with pytest.raises(ValueError, match="no relevant"):
        M.mean_average_precision_float(q, db, ql, dl, no_relevant="error")
    monkeypatch.setattr(ranking, "CHUNK_BYTES", 1)  # one query per chunk
    assert M.mean_average_precision_float(q, db, ql, dl, k=9) == pytest.approx(
        ref_map_float(q, db, ql, dl, k=9)
    )


def test_float_map_bad_inputs_raise_clear_errors():
    q, db, ql, dl = float_data(5)
    for bad in (np.nan, np.inf):
        broken = db.copy()
        broken[3, 1] = bad
        with pytest.raises(ValueError, match="db contains NaN or inf"):
            M.mean_average_precision_float(q, broken, ql, dl)
        with pytest.raises(ValueError, match="query contains NaN or inf"):
            M.precision_at_k_float(broken, db, dl, dl, k=5)
    with pytest.raises(ValueError, match="dimensions"):
        M.mean_average_precision_float(q[:, :3], db, ql, dl)
    with pytest.raises(ValueError, match="db_labels has 119 rows"):
        M.mean_average_precision_float(q, db, ql, dl[:-1])
    with pytest.raises(ValueError, match="larger than the database"):
        M.mean_average_precision_float(q, db, ql, dl, k=121)
    with pytest.raises(ValueError, match="empty"):
        M.mean_average_precision_float(q, db[:0], ql, dl[:0])
    with pytest.raises(ValueError, match="normalize"):
        M.mean_average_precision_float(q, db, ql, dl, normalize="total")


def test_knn_accuracy_sweep_equals_one_search_per_k():
    from hashlab.metrics import knn_accuracy, knn_accuracy_sweep

    rng = np.random.default_rng(3)
    db, q = rng.normal(size=(120, 5)), rng.normal(size=(40, 5))
    dl, ql = rng.integers(0, 3, 120), rng.integers(0, 3, 40)
    sweep = knn_accuracy_sweep(q, db, ql, dl, [1, 3, 5, 10], metric="euclidean")
    assert sweep == {k: knn_accuracy(q, db, ql, dl, k=k, metric="euclidean") for k in (1, 3, 5, 10)}
    codes = np.where(rng.random((60, 16)) < 0.5, 1, -1).astype(np.int8)
    cl = rng.integers(0, 4, 60)
    sweep = knn_accuracy_sweep(codes[:20], codes[20:], cl[:20], cl[20:], [2, 7])
    assert sweep == {k: knn_accuracy(codes[:20], codes[20:], cl[:20], cl[20:], k=k) for k in (2, 7)}
