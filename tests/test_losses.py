"""Losses checked against their formulas on tiny hand-built inputs (values computed plainly in the tests)."""

from __future__ import annotations

import math

import pytest
import pytorch_lightning as pl
import torch

from hashlab.losses import THESIS_METHODS, HashLoss, available_losses, get_loss

H3 = [[0.5, -0.2, 0.9], [0.1, 0.7, -0.4], [-0.6, 0.3, 0.8]]
Y3 = [0, 0, 1]


def _h(rows=H3) -> torch.Tensor:
    return torch.tensor(rows, dtype=torch.float64, requires_grad=True)


def _sqdist(a, b) -> float:
    return sum((x - y) ** 2 for x, y in zip(a, b, strict=True))


def _dot(a, b) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


def _sgn(x: float) -> float:
    return 1.0 if x >= 0 else -1.0


def _pairs(n):
    return [(i, j) for i in range(n) for j in range(n) if i != j]


# ---------------------------------------------------------------- registry and validation


def test_registry_lists_thesis_methods_in_order():
    assert THESIS_METHODS == ("dsh", "cnnh", "dpsh", "dhn", "hashnet", "dsdh", "dnnh", "dshgan", "tcl")
    assert set(THESIS_METHODS) <= set(available_losses())
    for name in available_losses():
        loss = get_loss(name, bits=4, n_classes=3)
        assert isinstance(loss, HashLoss) and loss.name == name


def test_unknown_name_lists_registry():
    with pytest.raises(KeyError) as err:
        get_loss("nope", 8, 3)
    assert "dpsh" in str(err.value) and "dsh" in str(err.value)


def test_unknown_hparam_is_rejected():
    with pytest.raises(ValueError, match="margni"):
        get_loss("dsh", 8, 3, margni=1.0)


@pytest.mark.parametrize("bits", [0, -3, 2.5, True, "8"])
def test_bad_bits(bits):
    with pytest.raises(ValueError, match="bits"):
        get_loss("dpsh", bits, 3)


def test_numpy_integer_sizes_are_accepted():
    import numpy as np

    loss = get_loss("dsh", np.int64(8), np.int32(3))
    assert loss.bits == 8 and type(loss.bits) is int and loss.margin == 16.0


@pytest.mark.parametrize(
    "labels",
    [torch.tensor([0, 1]), torch.tensor([[0, 1], [1, 0], [0, 1]]), torch.zeros(3, 1, 1, dtype=torch.long)],
)
def test_wrong_label_shape(labels):
    loss = get_loss("dpsh", 3, 3)
    with pytest.raises(ValueError, match="labels"):
        loss(_h(), labels)


def test_wrong_code_width_and_label_range():
    loss = get_loss("dsh", 4, 3)
    with pytest.raises(ValueError, match=r"\(B, 4\)"):
        loss(_h(), torch.tensor(Y3))
    loss = get_loss("dsh", 3, 2)
    with pytest.raises(ValueError, match="class ids"):
        loss(_h(), torch.tensor([0, 1, 2]))


# ---------------------------------------------------------------- DSH


def _dsh_reference(h, y, margin, alpha):
    """Liu et al. (2016) per pair: contrastive term + alpha (|| |h_i| - 1 ||_1 + || |h_j| - 1 ||_1), mean over pairs."""
    reg = [sum(abs(abs(v) - 1) for v in row) for row in h]
    terms = []
    for i, j in _pairs(len(h)):
        d = _sqdist(h[i], h[j])
        s = 1.0 if y[i] == y[j] else 0.0
        terms.append(0.5 * s * d + 0.5 * (1 - s) * max(margin - d, 0.0) + alpha * (reg[i] + reg[j]))
    return sum(terms) / len(terms)


def test_dsh_defaults_are_the_papers():
    # Liu et al. (2016) and DeepHash-pytorch: raw outputs, m = 2 * bits; paper: alpha = 0.01
    loss = get_loss("dsh", 24, 10)
    assert loss.margin == 48.0 and loss.alpha == 0.01
    z = torch.tensor([[3.0, -0.2, 0.0, -7.5]])
    assert torch.equal(loss.activation(z), z)  # no tanh: the network's last layer is linear


def test_dsh_on_raw_outputs_hand_computed():
    # bits 2, margin 2L = 4, dissimilar pair h1 = (2, 0), h2 = (1, 0): d = 1, hinge 4 - 1 = 3, term 1.5;
    # regulariser: || |h1| - 1 ||_1 = 1 + 1 = 2, || |h2| - 1 ||_1 = 0 + 1 = 1, per pair 3, times alpha 0.01
    loss = get_loss("dsh", 2, 2)
    z = torch.tensor([[2.0, 0.0], [1.0, 0.0]], dtype=torch.float64, requires_grad=True)
    out = loss(loss.activation(z), torch.tensor([0, 1]))
    assert out.total.item() == pytest.approx(1.5 + 0.01 * 3.0, rel=1e-12)
    assert out.parts["contrastive"].item() == pytest.approx(1.5) and out.parts["regularizer"].item() == 3.0
    out.total.backward()
    # both ordered pairs are the same: d/dz1[0] of 0.5 (4 - d) is -(z1[0] - z2[0]) = -1 (pushes the pair apart);
    # the regulariser pulls z1[0] = 2 back towards 1 with alpha * sign(|z| - 1) sign(z) = +0.01
    assert z.grad[0, 0].item() == pytest.approx(-1.0 + 0.01, rel=1e-12)


