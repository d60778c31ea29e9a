"""Continual hashing: streams, buffer policies, loss terms, frozen codes, atomic index swap, metrics, drift."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from hashlab.continual import (
    ClassBalancedReservoir,
    ClassIncrementalStream,
    ContinualConfig,
    VersionedIndex,
    average_forgetting,
    backward_transfer,
    code_stability,
    mmd2_unbiased,
    mmd_permutation_test,
    run_stream,
    train_base,
)
from hashlab.continual.drift import DriftDetector
from hashlab.continual.learner import ContinualResult, ContinualState
from hashlab.continual.loss_terms import AsymmetricCodeTerm, TargetTerm
from hashlab.continual.metrics import UpdateCost, relative_cost
from hashlab.continual.replay import check_buffer_size, herding, structure_aware_selection
from hashlab.continual.strategies import (
    CodeDistillation,
    CodeExtension,
    NaiveFinetune,
    Replay,
    Strategy,
    StructuredReplay,
)
from hashlab.continual.stream import drift_stream, shift_features
from hashlab.features import EmbeddingSet, FeatureSplit, get_embeddings
from hashlab.metrics import hamming_distance
from hashlab.module import HashingModule

CFG = ContinualConfig(bits=16, hidden=(64,), epochs=4, batch_size=64, seed=0)


def _blobs(n_per_class: int = 12, n_classes: int = 4, dim: int = 6, seed: int = 0) -> EmbeddingSet:
    rng = np.random.default_rng(seed)
    centers = rng.normal(0, 4, (n_classes, dim))

    def split(n):
        y = np.repeat(np.arange(n_classes), n)
        return FeatureSplit((centers[y] + rng.normal(0, 1, (len(y), dim))).astype(np.float32), y)

    return EmbeddingSet(
        "blobs", "given", split(n_per_class), split(4), split(4), [str(c) for c in range(n_classes)]
    )


@pytest.fixture(scope="module")
def digits_stream() -> ClassIncrementalStream:
    return ClassIncrementalStream(get_embeddings("digits", "pixels"), [[0, 1, 2, 3, 4], [5, 6, 7], [8, 9]])


@pytest.fixture(scope="module")
def base(digits_stream):
    return train_base(digits_stream, CFG)


# ------------------------------------------------------------------------------------------------ stream
def test_stream_tasks_partition_the_classes(digits_stream):
    emb = digits_stream.embeddings
    ids = np.concatenate([t.ids["train"] for t in digits_stream])
    assert np.array_equal(np.sort(ids), np.arange(len(emb.train.labels)))
    for task in digits_stream:
        assert set(np.unique(task.labels["test"])) == set(task.classes)
        assert np.array_equal(task.features["train"], emb.train.features[task.ids["train"]])


@pytest.mark.parametrize(
    ("tasks", "message"),
    [
        ([[0, 1], [1, 2]], "already seen"),
        ([[0, 1], []], "empty"),
        ([[0, 1], [7]], "no training items"),
        ([], "at least one task"),
    ],
)
def test_stream_rejects_bad_tasks(tasks, message):
    with pytest.raises(ValueError, match=message):
        ClassIncrementalStream(_blobs(), tasks)


def test_shift_and_drift_stream():
    x = np.random.default_rng(0).normal(size=(80, 3)).astype(np.float32)
    windows = drift_stream(x, np.zeros(80, int), n_windows=4, shift_at=2, kind="offset", strength=2.0)
    assert [w.shifted for w in windows] == [False, False, True, True]
    assert np.allclose(shift_features(x, "offset", 2.0), x + 2.0 * (x.std(0) + 1e-6))
    with pytest.raises(ValueError, match="unknown shift kind"):
        shift_features(x, "rotate")


# ------------------------------------------------------------------------------------------------ buffers
def test_reservoir_is_class_balanced_and_shrinks_quotas():
    res = ClassBalancedReservoir(12, seed=0)
    res.update(np.arange(100), np.repeat([0, 1], 50))
    assert res.class_counts() == {0: 6, 1: 6}
    res.update(np.arange(100, 160), np.repeat([2, 3], 30))
    assert res.class_counts() == {0: 3, 1: 3, 2: 3, 3: 3}
    ids = res.ids()
    assert len(ids) == 12 and len(np.unique(ids)) == 12
    labels = np.r_[np.repeat([0, 1], 50), np.repeat([2, 3], 30)]
    assert np.array_equal(np.bincount(labels[ids]), [3, 3, 3, 3])


def test_reservoir_keeps_each_item_with_equal_probability():
    # one class of 40 items streamed in order, quota 5: each item should be kept with probability 5/40
    n, q, runs = 40, 5, 2000
    hits = np.zeros(n)
    for seed in range(runs):
        hits[ClassBalancedReservoir(q, seed=seed).update(np.arange(n), np.zeros(n, int)).ids()] += 1
    freq = hits / runs
    sd = np.sqrt(q / n * (1 - q / n) / runs)
    assert np.abs(freq - q / n).max() < 5 * sd  # no item is favoured (a first-come buffer would fail this)
    assert abs(freq[: n // 2].mean() - freq[n // 2 :].mean()) < 0.03


def test_buffer_larger_than_data_is_rejected(digits_stream, base):
    with pytest.raises(ValueError, match="larger than the 3 past items"):
        check_buffer_size(4, 3)
    too_big = digits_stream[0].size("train") + 1
    with pytest.raises(ValueError, match="larger than"):
        run_stream(digits_stream, Replay(memory=too_big), base=base)


def test_herding_matches_hand_computation():
    x = np.array(
        [[0.0], [1.0], [2.0], [10.0]]
    )  # mean 3.25: pick 2 (|2-3.25|), then 1 ((2+1)/2 = 1.5 beats 6)
    assert herding(x, 2).tolist() == [2, 1]


def test_structure_aware_selection_takes_prototypes_and_boundary_items():
    x = np.array([[0.0], [0.2], [-0.2], [3.5], [10.0], [10.2], [9.8], [6.4]])
    y = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    sel = structure_aware_selection(x, y, capacity=4, boundary_fraction=0.5)
    # per class 2 slots: the item nearest the other class is the boundary item, herding picks a central one
    assert set(sel["boundary"].tolist()) == {3, 7}
    assert len(sel["prototypes"]) == 2 and set(y[sel["prototypes"]].tolist()) == {0, 1}
    assert len(sel["all"]) == 4


# ------------------------------------------------------------------------------------------------ loss terms
def test_target_term_matches_formula():
    targets = np.array([[1.0, -1.0], [0.5, 0.5], [-1.0, -1.0]], np.float32)
    term = TargetTerm(targets, weight=2.0, mask=np.array([True, False, True]))
    h = torch.tensor([[0.0, 0.0], [9.0, 9.0], [-1.0, 1.0]])
    name, value = term(None, (None, None, torch.tensor([0, 1, 2])), h)
    # rows 0 and 2: ||h-t||² = 2 and 4, mean 3, / k=2, * weight 2 = 3
    assert name == "distill" and value.item() == pytest.approx(3.0)


def test_asymmetric_term_matches_formula():
    db = np.array([[1, 1, -1, -1], [1, -1, 1, -1]], np.int8)
    term = AsymmetricCodeTerm(db, np.array([0, 1]), weight=1.0, dissimilar=0.0)
    h = torch.tensor([[1.0, 1.0, -1.0, -1.0], [0.5, 0.5, 0.5, 0.5]])
    _, value = term(None, (None, torch.tensor([0, 0]), None), h)
    inner = h.numpy() @ db.T / 4  # [[1, 0], [0, 0]]; targets [[1, 0], [1, 0]]
    expected = np.mean((inner - np.array([[1.0, 0.0], [1.0, 0.0]])) ** 2)
    assert value.item() == pytest.approx(expected) and expected == pytest.approx(0.25)


# ------------------------------------------------------------------------------------------------ metrics
def test_forgetting_and_bwt_on_a_hand_made_matrix():
    r = np.array([[0.9, np.nan, np.nan], [0.7, 0.8, np.nan], [0.6, 0.5, 0.85]])
    # forgetting: task 0 max(0.9, 0.7) - 0.6 = 0.3; task 1 max(0.8) - 0.5 = 0.3 -> 0.3
    assert average_forgetting(r) == pytest.approx(0.3)
    # BWT: (0.6 - 0.9 + 0.5 - 0.8) / 2 = -0.3
    assert backward_transfer(r) == pytest.approx(-0.3)
    r2 = np.array([[0.5, np.nan, np.nan], [0.8, 0.6, np.nan], [0.7, 0.7, 0.9]])
    # forgetting uses the best past value: task 0 0.8 - 0.7 = 0.1, task 1 0.6 - 0.7 = -0.1 -> 0; BWT (0.2 + 0.1)/2
    assert average_forgetting(r2) == pytest.approx(0.0)
    assert backward_transfer(r2) == pytest.approx(0.15)
    with pytest.raises(ValueError, match="square"):
        average_forgetting(np.zeros((2, 3)))


def test_code_stability_and_relative_cost():
    a = np.array([[1, 1, 1, 1], [1, -1, 1, -1], [-1, -1, -1, -1]], np.int8)
    b = a.copy()
    b[1, :2] *= -1
    assert code_stability(a, b) == {
        "fraction_changed": pytest.approx(1 / 3),
        "mean_bit_flips": 2 / 3,
        "n_changed": 1,
    }
    rel = relative_cost(UpdateCost(1.0, 100), UpdateCost(4.0, 1000))
    assert rel["time_saving"] == pytest.approx(0.75) and rel["gradient_ratio"] == pytest.approx(0.1)


# ------------------------------------------------------------------------------------------------ drift
def test_mmd2_unbiased_matches_brute_force():
    rng = np.random.default_rng(1)
    x, y, s = rng.normal(size=(5, 2)), rng.normal(1, 1, size=(4, 2)), 1.3

    def k(a, b):
        return np.exp(-np.sum((a - b) ** 2) / (2 * s**2))

    xx = sum(k(x[i], x[j]) for i, j in itertools.permutations(range(5), 2)) / 20
    yy = sum(k(y[i], y[j]) for i, j in itertools.permutations(range(4), 2)) / 12
    xy = sum(k(a, b) for a in x for b in y) / 20
    assert mmd2_unbiased(x, y, bandwidth=s) == pytest.approx(xx + yy - 2 * xy)


def test_mmd_detector_fires_on_shift_and_not_on_same_distribution(digits_stream):
    x = digits_stream.embeddings.train.features
    order = np.random.default_rng(0).permutation(len(x))
    ref, same = x[order[:200]], x[order[200:400]]
    detector = DriftDetector(ref, alpha=0.05, n_permutations=200, seed=0)
    assert not detector.check(same).drift
    shifted = detector.check(shift_features(same, "noise", 1.0, seed=1, reference=x))
    assert shifted.drift and shifted.mmd2 > shifted.threshold and shifted.p_value <= 0.05
    res = mmd_permutation_test(ref, same, seed=3)
    assert 0 < res.p_value <= 1 and res.threshold > 0


# ------------------------------------------------------------------------------------------------ versioned index
def _codes(n: int, bits: int = 16, seed: int = 0) -> np.ndarray:
    return np.where(np.random.default_rng(seed).random((n, bits)) < 0.5, -1, 1).astype(np.int8)


def test_versioned_index_swaps_atomically_and_counts_rewrites():
    vi = VersionedIndex(16)
    codes = _codes(10)
    vi.update(add_ids=np.arange(100, 110), add_codes=codes)
    feats = np.arange(10, dtype=np.float32)[:, None]

    def flip_three(x):  # a model update that changes the codes of items 0, 4, 7 only
        out = codes[x[:, 0].astype(int)].copy()
        out[np.isin(x[:, 0], [0, 4, 7]), 0] *= -1
        return out

    report = vi.update(encoder=flip_three, features=feats, reencode_ids=np.arange(100, 110), batch_size=4)
    assert (report.n_encoded, report.n_rewritten, report.new_version) == (10, 3, 2)
    assert report.mean_bit_flips == pytest.approx(0.3)
    changed = (vi.codes_for(np.arange(100, 110)) != codes).any(1)
    assert np.flatnonzero(changed).tolist() == [0, 4, 7]
    # the live index answers with item ids
    dist, ids = vi.search(vi.codes_for([105]), k=1)
    assert ids[0, 0] == 105 and dist[0, 0] == 0


def test_interrupted_update_leaves_live_index_untouched():
    vi = VersionedIndex(16)
    vi.update(add_ids=np.arange(8), add_codes=_codes(8))
    before_codes, before_version = vi.codes.copy(), vi.version
    before_search = vi.search(_codes(3, seed=5), k=4)
    calls = []

    def failing_encoder(x):
        calls.append(len(x))
        if len(calls) == 2:
            raise RuntimeError("model crashed mid re-encode")
        return -_codes(len(x), seed=9)

    with pytest.raises(RuntimeError, match="mid re-encode"):
        vi.update(
            add_ids=np.arange(8, 12),
            add_codes=_codes(4, seed=2),
            encoder=failing_encoder,
            features=np.zeros((8, 1)),
            batch_size=4,
        )
    assert calls == [4, 4] and vi.version == before_version and vi.ntotal == 8
    assert np.array_equal(vi.codes, before_codes)
    for a, b in zip(vi.search(_codes(3, seed=5), k=4), before_search, strict=True):
        assert np.array_equal(a, b)
    with pytest.raises(ValueError, match="8 bits but the index stores 16"):
        vi.update(add_ids=[20], add_codes=_codes(1, bits=8))
    with pytest.raises(ValueError, match="already indexed"):
        vi.update(add_ids=[3], add_codes=_codes(1))
    assert vi.version == before_version


def test_versioned_index_save_load_roundtrip(tmp_path):
    vi = VersionedIndex(16)
    vi.update(add_ids=np.array([5, 2, 9]), add_codes=_codes(3))
    loaded = VersionedIndex.load(vi.save(tmp_path / "idx.npz"))
    assert (
        np.array_equal(loaded.codes, vi.codes) and np.array_equal(loaded.ids, vi.ids) and loaded.version == 1
    )
    (tmp_path / "bad.npz").write_bytes(b"not an npz")
    with pytest.raises(ValueError, match="not a readable"):
        VersionedIndex.load(tmp_path / "bad.npz")


# ------------------------------------------------------------------------------------------------ strategies
def test_code_distillation_keeps_old_codes_bit_identical(digits_stream, base):
    result = run_stream(digits_stream, CodeDistillation(memory=30, gamma=1.0, weight=1.0), base=base)
    state = result.state
    old_ids = digits_stream[0].ids["train"]
    base_codes = base.model.encode(digits_stream[0].features["train"])
    stored = state.index.codes_for(old_ids)
    assert np.array_equal(stored, base_codes)  # never re-hashed, across two updates
    assert all(s.n_rewritten == 0 and s.n_encoded == 0 for s in result.swaps)
    # old items stay retrievable by their stored code (distance 0 to themselves)
    dist, _ = state.index.search(stored[:20], k=1)
    assert (dist[:, 0] == 0).all()
    # how many would change if re-encoded by the updated model: what the stability metric reports
    fresh = state.model.encode(digits_stream[0].features["train"])
    n_would_change = int((fresh != stored).any(1).sum())
    assert 0 < n_would_change < len(old_ids)
    # the stability recorded after the last update covers tasks 0 and 1; task 0 is its first block
    assert 0.0 < result.stability[-1]["fraction_changed"] < 1.0
    # the updated model still retrieves old classes from the frozen codes far above chance (0.2 for 5 classes)
    assert result.R[2, 0] > 0.6
    assert result.R.shape == (3, 3) and np.isnan(result.R[0, 1])


def test_reencode_backfill_rewrites_only_changed_codes(digits_stream, base):
    result = run_stream(digits_stream, NaiveFinetune(backfill="reencode"), base=base)
    swap, stab = result.swaps[1], result.stability[1]
    assert swap.n_encoded == digits_stream[0].size("train")
    assert swap.n_rewritten == stab["n_changed"] > 0
    n = digits_stream[1].size("train")  # ragged last batch dropped: 326 items -> 5 batches of 64 per epoch
    assert result.costs[1].sample_gradients == CFG.epochs * (n // CFG.batch_size) * CFG.batch_size


def test_code_extension_keeps_legacy_bits(digits_stream, base):
    result = run_stream(digits_stream, CodeExtension(extra_bits=8), base=base)
    assert result.state.index.bits == CFG.bits + 16
    assert all(s["n_changed"] == 0 for s in result.stability)
    legacy = result.state.index.codes_for(digits_stream[0].ids["train"])[:, : CFG.bits]
    assert np.array_equal(legacy, base.model.encode(digits_stream[0].features["train"]))


class _Exploding(Strategy):
    name = "exploding"

    def plan(self, state, task):
        plan = NaiveFinetune().plan(state, task)

        def term(module, batch, h):
            raise RuntimeError("update interrupted")

        plan.terms = [term]
        return plan


def test_interrupted_training_update_leaves_index_untouched(digits_stream, base):
    from hashlab.continual import learner

    state = ContinualState(digits_stream, CFG, base.model)
    state.index.update(
        add_ids=digits_stream[0].ids["train"], add_codes=base.model.encode(digits_stream[0].features["train"])
    )
    before = state.index.codes.copy()
    plan = _Exploding().plan(state, digits_stream[1])
    with pytest.raises(RuntimeError, match="update interrupted"):
        learner._fit(plan.model, plan.features, plan.labels, CFG, (plan.features, plan.labels), plan.terms)
    assert state.index.version == 1 and np.array_equal(state.index.codes, before)
    assert plan.model.extra_loss_terms == []  # the hook list is restored even on failure


def test_checkpoint_with_other_bit_length_is_rejected(digits_stream, base, tmp_path):
    state = ContinualState(digits_stream, CFG, base.model)
    other = HashingModule(in_dim=digits_stream.in_dim, bits=32, n_classes=10, hidden=(64,))
    with pytest.raises(ValueError, match="32-bit codes but the live index stores 16-bit"):
        state.load_checkpoint(other.save(tmp_path / "other.pt"))
    assert state.load_checkpoint(base.model.save(tmp_path / "same.pt")).bits == 16


def test_same_seed_same_codes(digits_stream, base):
    a = run_stream(digits_stream, NaiveFinetune(), base=base)
    b = run_stream(digits_stream, NaiveFinetune(), base=base)
    assert np.array_equal(a.state.index.codes, b.state.index.codes)
    assert np.allclose(a.R, b.R, equal_nan=True)
    assert hamming_distance(a.state.index.codes[:1], b.state.index.codes[:1])[0, 0] == 0


# ------------------------------------------------------------------------------------------------ notebook helpers
def _fake_result(name: str, old: float, all_: float) -> ContinualResult:
    r = np.array([[0.9, np.nan], [old, 0.5]])
    return ContinualResult(
        name,
        r,
        [old, old],
        [0.5, 0.5],
        [all_, all_],
        [UpdateCost(), UpdateCost()],
        [{}, {}],
        [],
        [(0,), (1,)],
    )


def test_lifelong_claims_read_the_numbers():
    import pandas as pd

    from hashlab.studies.continual import claims_statement, lifelong_claims

    results = {
        "distill": _fake_result("distill", 0.9, 0.8),
        "naive": _fake_result("naive", 0.6, 0.7),
        "full": _fake_result("full", 0.95, 0.85),
    }
    sweep = pd.DataFrame(
        {"chunk_share": [0.1, 0.5], "time_saving": [0.85, 0.3], "gradient_saving": [0.9, 0.45]}
    )
    claims = lifelong_claims(results, sweep).set_index("measure")
    assert claims.loc["old-class mAP: lifelong vs naive (relative)", "value"] == pytest.approx(0.5)
    assert claims.loc["old-class mAP: lifelong vs naive (relative)", "held"]
    assert not claims.loc["all-class mAP: lifelong vs naive (relative)", "held"]  # 0.8 / 0.7 - 1 = 14 %
    assert claims.loc["old-class mAP: lifelong vs naive (absolute points)", "held"]  # 30 points
    assert claims.loc["sample gradients vs full retrain, chunk share 10%", "held"]
    assert not claims.loc["sample gradients vs full retrain, chunk share 50%", "held"]
    text = claims_statement(results, sweep)
    assert "held at chunk share 10%; not at 50%" in text and "not better: -5.0 points" in text


def test_widget_builds_and_runs(digits_stream, base):
    from hashlab.widgets import ContinualWidget

    w = ContinualWidget(digits_stream, base, memory=20, weight=0.5)
    assert (w.memory.value, w.weight.value) == (20, 0.5)
    w.memory.value = 0
    result = w.run()
    assert result is w.result and result.strategy == "distill(m=0,w=0.5)"
    assert len(w.output.outputs) == 2 and "done" in w.status.value
    with pytest.raises(ValueError, match="memory must be in"):
        ContinualWidget(digits_stream, base, memory=10_000)


def test_soft_code_extension_regularises_instead_of_freezing(digits_stream, base):
    soft = run_stream(digits_stream, CodeExtension(extra_bits=8, mode="soft", weight=1.0), base=base)
    assert soft.state.index.bits == CFG.bits + 16
    assert soft.stability[1]["n_changed"] > 0  # legacy bits may move: only softly held
    none = run_stream(digits_stream, CodeExtension(extra_bits=8, mode="soft", weight=0.0), base=base)
    assert soft.stability[1]["mean_bit_flips"] < none.stability[1]["mean_bit_flips"]
    with pytest.raises(ValueError, match="multiple of 8"):
        CodeExtension(extra_bits=4)


def test_structured_replay_buffer_stays_class_balanced(digits_stream, base):
    strategy = StructuredReplay(memory=30, seed=0)
    run_stream(digits_stream, strategy, base=base)
    labels = digits_stream.embeddings.train.labels[strategy.buffer_ids()]
    assert np.array_equal(np.bincount(labels, minlength=10), np.full(10, 3))
    assert len(strategy.selection["boundary"]) == 10 and len(strategy.selection["prototypes"]) == 20
