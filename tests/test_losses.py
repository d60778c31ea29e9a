"""Losses checked against their formulas on tiny hand-built inputs (values computed plainly in the tests)."""

from __future__ import annotations

import math

import pytest
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


@pytest.mark.parametrize("bits", [0, -3, 2.5])
def test_bad_bits(bits):
    with pytest.raises(ValueError, match="bits"):
        get_loss("dpsh", bits, 3)


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
    n = len(h)
    terms = []
    for i, j in _pairs(n):
        d = _sqdist(h[i], h[j])
        s = 1.0 if y[i] == y[j] else 0.0
        terms.append(0.5 * s * d + 0.5 * (1 - s) * max(margin - d, 0.0))
    reg = sum(abs(abs(v) - 1) for row in h for v in row) / (n * len(h[0]))
    return sum(terms) / len(terms) + alpha * reg


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