def test_dsh_value_default_margin_and_mutation():
    loss = get_loss("dsh", 3, 2, alpha=0.1)
    assert loss.margin == 6.0  # 2 * bits
    out = loss(_h(), torch.tensor(Y3))
    assert out.total.item() == pytest.approx(_dsh_reference(H3, Y3, 6.0, 0.1), rel=1e-10)
    loss.margin = 1.0
    out2 = loss(_h(), torch.tensor(Y3))
    assert out2.total.item() == pytest.approx(_dsh_reference(H3, Y3, 1.0, 0.1), rel=1e-10)
    assert out2.total.item() != pytest.approx(out.total.item())


def test_dsh_per_anchor_margin_tensor():
    loss = get_loss("dsh", 3, 2, alpha=0.0)
    loss.margin = torch.tensor([1.0, 2.0, 3.0])
    out = loss(_h(), torch.tensor(Y3))
    terms = []
    for i, j in _pairs(3):
        d = _sqdist(H3[i], H3[j])
        s = 1.0 if Y3[i] == Y3[j] else 0.0
        terms.append(0.5 * s * d + 0.5 * (1 - s) * max([1.0, 2.0, 3.0][i] - d, 0.0))
    assert out.total.item() == pytest.approx(sum(terms) / 6, rel=1e-6)


@pytest.mark.parametrize("bad", [-0.5, float("nan"), float("inf"), torch.tensor([1.0, -1.0])])
def test_margin_validation(bad):
    loss = get_loss("dsh", 3, 2)
    with pytest.raises(ValueError, match="margin"):
        loss.margin = bad


def test_margin_of_wrong_shape_is_rejected_at_use():
    loss = get_loss("tcl", 3, 3)
    loss.margin = torch.ones(4, 4)  # a per-pair margin means nothing to a per-sample loss
    with pytest.raises(ValueError, match="margin of shape"):
        loss(_h(H4).float(), torch.tensor([0, 1, 2, 0]))
    loss = get_loss("dsh", 3, 3)
    loss.margin = torch.ones(5)
    with pytest.raises(ValueError, match="margin of shape"):
        loss(_h(H4), torch.tensor([0, 1, 2, 0]))


def test_losses_without_margin_have_no_margin_attribute():
    assert not hasattr(get_loss("dpsh", 3, 2), "margin")


# ---------------------------------------------------------------- DPSH


def test_dpsh_value():
    lam = 0.3
    loss = get_loss("dpsh", 3, 2, quant_weight=lam)
    out = loss(_h(), torch.tensor(Y3))
    terms = []
    for i, j in _pairs(3):
        theta = 0.5 * _dot(H3[i], H3[j])
        s = 1.0 if Y3[i] == Y3[j] else 0.0
        terms.append(math.log(1 + math.exp(theta)) - s * theta)
    quant = sum((v - _sgn(v)) ** 2 for row in H3 for v in row) / 9
    assert out.total.item() == pytest.approx(sum(terms) / 6 + lam * quant, rel=1e-10)
    assert out.parts["quantization"].item() == pytest.approx(quant, rel=1e-10)


def test_dpsh_multi_hot_similarity():
    loss = get_loss("dpsh", 3, 3, quant_weight=0.0)
    multi = torch.tensor([[1, 1, 0], [0, 1, 0], [0, 0, 1]], dtype=torch.float64)
    single = torch.tensor([0, 0, 1])  # same similarity pattern as the multi-hot labels above
    assert loss(_h(), multi).total.item() == pytest.approx(loss(_h(), single).total.item(), rel=1e-12)


@pytest.mark.parametrize("name", ["dsh", "dpsh"])
def test_gradient_reaches_h(name):
    h = _h()
    loss = get_loss(name, 3, 2)
    loss(h, torch.tensor(Y3)).total.backward()
    assert h.grad is not None and torch.isfinite(h.grad).all() and h.grad.abs().sum() > 0


# ---------------------------------------------------------------- helpers shared by the remaining losses

H4 = [[0.5, -0.2, 0.9], [0.1, 0.7, -0.4], [-0.6, 0.3, 0.8], [0.2, -0.9, -0.1]]
Y4 = [0, 0, 1, 1]


def _nll_pairs(h, y, scale=0.5):
    out = []
    for i, j in _pairs(len(h)):
        theta = scale * _dot(h[i], h[j])
        s = 1.0 if y[i] == y[j] else 0.0
        out.append(math.log(1 + math.exp(theta)) - s * theta)
    return out


def _triplets(y):
    n = len(y)
    return [
        (a, p, q)
        for a in range(n)
        for p in range(n)
        for q in range(n)
        if p != a and y[p] == y[a] and y[q] != y[a]
    ]


# ---------------------------------------------------------------- DHN


def test_dhn_value_log_cosh():
    lam = 0.7
    out = get_loss("dhn", 3, 2, quant_weight=lam)(_h(), torch.tensor(Y3))
    nll = _nll_pairs(H3, Y3)
    quant = sum(math.log(math.cosh(abs(v) - 1)) for row in H3 for v in row) / 9
    assert out.total.item() == pytest.approx(sum(nll) / 6 + lam * quant, rel=1e-10)


# ---------------------------------------------------------------- HashNet


