"""Federated hashing: Dirichlet partitions, FedAvg averaging, a federated round, baselines, the α widget."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from hashlab.features import get_embeddings
from hashlab.federated import (
    FederatedConfig,
    average_states,
    client_class_counts,
    client_margin_scales,
    dirichlet_partition,
    fedavg_step,
    head_parameter_count,
    label_skew,
    run_fedavg,
    run_local_only,
)
from hashlab.module import HashingModule
from hashlab.widgets import FederatedWidget

LABELS = np.repeat(np.arange(10), 60)


@pytest.fixture(scope="module")
def digits():
    return get_embeddings("digits", "pixels")


# ----------------------------------------------------------------------------------------------------- partition
@pytest.mark.parametrize("alpha", [0.1, 1.0, 100.0, math.inf])
def test_partition_assigns_every_item_exactly_once(alpha):
    parts = dirichlet_partition(LABELS, 6, alpha, seed=3)
    assert len(parts) == 6
    allitems = np.concatenate(parts)
    assert np.array_equal(np.sort(allitems), np.arange(len(LABELS)))  # no item lost, none twice
    assert all(len(p) >= 2 and p.dtype == np.int64 for p in parts)
    assert client_class_counts(LABELS, parts, 10).sum() == len(LABELS)


def test_partition_is_seeded():
    a = dirichlet_partition(LABELS, 5, 0.5, seed=7)
    b = dirichlet_partition(LABELS, 5, 0.5, seed=7)
    c = dirichlet_partition(LABELS, 5, 0.5, seed=8)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert not all(np.array_equal(x, y) for x, y in zip(a, c, strict=True))


def test_skew_grows_as_alpha_shrinks():
    def mean_skew(alpha):
        return np.mean([label_skew(LABELS, dirichlet_partition(LABELS, 5, alpha, seed=s)) for s in range(5)])

    skews = [mean_skew(a) for a in (math.inf, 1.0, 0.1)]
    assert all(b > a + 0.05 for a, b in zip(skews, skews[1:], strict=False)), skews
    assert skews[0] < 0.15  # IID: every client close to the global mix
    assert skews[-1] > 0.5  # α = 0.1: most clients dominated by few classes


def test_label_skew_against_hand_computation():
    labels = np.array([0, 0, 1, 1])
    # client 0 = {0, 0}, client 1 = {1, 1}: each is at TV distance 0.5 from the global (0.5, 0.5)
    assert label_skew(labels, [np.array([0, 1]), np.array([2, 3])]) == pytest.approx(0.5)
    assert label_skew(labels, [np.array([0, 2]), np.array([1, 3])]) == pytest.approx(0.0)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_clients": 3, "alpha": 0.0}, "alpha must be > 0"),
        ({"n_clients": 3, "alpha": -1.0}, "alpha must be > 0"),
        ({"n_clients": 3, "alpha": float("nan")}, "alpha must be > 0"),
        ({"n_clients": 400, "alpha": 1.0}, "only 600"),
        ({"n_clients": 0, "alpha": 1.0}, "n_clients"),
    ],
)
def test_partition_bad_input(kwargs, message):
    with pytest.raises(ValueError, match=message):
        dirichlet_partition(LABELS, **kwargs)


def test_partition_reports_an_empty_client():
    # 4 items of one class over 3 clients at tiny alpha: some client ends up with nothing
    with pytest.raises(ValueError, match="empty client"):
        dirichlet_partition(np.zeros(4, dtype=np.int64), 3, 0.01, seed=0, min_size=1, max_tries=5)


def test_partition_rejects_bad_labels():
    with pytest.raises(ValueError, match="1-D integer"):
        dirichlet_partition(np.zeros((4, 2), dtype=np.int64), 2, 1.0)
    with pytest.raises(ValueError, match="empty"):
        dirichlet_partition(np.zeros(0, dtype=np.int64), 2, 1.0)


# ----------------------------------------------------------------------------------------------------- FedAvg
def _tiny(seed: int) -> HashingModule:
    torch.manual_seed(seed)
    return HashingModule(in_dim=3, bits=2, n_classes=2, method="dsh", hidden=())


def test_fedavg_matches_hand_computation():
    a, b, server = _tiny(0), _tiny(1), _tiny(2)
    with torch.no_grad():
        for p in a.head.parameters():
            p.fill_(1.0)
        for p in b.head.parameters():
            p.fill_(4.0)
    # sizes 1 and 2: w = (1 * 1 + 2 * 4) / 3 = 3
    fedavg_step(server, [a, b], [1, 2])
    for p in server.head.parameters():
        assert torch.allclose(p, torch.full_like(p, 3.0))
    # an arbitrary pair of states, written out plainly
    wa = {"w": torch.tensor([[1.0, -2.0]]), "n": torch.tensor(5)}
    wb = {"w": torch.tensor([[3.0, 6.0]]), "n": torch.tensor(5)}
    avg = average_states([wa, wb], [3, 1])
    assert torch.allclose(avg["w"], torch.tensor([[0.75 * 1 + 0.25 * 3, 0.75 * -2 + 0.25 * 6]]))
    assert int(avg["n"]) == 5
    assert head_parameter_count(a) == 3 * 2 + 2


def test_average_states_bad_input():
    s = {"w": torch.ones(2)}
    with pytest.raises(ValueError, match="no client states"):
        average_states([], [])
    with pytest.raises(ValueError, match="2 states but 1 weights"):
        average_states([s, s], [1])
    with pytest.raises(ValueError, match="weights"):
        average_states([s, s], [0, 0])
    with pytest.raises(ValueError, match="different keys"):
        average_states([s, {"v": torch.ones(2)}], [1, 1])


def test_margin_scales_follow_the_server_rule():
    # gaps 4 and 12 (sizes 1, 1): mean 8; s = 1 + (8 - gap) / 8 -> 1.5, 0.5; a single-class client keeps 1
    stats = [(2.0, 6.0), (1.0, 13.0), (1.0, float("nan"))]
    scales = client_margin_scales(stats, [1, 1, 5], bits=8, gamma=1.0, scale_range=(0.25, 4.0))
    assert np.allclose(scales, [1.5, 0.5, 1.0])
    assert np.allclose(client_margin_scales(stats, [1, 1, 5], 8, 1.0, (0.75, 1.25)), [1.25, 0.75, 1.0])


def test_config_bad_input():
    with pytest.raises(ValueError, match="alpha"):
        FederatedConfig(alpha=0)
    with pytest.raises(ValueError, match="rounds"):
        FederatedConfig(rounds=0)
    with pytest.raises(KeyError, match="unknown method"):
        FederatedConfig(method="nope")


SMALL = FederatedConfig(
    n_clients=3, alpha=1.0, rounds=1, local_epochs=2, bits=16, hidden=(64,), batch_size=32
)


def test_one_round_improves_over_the_initial_model(digits):
    result = run_fedavg(digits, SMALL)
    hist = result.history
    assert list(hist["round"]) == [0, 1]
    assert hist["map"].iloc[1] >= hist["map"].iloc[0] + 0.05, hist
    assert result.params_sent == 2 * 3 * head_parameter_count(result.model)
    assert result.margins is not None and result.margins.shape == (
        1,
        3,
    )  # DSH has a margin: scaled per client
    again = run_fedavg(digits, SMALL)
    assert np.array_equal(result.model.encode(digits.test.features), again.model.encode(digits.test.features))


def test_parts_must_match_clients(digits):
    parts = dirichlet_partition(digits.train.labels, 2, 1.0)
    with pytest.raises(ValueError, match="3 clients but 2 parts"):
        run_fedavg(digits, SMALL, parts)


def test_local_only_scores_every_client(digits):
    result = run_local_only(digits, SMALL.replace(rounds=2))
    assert len(result.per_client) == 3
    assert result.metrics["map"] == pytest.approx(result.per_client["map"].mean())
    assert result.metrics["map"] > 0.15  # random 16-bit codes on 10 balanced classes: about 0.1


# ----------------------------------------------------------------------------------------------------- widget
def test_widget_button_runs_fedavg(digits):
    w = FederatedWidget(digits, SMALL, alpha=0.1)
    w.alpha.value = 10.0
    w.train_button.click()
    assert w.result is not None, w.status.value
    assert w.result.config.alpha == pytest.approx(10.0)
    assert "done" in w.status.value and len(w.output.outputs) == 3
    w.iid.value = True
    assert w.current_alpha() == math.inf
    with pytest.raises(ValueError, match="alpha"):
        FederatedWidget(digits, SMALL, alpha=0.0)