def test_hashnet_weighted_likelihood():
    alpha = 0.8
    loss = get_loss("hashnet", 3, 2, alpha=alpha)
    out = loss(_h(), torch.tensor(Y3))
    pairs = _pairs(3)
    sim = {p: 1.0 if Y3[p[0]] == Y3[p[1]] else 0.0 for p in pairs}
    n_s, n_1 = len(pairs), sum(sim.values())
    n_0 = n_s - n_1
    total = 0.0
    for i, j in pairs:
        ip = alpha * _dot(H3[i], H3[j])
        w = n_s / n_1 if sim[(i, j)] else n_s / n_0
        total += w * (math.log(1 + math.exp(ip)) - sim[(i, j)] * ip)
    assert out.total.item() == pytest.approx(total / n_s, rel=1e-10)


def test_hashnet_defaults_are_the_authors_and_peer_is_an_option():
    from hashlab.losses import HashNetContinuation

    # thuml/HashNet (Cao et al. 2017, authors' code): sigmoid_param = 10 / bits, beta = (1 + 0.005 iter)^0.5
    # recomputed every 200 iterations
    loss = get_loss("hashnet", 16, 4)
    assert loss.alpha == pytest.approx(10 / 16) and loss.beta == 1.0
    assert loss.variant == "authors" and loss.continuation == "authors"
    assert [loss.beta_at(epoch=5, global_step=t) for t in (0, 199, 200, 399, 400)] == pytest.approx(
        [1.0, 1.0, math.sqrt(2.0), math.sqrt(2.0), math.sqrt(3.0)]
    )
    # swuxyj/DeepHash-pytorch: alpha = 0.1, beta = (epoch // 20 + 1)^0.5, per epoch
    peer = get_loss("hashnet", 16, 4, variant="peer")
    assert peer.alpha == 0.1 and peer.continuation == "peer"
    assert [peer.beta_at(epoch=e, global_step=10**6) for e in (0, 19, 20, 40)] == pytest.approx(
        [1.0, 1.0, math.sqrt(2.0), math.sqrt(3.0)]
    )
    # hashlab's former schedule stays available by name; alpha can be overridden on any variant
    old = get_loss("hashnet", 16, 4, continuation="epoch", alpha=0.5)
    assert old.alpha == 0.5 and old.beta_at(epoch=3, global_step=0) == pytest.approx(2.0)
    assert [type(cb) for cb in loss.callbacks()] == [HashNetContinuation]
    with pytest.raises(ValueError, match="variant"):
        get_loss("hashnet", 16, 4, variant="paper")
    with pytest.raises(ValueError, match="continuation"):
        get_loss("hashnet", 16, 4, continuation="fast")


def test_only_hashnet_brings_callbacks_and_only_dshgan_needs_the_input_size():
    for name in available_losses():
        loss = get_loss(name, 4, 3)
        assert (loss.callbacks() != []) == (name == "hashnet"), name
        assert loss.needs_input_dim == (name == "dshgan"), name
    get_loss("dpsh", 4, 3).bind_input_dim(7)  # the base hook accepts and ignores it


def test_hashnet_beta_setter_and_activation():
    loss = get_loss("hashnet", 16, 4)
    z = torch.tensor([[0.3, -0.2]])
    loss.beta = 4.0
    assert torch.allclose(loss.activation(z), torch.tanh(4.0 * z))
    for bad in (0.0, -1.0, float("nan")):
        with pytest.raises(ValueError, match="beta"):
            loss.beta = bad


# ---------------------------------------------------------------- triplet / DNNH


@pytest.mark.parametrize("labels", [Y4, [0, 1, 0, 1]])
def test_triplet_batch_all_value_and_reductions(labels):
    m = 0.5
    loss = get_loss("triplet", 3, 2, margin=m, mining="all")
    trip = _triplets(labels)
    assert len(trip) == 8
    vals = [max(0.0, m + _sqdist(H4[a], H4[p]) - _sqdist(H4[a], H4[q])) for a, p, q in trip]
    assert loss(_h(H4), torch.tensor(labels)).total.item() == pytest.approx(sum(vals) / len(vals), rel=1e-10)
    loss.reduction = "active"
    act = [v for v in vals if v > 0]
    assert loss(_h(H4), torch.tensor(labels)).total.item() == pytest.approx(sum(act) / len(act), rel=1e-10)
    if labels != Y4:
        assert 0 < len(act) < len(vals)


def test_triplet_batch_hard_value():
    m = 1.0
    loss = get_loss("triplet", 3, 2, margin=m, mining="hard")
    vals = []
    for a in range(4):
        dp = max(_sqdist(H4[a], H4[p]) for p in range(4) if p != a and Y4[p] == Y4[a])
        dn = min(_sqdist(H4[a], H4[q]) for q in range(4) if Y4[q] != Y4[a])
        vals.append(max(0.0, m + dp - dn))
    assert loss(_h(H4), torch.tensor(Y4)).total.item() == pytest.approx(sum(vals) / 4, rel=1e-10)


def test_triplet_no_valid_triplet_is_zero_with_graph():
    h = _h(H4)
    out = get_loss("triplet", 3, 4)(h, torch.tensor([0, 1, 2, 3]))
    assert out.total.item() == 0.0 and out.total.requires_grad


def test_dnnh_value_in_01_units():
    loss = get_loss("dnnh", 3, 2, mining="all")
    assert loss.margin == 1.0 and loss.head == "divide_encode"
    s = [[(v + 1) / 2 for v in row] for row in H4]
    vals = [max(0.0, 1.0 + _sqdist(s[a], s[p]) - _sqdist(s[a], s[q])) for a, p, q in _triplets(Y4)]
    assert loss(_h(H4), torch.tensor(Y4)).total.item() == pytest.approx(sum(vals) / len(vals), rel=1e-10)


def test_sampled_triplets_are_valid_seeded_and_bounded():
    from hashlab.losses.triplet import sample_triplets

    y = torch.arange(40) % 4
    sim = (y[:, None] == y[None, :]).float()
    # 40 anchors x 9 positives x 30 negatives = 10,800 valid triplets: a uniform sample of max_triplets of them
    a, p, n = sample_triplets(sim, torch.Generator().manual_seed(3), max_triplets=4096)
    assert a.numel() == 4096
    assert bool(((y[a] == y[p]) & (a != p) & (y[a] != y[n])).all())
    again = sample_triplets(sim, torch.Generator().manual_seed(3), max_triplets=4096)
    assert all(torch.equal(u, v) for u, v in zip((a, p, n), again, strict=True))
    other = sample_triplets(sim, torch.Generator().manual_seed(4), max_triplets=4096)
    assert not torch.equal(n, other[2])
    # few enough valid triplets: all of them, each once (batch-all)
    a, p, n = sample_triplets(sim, torch.Generator().manual_seed(3), max_triplets=10_800)
    assert len({(int(i), int(j), int(k)) for i, j, k in zip(a, p, n, strict=True)}) == 10_800


def test_sampled_triplets_are_uniform_over_valid_triplets():
    from hashlab.losses.triplet import sample_triplets

    # imbalanced classes (30 vs 10): batch-all has 30*29*10 = 8,700 triplets with a class-0 anchor and
    # 10*9*30 = 2,700 with a class-1 anchor; a uniform sample keeps that ratio (8700 / 11400 = 0.763)
    y = torch.tensor([0] * 30 + [1] * 10)
    sim = (y[:, None] == y[None, :]).float()
    a, p, n = sample_triplets(sim, torch.Generator().manual_seed(0), max_triplets=20_000 // 2)
    share = (y[a] == 0).float().mean().item()
    assert abs(share - 8700 / 11400) < 0.015  # binomial sd at 10,000 draws is 0.004
    # and each anchor's negatives are drawn evenly (10 negatives of every class-0 anchor)
    counts = torch.bincount(n[y[a] == 0], minlength=40)[30:].float()
    assert counts.min() > 0.85 * counts.mean() and counts.max() < 1.15 * counts.mean()


@pytest.mark.parametrize("name", ["triplet", "dnnh"])
def test_sampled_mining_is_the_default_and_matches_its_triplets(name):
    from hashlab.losses.triplet import sample_triplets

    default = get_loss(name, 3, 3)
    assert default.mining == "sampled" and default.seed == 0 and default.max_triplets == 4096
    loss = get_loss(name, 3, 3, max_triplets=5)  # this batch has 26 valid triplets: 5 are drawn
    y = torch.tensor([0, 0, 1, 2, 1, 0])
    h = torch.tanh(torch.randn(6, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0)))
    a, p, n = sample_triplets(HashLoss.similarity(y), torch.Generator().manual_seed(0), max_triplets=5)
    assert a.numel() == 5
    r = h if name == "triplet" else 0.5 * (h + 1)
    d = ((r[:, None] - r[None]) ** 2).sum(-1)
    m = loss.margin
    expected = torch.clamp(m + d[a, p] - d[a, n], min=0).mean()
    assert loss(h, y).total.item() == pytest.approx(expected.item(), rel=1e-12)
    # the generator advances per batch; reseed() restarts it, so a rerun sees the same triplets
    second = loss(h, y).total.item()
    loss.reseed()
    assert loss(h, y).total.item() == pytest.approx(expected.item(), rel=1e-12)
    assert loss(h, y).total.item() == pytest.approx(second, rel=1e-12)


def test_sampled_equals_batch_all_when_each_anchor_has_one_negative():
    y = torch.tensor([0, 0, 0, 1])  # anchors 0-2 have the single negative 3; anchor 3 has no positive
    h = _h(H4)
    sampled = get_loss("triplet", 3, 2, margin=2.0)(h, y).total.item()
    assert sampled == pytest.approx(get_loss("triplet", 3, 2, margin=2.0, mining="all")(h, y).total.item())
    with pytest.raises(ValueError, match="mining"):
        get_loss("dnnh", 3, 2, mining="semihard")
    with pytest.raises(ValueError, match="max_triplets"):
        get_loss("triplet", 3, 2, max_triplets=0)


def test_dnnh_activation_and_piecewise_threshold():
    from hashlab.losses import piecewise_threshold

    s = torch.tensor([0.1, 0.39, 0.45, 0.5, 0.58, 0.61, 0.95])
    expected = torch.tensor([0.0, 0.0, 0.45, 0.5, 0.58, 1.0, 1.0])
    assert torch.allclose(piecewise_threshold(s, 0.1), expected)
    loss = get_loss("dnnh", 4, 2)
    z = torch.tensor([[-3.0, -0.1, 0.2, 4.0]])
    h = loss.activation(z)
    assert torch.allclose(h, 2 * torch.sigmoid(z) - 1)
    assert torch.equal(torch.sign(h), torch.sign(z))  # ±1 code = thresholded sigmoid mapped by b = 2s - 1
    assert torch.equal(loss.binarize_sigmoid(torch.sigmoid(z)), (z >= 0).float())
    loss.threshold_in_training = True
    assert torch.allclose(
        loss.activation(z),
        torch.tensor(
            [
                [
                    -1.0,
                    2 * torch.sigmoid(torch.tensor(-0.1)).item() - 1,
                    2 * torch.sigmoid(torch.tensor(0.2)).item() - 1,
                    1.0,
                ]
            ]
        ),
    )


# ---------------------------------------------------------------- TCL


def test_tcl_value():
    m, lam = 5.0, 0.01
    loss = get_loss("tcl", 3, 3)
    assert loss.margin == m and loss.tcl_weight == lam
    centers = [[1.0, 0.0, -1.0], [0.0, 1.0, 0.5], [-1.0, -1.0, 0.0]]
    with torch.no_grad():
        loss.centers.copy_(torch.tensor(centers))
        loss.classifier.weight.zero_()
        loss.classifier.bias.zero_()
    y = [0, 1, 2, 0]
    per = []
    for i, row in enumerate(H4):
        d = [0.5 * _sqdist(row, c) for c in centers]
        per.append(max(d[y[i]] + m - min(d[j] for j in range(3) if j != y[i]), 0.0))
    out = loss(_h(H4).float(), torch.tensor(y))
    assert out.parts["tcl"].item() == pytest.approx(sum(per), rel=1e-6)
    assert out.total.item() == pytest.approx(
        lam * sum(per) + math.log(3), rel=1e-6
    )  # zero classifier: CE = log C
    loss.margin = 0.5
    per2 = []
    for i, row in enumerate(H4):
        d = [0.5 * _sqdist(row, c) for c in centers]
        per2.append(max(d[y[i]] + 0.5 - min(d[j] for j in range(3) if j != y[i]), 0.0))
    assert loss(_h(H4).float(), torch.tensor(y)).parts["tcl"].item() == pytest.approx(sum(per2), rel=1e-6)


def test_tcl_rejects_multi_hot():
    with pytest.raises(ValueError, match="single-label"):
        get_loss("tcl", 3, 2)(_h().float(), torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]))


# ---------------------------------------------------------------- CSQ


def test_csq_hadamard_centres_and_value():
    lam = 0.5
    loss = get_loss("csq", 4, 3, quant_weight=lam)
    sylvester = [[1, 1, 1, 1], [1, -1, 1, -1], [1, 1, -1, -1]]
    assert loss.centers.tolist() == sylvester
    h = [[0.5, -0.2, 0.9, 0.1], [0.1, 0.7, -0.4, -0.8], [-0.6, 0.3, 0.8, 0.2]]
    y = [2, 0, 1]
    bce = []
    for i, row in enumerate(h):
        for k, v in enumerate(row):
            p, t = (v + 1) / 2, (sylvester[y[i]][k] + 1) / 2
            bce.append(-(t * math.log(p) + (1 - t) * math.log(1 - p)))
    quant = sum((abs(v) - 1) ** 2 for row in h for v in row) / 12
    out = loss(torch.tensor(h, dtype=torch.float64), torch.tensor(y))
    assert out.total.item() == pytest.approx(sum(bce) / 12 + lam * quant, rel=1e-9)


def test_csq_bernoulli_centres_seeded_and_multi_hot():
    from hashlab.losses import hash_centers

    a, b = hash_centers(5, 6, seed=3), hash_centers(5, 6, seed=3)
    assert torch.equal(a, b) and set(a.unique().tolist()) == {-1.0, 1.0}
    dist = (6 - a @ a.T) / 2
    assert dist[~torch.eye(5, dtype=torch.bool)].min() >= 1  # all centres distinct
    loss = get_loss("csq", 4, 3)
    multi = torch.tensor([[1.0, 1.0, 0.0]])
    expected = [1.0 if v >= 0 else -1.0 for v in (loss.centers[0] + loss.centers[1]).tolist()]
    assert loss.targets(multi)[0].tolist() == expected


# ---------------------------------------------------------------- DSDH


def _dsdh(n=6, bits=3, **kw):
    loss = get_loss("dsdh", bits, 2, **kw)
    labels = torch.tensor([0, 1, 0, 1, 1, 0][:n])
    loss.prepare(labels)
    return loss, labels


def test_dsdh_defaults_are_the_authors():
    # liqi-casia/DSDH-HashingCode (Li et al. 2017): eta = 55 (setup.m), W-step ridge lambda = nu / mu = 0.1 (train.m)
    loss = get_loss("dsdh", 24, 10)
    assert (loss.mu, loss.nu, loss.eta, loss.dcc_iter, loss.quant_weight) == (1.0, 0.1, 55.0, 10, 0.1)
    b = torch.tensor([[1.0, -1.0], [1.0, 1.0], [-1.0, 1.0]])
    y = torch.eye(3)[:, :2]
    loss = get_loss("dsdh", 2, 2, nu=1.0)  # the peer's value: W = (B^T B + nu/mu I)^-1 B^T Y
    loss.prepare(torch.tensor([0, 1, 1]))
    loss.B, loss.Y = b, y
    loss.w_step()
    expected = torch.linalg.solve(b.T @ b + torch.eye(2), b.T @ y)
    assert torch.allclose(loss.W, expected, atol=1e-6)


def test_dsdh_forward_before_and_after_b_step():
    qw = 0.4
    loss, labels = _dsdh(quant_weight=qw)
    idx = torch.tensor([0, 2, 3])
    y = labels[idx].tolist()
    out = loss(_h(), labels[idx], index=idx)
    quant = sum((v - _sgn(v)) ** 2 for row in H3 for v in row) / 9
    assert out.total.item() == pytest.approx(sum(_nll_pairs(H3, y)) / 6 + qw * quant, rel=1e-6)
    torch.manual_seed(0)
    loss(torch.tanh(torch.randn(6, 3)), labels, index=torch.arange(6))
    loss.on_epoch_end()
    b = loss.B[idx].tolist()
    quant_b = sum((H3[i][k] - b[i][k]) ** 2 for i in range(3) for k in range(3)) / 9
    out = loss(_h(), labels[idx], index=idx)
    assert out.total.item() == pytest.approx(sum(_nll_pairs(H3, y)) / 6 + qw * quant_b, rel=1e-6)


def test_dsdh_b_step_never_increases_objective():
    torch.manual_seed(1)
    loss = get_loss("dsdh", 8, 4, dcc_iter=3)
    labels = torch.randint(0, 4, (40,))
    loss.prepare(labels)
    loss(torch.tanh(torch.randn(40, 8)), labels, index=torch.arange(40))
    loss.w_step()
    previous = loss.objective()
    for _ in range(5):
        loss.b_step()
        now = loss.objective()
        assert now <= previous + 1e-9
        previous = now
        loss.w_step()
        now = loss.objective()
        assert now <= previous + 1e-9
        previous = now
    # the full objective written plainly, from the stored tensors
    b, w, y, u = (t.double() for t in (loss.B, loss.W, loss.Y, loss.U))
    plain = (y - b @ w).pow(2).sum() + 0.1 * w.pow(2).sum() + 55 * (b - u).pow(2).sum()
    assert previous == pytest.approx(plain.item(), rel=1e-9)
    assert set(loss.B.unique().tolist()) == {-1.0, 1.0}


def test_dsdh_needs_prepare_index_and_matching_labels():
    loss = get_loss("dsdh", 3, 2)
    with pytest.raises(ValueError, match="prepare"):
        loss(_h(), torch.tensor(Y3), index=torch.arange(3))
    loss, labels = _dsdh()
    with pytest.raises(ValueError, match="index"):
        loss(_h(), torch.tensor(Y3))
    with pytest.raises(ValueError, match="do not match"):
        loss(_h(), torch.tensor([1, 1, 1]), index=torch.tensor([0, 2, 5]))


# ---------------------------------------------------------------- CNNH


def test_cnnh_stage1_beats_random_codes():
    torch.manual_seed(0)
    bits, n = 8, 45
    labels = torch.randint(0, 4, (n,))
    loss = get_loss("cnnh", bits, 4)
    loss.prepare(labels)
    h = loss.H.double()
    assert h.shape == (n, bits) and set(h.unique().tolist()) == {-1.0, 1.0}
    s = (labels[:, None] == labels[None, :]).double()
    fitted = ((h @ h.T) / bits - s).pow(2).sum().item()
    gen = torch.Generator().manual_seed(0)
    random_errs = []
    for _ in range(20):
        r = torch.randint(0, 2, (n, bits), generator=gen).double() * 2 - 1
        random_errs.append(((r @ r.T) / bits - s).pow(2).sum().item())
    assert fitted < 0.5 * min(random_errs)
    hist = loss.stage1_history
    assert all(b <= a + 1e-9 for a, b in zip(hist, hist[1:], strict=False))
    assert hist[-1] == pytest.approx(fitted, rel=1e-9)  # the reduced objective equals the full one


def test_cnnh_stage2_regression_and_classifier():
    labels = torch.tensor([0, 1, 0, 1, 1])
    loss = get_loss("cnnh", 3, 2, cls_weight=1.0)
    loss.prepare(labels)
    idx = torch.tensor([4, 0, 2])
    with torch.no_grad():
        loss.classifier.weight.zero_()
        loss.classifier.bias.zero_()
    target = loss.H[idx].tolist()
    mse = sum((H3[i][k] - target[i][k]) ** 2 for i in range(3) for k in range(3)) / 9
    out = loss(_h().float(), labels[idx], index=idx)
    assert out.total.item() == pytest.approx(mse + math.log(2), rel=1e-6)


def test_cnnh_multi_label_groups():
    labels = torch.tensor([[1, 0, 1], [1, 0, 1], [0, 1, 0], [0, 0, 1]], dtype=torch.float32)
    loss = get_loss("cnnh", 6, 3)
    loss.prepare(labels)
    assert torch.equal(loss.H[0], loss.H[1]) and loss.group_codes.shape == (3, 6)


# ---------------------------------------------------------------- DSH-GAN


def _gan_setup(**kw):
    torch.manual_seed(0)
    head = torch.nn.Linear(5, 4).double()
    loss = get_loss("dshgan", 4, 3, noise_dim=3, hidden=8, **kw).double()
    feats = torch.randn(4, 5, dtype=torch.float64)
    labels = torch.tensor([0, 1, 2, 0])

    def enc(f):
        return loss.activation(head(f))

    return head, loss, feats, labels, enc


def test_dshgan_parts_match_formulas():
    head, loss, feats, labels, enc = _gan_setup()
    torch.manual_seed(5)
    out = loss(enc(feats), labels, features=feats, encoder=enc)
    torch.manual_seed(5)
    xp, xn, yp, yn = loss.synthesize(labels, 5)
    h, hp, hn = (enc(t).tolist() for t in (feats, xp, xn))
    neg_cls = yn.argmax(1).tolist()
    assert all(n != y for n, y in zip(neg_cls, labels.tolist(), strict=True))
    t = [[(v + 1) / 2 for v in r] for r in h]
    tp = [[(v + 1) / 2 for v in r] for r in hp]
    tn = [[(v + 1) / 2 for v in r] for r in hn]
    trip = [max(0.0, 1.0 + _sqdist(t[i], tp[i]) - _sqdist(t[i], tn[i])) for i in range(4)]
    assert out.parts["triplet"].item() == pytest.approx(sum(trip) / 4, rel=1e-9)

    def ce(codes, cls):
        logits = loss.classifier(torch.tensor(codes, dtype=torch.float64)).tolist()
        vals = [math.log(sum(math.exp(v) for v in row)) - row[c] for row, c in zip(logits, cls, strict=True)]
        return sum(vals) / len(vals)

    y = labels.tolist()
    cls = (ce(h, y) + ce(hp, y) + ce(hn, neg_cls)) / 3
    assert out.parts["classification"].item() == pytest.approx(cls, rel=1e-9)

    def prob_real(codes):
        return [
            1 / (1 + math.exp(-v))
            for v in loss.adversary(torch.tensor(codes, dtype=torch.float64)).squeeze(1).tolist()
        ]

    adv = (
        sum(-math.log(p) for p in prob_real(h)) / 4
        + sum(-math.log(1 - p) for p in prob_real(hp)) / 4
        + sum(-math.log(1 - p) for p in prob_real(hn)) / 4
    ) / 3
    assert out.parts["adversarial"].item() == pytest.approx(adv, rel=1e-9)


def test_dshgan_gradient_reversal_sign():
    head, loss, feats, labels, enc = _gan_setup(triplet_weight=0.0, cls_weight=0.0)
    gen_p, adv_p, head_p = (
        list(loss.generator.parameters()),
        list(loss.adversary.parameters()),
        list(head.parameters()),
    )
    torch.manual_seed(7)
    total = loss(enc(feats), labels, features=feats, encoder=enc).total
    g = torch.autograd.grad(total, gen_p + adv_p + head_p)
    # reference: the same l_a computed plainly, without any reversal
    torch.manual_seed(7)
    xp, xn, _, _ = loss.synthesize(labels, 5)
    pr, pp, pn = (torch.sigmoid(loss.adversary(enc(t)).squeeze(1)) for t in (feats, xp, xn))
    la = (-(pr.log().mean()) - (1 - pp).log().mean() - (1 - pn).log().mean()) / 3
    r = torch.autograd.grad(la, gen_p + adv_p + head_p)
    ng = len(gen_p)
    for got, ref in zip(g[:ng], r[:ng], strict=True):  # generator: -grad l_a
        assert torch.allclose(got, -ref, atol=1e-10)
    for got, ref in zip(g[ng:], r[ng:], strict=True):  # adversary and hash head: +grad l_a
        assert torch.allclose(got, ref, atol=1e-10)
    assert sum(t.abs().sum() for t in r[:ng]) > 0 and sum(t.abs().sum() for t in r[ng:]) > 0


def test_dshgan_lazy_feature_dim_and_checks():
    head, loss, feats, labels, enc = _gan_setup()
    assert loss.feature_dim is None
    loss(enc(feats), labels, features=feats, encoder=enc)
    assert loss.feature_dim == 5
    with pytest.raises(ValueError, match="encoder"):
        loss(enc(feats), labels)
    bound = get_loss("dshgan", 4, 3)
    assert bound.needs_input_dim
    bound.bind_input_dim(7)
    assert bound.generator.out.weight.shape == (7, 256)
    with pytest.raises(ValueError, match="feature_dim"):
        bound.bind_input_dim(8)


# ---------------------------------------------------------------- shared properties of all losses


def _call(name, h, labels, bits=3, n_classes=3):
    loss = get_loss(name, bits, n_classes).double()
    head = torch.nn.Linear(5, bits).double()
    n = h.shape[0]
    feats = torch.randn(n, 5, dtype=torch.float64)
    if loss.needs_index:
        loss.prepare(labels)
    ctx = {"index": torch.arange(n), "features": feats, "encoder": lambda f: loss.activation(head(f))}
    return loss, head, loss(h, labels, **ctx)


MARGIN_LOSSES = ["dsh", "triplet", "dnnh", "tcl", "dshgan"]


@pytest.mark.parametrize("name", sorted(set(available_losses())))
def test_gradient_reaches_h_and_loss_parameters(name):
    torch.manual_seed(0)
    h = torch.tensor(H4, dtype=torch.float64, requires_grad=True)
    loss, head, out = _call(name, h, torch.tensor([0, 0, 1, 2]))
    assert out.total.dim() == 0 and torch.isfinite(out.total)
    out.total.backward()
    assert h.grad is not None and h.grad.abs().sum() > 0
    for pname, p in loss.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), pname
    if name == "dshgan":
        assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in head.parameters())


@pytest.mark.parametrize("name", MARGIN_LOSSES)
def test_margin_is_mutable_and_changes_value(name):
    torch.manual_seed(0)
    h = torch.tensor(H4, dtype=torch.float64)
    labels = torch.tensor([0, 0, 1, 2])
    loss = get_loss(name, 3, 3).double()
    head = torch.nn.Linear(5, 3).double()
    ctx = {"features": torch.randn(4, 5, dtype=torch.float64), "encoder": lambda f: loss.activation(head(f))}

    def value() -> float:  # the same random draws each time (DSH-GAN's generator, the triplet sampler)
        torch.manual_seed(1)
        if hasattr(loss, "reseed"):
            loss.reseed()
        return loss(h, labels, **ctx).total.item()

    v1 = value()
    loss.margin = loss.margin * 3 + 1
    v2 = value()
    assert v2 > v1
    loss.margin = torch.full((4,), 0.0)
    assert value() < v2
    with pytest.raises(ValueError, match="margin"):
        loss.margin = -1.0


@pytest.mark.parametrize("name", sorted(set(available_losses())))
def test_every_loss_rejects_wrong_label_shape(name):
    h = torch.tensor(H4, dtype=torch.float64)
    loss = get_loss(name, 3, 3)
    if loss.needs_index:
        loss.prepare(torch.tensor([0, 1, 2, 0]))
    for bad in (torch.tensor([0, 1, 2]), torch.zeros(4, 2), torch.zeros(4, 3, 1)):
        with pytest.raises(ValueError, match="labels"):
            loss(h, bad, index=torch.arange(4))


# ---------------------------------------------------------------- HashNet continuation callback (Lightning)


class _TinyModule(pl.LightningModule):
    def __init__(self, method: str) -> None:
        super().__init__()
        self.loss = get_loss(method, 4, 2)
        self.head = torch.nn.Linear(3, 4)

    def training_step(self, batch, batch_idx):
        x, y = batch
        return self.loss(self.loss.activation(self.head(x)), y).total

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


def _fit(module, callback, epochs=4):
    torch.manual_seed(0)
    data = torch.utils.data.TensorDataset(torch.randn(16, 3), torch.randint(0, 2, (16,)))
    trainer = pl.Trainer(
        max_epochs=epochs,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        accelerator="cpu",
        callbacks=[callback] if callback is not None else [],
    )
    trainer.fit(module, torch.utils.data.DataLoader(data, batch_size=8))
    return trainer


def test_hashnet_continuation_raises_and_logs_beta():
    from hashlab.losses import HashNetContinuation

    # the callback follows the loss's own schedule; here hashlab's per-epoch (1 + epoch)^0.5
    module = _TinyModule("hashnet")
    module.loss.continuation = "epoch"
    (cb,) = module.loss.callbacks()
    trainer = _fit(module, cb)
    assert cb.history == [(e, pytest.approx(math.sqrt(1 + e))) for e in range(4)]
    assert module.loss.beta == pytest.approx(2.0)
    assert trainer.callback_metrics["hashnet_beta"].item() == pytest.approx(2.0)
    # the authors' schedule counts optimizer steps: 4 epochs x 2 batches stay below the first change at 200
    module = _TinyModule("hashnet")
    cb = HashNetContinuation()
    _fit(module, cb)
    assert [b for _, b in cb.history] == [1.0] * 4
    capped = HashNetContinuation(continuation="epoch", beta_max=1.5)
    assert [capped.beta_for(module.loss, e, 0) for e in range(3)] == pytest.approx([1.0, math.sqrt(2.0), 1.5])


def test_hashnet_continuation_needs_a_hashnet_loss():
    from hashlab.losses import HashNetContinuation

    with pytest.raises(AttributeError, match="HashNet"):
        _fit(_TinyModule("dpsh"), HashNetContinuation(), epochs=1)
    with pytest.raises(ValueError, match="continuation"):
        HashNetContinuation(continuation="linear")
    with pytest.raises(ValueError, match="beta_max"):
        HashNetContinuation(beta_max=0.5)


@pytest.mark.parametrize("method", ["cnnh", "dsdh", "dshgan"])
def test_stateful_losses_train_inside_hashing_module(method):
    from hashlab.module import HashingModule

    torch.manual_seed(0)
    x, y = torch.randn(48, 8), torch.arange(48) % 3
    x = x + 2.0 * torch.nn.functional.one_hot(y, 8).float()
    model = HashingModule(8, 4, 3, method=method, hidden=(16,))
    data = torch.utils.data.TensorDataset(x, y, torch.arange(48))
    trainer = pl.Trainer(
        max_epochs=2,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        accelerator="cpu",
        limit_val_batches=0,
    )
    trainer.fit(model, torch.utils.data.DataLoader(data, batch_size=16, shuffle=True))
    loss = model.loss
    if method == "cnnh":
        assert loss.H.shape == (48, 4)
    elif method == "dsdh":
        assert loss.b_ready and bool(loss.seen.all())
    else:
        assert loss.feature_dim == 8 and loss.generator.out.weight.shape == (8, 256)
    assert model.encode(x).shape == (48, 4)
