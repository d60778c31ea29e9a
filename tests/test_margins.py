"""Margin schedules, margin-scalable and density-adaptive margins, hysteresis controller, pinned anchors."""

from __future__ import annotations

import math

import numpy as np
import pytest
import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, TensorDataset

from hashlab.config import seed_everything
from hashlab.margins import (
    AnchorPrototypes,
    ConstantMargin,
    CosineWarmup,
    DensityAdaptiveMargin,
    HysteresisController,
    LinearWarmup,
    MarginScalable,
    StepMargin,
    anchor_drift,
    check_margin,
    class_similarity_from_features,
    cosine_warmup,
    density_margins,
    density_statistics,
    herding_prototypes,
    linear_warmup,
    pair_margins,
    pair_similarity,
    scalable_margins,
    set_loss_margin,
    step_margin,
)
from hashlab.module import HashingModule

BITS = 8


class _LastBatch(pl.Callback):
    """Remembers the last training batch (registered after the schedule, so it sees the same batch)."""

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        self.y, self.idx = batch[1].clone(), batch[2].clone()


def _blobs(n_per: int = 24, n_classes: int = 4, dim: int = 12, seed: int = 0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 2.0, size=(n_classes, dim))
    x = np.concatenate([centres[c] + rng.normal(0, 1.0, size=(n_per, dim)) for c in range(n_classes)])
    y = np.repeat(np.arange(n_classes), n_per)
    return x.astype(np.float32), y.astype(np.int64)


def _train(
    callbacks, method: str = "dsh", epochs: int = 2, batch_size: int = 16, seed: int = 0, lr: float = 1e-3
):
    """Train a small HashingModule on blobs with the given callbacks; returns (module, trainer, x, y)."""
    x, y = _blobs(seed=seed)
    seed_everything(seed)
    model = HashingModule(in_dim=x.shape[1], bits=BITS, n_classes=4, method=method, hidden=(32,), lr=lr)
    ds = TensorDataset(torch.from_numpy(x), torch.from_numpy(y), torch.arange(len(x)))
    loader = DataLoader(
        ds, batch_size=batch_size, shuffle=True, generator=torch.Generator().manual_seed(seed)
    )
    trainer = pl.Trainer(
        max_epochs=epochs,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        enable_checkpointing=False,
        limit_val_batches=0,
        callbacks=list(callbacks),
    )
    trainer.fit(model, train_dataloaders=loader)
    return model, trainer, x, y


# ------------------------------------------------------------------------------------------------ pure formulas
def test_linear_and_cosine_warmup_match_formula():
    start, end, warm = 0.5, 4.0, 10
    for t in range(15):
        frac = min(t / warm, 1.0)
        assert linear_warmup(t, warm, start, end) == pytest.approx(start + (end - start) * frac)
        assert cosine_warmup(t, warm, start, end) == pytest.approx(
            start + (end - start) * 0.5 * (1 - math.cos(math.pi * frac))
        )
    assert cosine_warmup(5, 10, 0.0, 2.0) == pytest.approx(1.0)  # half-way point of a half cosine
    assert linear_warmup(0, 0, 1.0, 3.0) == 3.0  # zero-length warm-up starts at the end value


def test_step_margin_matches_formula():
    milestones, values = [3, 7], [1.0, 2.0, 5.0]
    expected = [1.0] * 3 + [2.0] * 4 + [5.0] * 3
    assert [step_margin(t, milestones, values) for t in range(10)] == expected


def test_pair_similarity_and_scalable_margins():
    multi = torch.tensor([[1, 1, 0], [1, 0, 0], [0, 0, 1], [0, 0, 0]])
    s = pair_similarity(multi)
    assert s[0, 1] == pytest.approx(1 / math.sqrt(2))  # cos([1,1,0],[1,0,0])
    assert s[0, 2] == 0 and s[1, 1] == pytest.approx(1.0) and s[3, 3] == 0  # all-zero label row: similarity 0
    m = scalable_margins(s, m_max=8.0, m_min=2.0)
    assert m[0, 1] == pytest.approx(2.0 + 6.0 * (1 - 1 / math.sqrt(2)))
    assert m[0, 2] == pytest.approx(8.0) and m[1, 1] == pytest.approx(2.0)
    c = torch.tensor([[1.0, 0.5, 0.0], [0.5, 1.0, 0.2], [0.0, 0.2, 1.0]])
    y = torch.tensor([0, 1, 2, 1])
    s1 = pair_similarity(y, c)
    assert (
        s1[0, 1] == pytest.approx(0.5) and s1[1, 3] == pytest.approx(1.0) and s1[2, 1] == pytest.approx(0.2)
    )
    assert torch.equal(pair_similarity(y), (y[:, None] == y[None, :]).float())


def test_class_similarity_from_features_is_centred_centroid_cosine():
    # class centroids (after removing the grand mean) point along +e0, +e0+e1 and -e0: hand-computed cosines
    x = np.array([[1, 0], [1, 0], [1, 1], [1, 1], [-1, 0], [-1, 0]], dtype=np.float32)
    x = x - x.mean(0) + 5.0  # a shared offset must not change the result
    y = np.array([0, 0, 1, 1, 2, 2])
    cent = np.array([[1, 0], [1, 1], [-1, 0]], dtype=float)
    cent = cent - cent.mean(0)
    unit = cent / np.linalg.norm(cent, axis=1, keepdims=True)
    expected = np.clip(unit @ unit.T, 0, 1)
    np.fill_diagonal(expected, 1)
    np.testing.assert_allclose(class_similarity_from_features(x, y), expected, atol=1e-6)


def test_density_margins_match_plain_loops():
    rng = np.random.default_rng(1)
    u = np.tanh(rng.normal(size=(30, 6)))
    y = np.repeat([0, 1, 2], 10)
    k, m0, kappa, nu = 4, 3.0, 0.7, 1.3
    cent = {c: u[y == c].mean(0) for c in range(3)}
    a, rho = [], []
    for i in range(30):
        d = {c: float(((u[i] - cent[c]) ** 2).sum() / 4) for c in range(3)}
        a.append(d[y[i]] / min(v for c, v in d.items() if c != y[i]))
        cos = sorted(
            (float(u[i] @ u[j] / np.linalg.norm(u[i]) / np.linalg.norm(u[j])) for j in range(30) if j != i),
            reverse=True,
        )
        rho.append(np.mean(cos[:k]))
    a, rho = np.array(a), np.array(rho)
    amb, dens = density_statistics(u, y, k)
    np.testing.assert_allclose(amb.numpy(), a, rtol=1e-4)
    np.testing.assert_allclose(dens.numpy(), rho, rtol=1e-4)
    expected = np.clip(m0 * (1 + kappa * (a - a.mean()) - nu * (rho - rho.mean())), 1.0, 4.0)
    got = density_margins(u, y, m0=m0, kappa=kappa, nu=nu, k=k, m_min=1.0, m_max=4.0)
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-4)
    pm = pair_margins(got)
    assert pm[2, 5] == pytest.approx((float(got[2]) + float(got[5])) / 2)


# ------------------------------------------------------------------------------------------------ hysteresis
def test_hysteresis_ignores_one_step_spike_but_follows_sustained_change():
    ctrl = HysteresisController(2.0, beta=0.5, band=0.5, patience=3)
    spike = [2.0, 2.0, 10.0, 2.0, 2.0, 2.1, 1.9, 2.0]
    out = [float(ctrl.update(t)) for t in spike]
    assert out == [2.0] * len(spike)
    # the same spike through an undamped controller moves the margin by the full excursion
    raw = HysteresisController.undamped(2.0)
    assert max(float(raw.update(t)) for t in spike) == pytest.approx(10.0)
    # sustained change to 6: nothing for patience-1 updates, then it moves and converges within the band
    ctrl = HysteresisController(2.0, beta=0.5, band=0.5, patience=3)
    out = [float(ctrl.update(6.0)) for _ in range(12)]
    assert out[:2] == [2.0, 2.0] and out[2] > 2.0
    assert abs(out[-1] - 6.0) <= 0.5 and all(b >= a for a, b in zip(out, out[1:], strict=False))


def test_hysteresis_bounded_step_and_elementwise_state():
    ctrl = HysteresisController(torch.tensor([1.0, 1.0]), beta=1.0, band=0.0, patience=1, max_step=0.25)
    out = ctrl.update(torch.tensor([3.0, 1.0]))
    assert torch.allclose(
        out, torch.tensor([1.25, 1.0])
    )  # |delta m| <= max_step; the unchanged element stays
    ema = HysteresisController.ema(0.0, beta=0.2)
    assert float(ema.update(1.0)) == pytest.approx(0.2) and float(ema.update(1.0)) == pytest.approx(0.36)


# ------------------------------------------------------------------------------------------------ callbacks
def test_linear_warmup_callback_sets_loss_margin_each_step():
    sched = LinearWarmup(start=1.0, end=9.0, warmup=5)
    model, trainer, _, _ = _train([sched], epochs=2)  # 96 items / 16 = 6 steps per epoch
    steps = [t for t, _ in sched.history]
    assert steps == list(range(12))
    assert [v for _, v in sched.history] == pytest.approx([1.0 + 8.0 * min(t / 5, 1.0) for t in steps])
    assert model.loss.margin == pytest.approx(9.0)
    assert float(trainer.callback_metrics["margin_epoch"]) == pytest.approx(9.0)


def test_cosine_step_and_relative_schedules():
    sched = CosineWarmup(0.0, 4.0, warmup=6)
    _train([sched], epochs=1)
    assert [v for _, v in sched.history] == pytest.approx(
        [2.0 * (1 - math.cos(math.pi * t / 6)) for t in range(6)]
    )
    step = StepMargin([1, 2], [0.25, 0.5, 1.0], interval="epoch", relative=True)
    model, _, _, _ = _train([step], epochs=3)
    # relative to DSH's own margin 2 * bits; one assignment per epoch
    assert step.history == [(0, 0.25 * 2 * BITS), (1, 0.5 * 2 * BITS), (2, 1.0 * 2 * BITS)]
    assert model.loss.margin == pytest.approx(2.0 * BITS)
    const = ConstantMargin(3.0)
    model, _, _, _ = _train([const], epochs=1)
    assert model.loss.margin == 3.0 and {v for _, v in const.history} == {3.0}


def test_margin_scalable_callback_writes_per_pair_margins():
    x, y = _blobs()
    c = class_similarity_from_features(x, y)
    assert np.allclose(np.diag(c), 1) and (c >= 0).all() and (c <= 1).all()
    sched, last = MarginScalable(m_max=2.0 * BITS, m_min=0.0, class_similarity=c), _LastBatch()
    model, _, _, _ = _train([sched, last], epochs=1, batch_size=16)
    m = model.loss.margin
    assert isinstance(m, torch.Tensor) and m.shape == (16, 16)
    yl = last.y.tolist()
    expected = [[2.0 * BITS * (1.0 - float(c[a, b])) for b in yl] for a in yl]
    np.testing.assert_allclose(m.numpy(), np.array(expected), rtol=1e-5, atol=1e-5)
    assert torch.allclose(torch.diagonal(m), torch.zeros(16))  # same item: similarity 1, margin m_min
    assert float(m.max()) <= 2.0 * BITS + 1e-5 and float(m.max()) > BITS  # some well-separated class pair
    # with the identity class similarity the margins reduce to a fixed margin on every dissimilar pair
    plain = MarginScalable(m_max=5.0)
    yb = torch.tensor([0, 0, 1, 2])
    expected = torch.tensor([[0, 0, 5, 5], [0, 0, 5, 5], [5, 5, 0, 5], [5, 5, 5, 0]], dtype=torch.float32)
    assert torch.equal(plain.margins(yb), expected)


def test_margins_reach_triplet_and_center_losses_in_the_form_they_read():
    from hashlab.losses import get_loss

    x, y = _blobs()
    c = class_similarity_from_features(x, y)
    sched, last = MarginScalable(m_max=6.0, class_similarity=c), _LastBatch()
    model, _, _, _ = _train([sched, last], method="triplet", epochs=1)
    m = model.loss.margin
    assert m.shape == (
        16,
        16,
    )  # read by the triplet loss as the (anchor, negative) margin of its [a, p, n] terms
    # the triplet loss with these margins equals the plain sum over valid triplets of [m_an + d_ap - d_an]_+
    h = torch.tanh(torch.randn(16, BITS, generator=torch.Generator().manual_seed(0)))
    yl = last.y
    loss = get_loss("triplet", bits=BITS, n_classes=4, mining="all")  # batch-all: every valid triplet below
    loss.margin = m
    d = ((h[:, None] - h[None]) ** 2).sum(-1)
    terms = [
        max(0.0, float(m[a, n] + d[a, p] - d[a, n]))
        for a in range(16)
        for p in range(16)
        for n in range(16)
        if p != a and yl[p] == yl[a] and yl[n] != yl[a]
    ]
    assert float(loss(h, yl).total) == pytest.approx(np.mean(terms), rel=1e-5)
    # a center loss (TCL) reads one margin per sample: the anchor's mean margin over its dissimilar pairs
    sched = MarginScalable(m_max=6.0, class_similarity=c)
    model, _, _, _ = _train([sched, last], method="tcl", epochs=1)
    m = model.loss.margin
    assert m.shape == (16,)
    yl = last.y.tolist()
    expected = [np.mean([6.0 * (1 - c[a, b]) for b in yl if b != a]) for a in yl]
    np.testing.assert_allclose(m.numpy(), expected, rtol=1e-5)
    dens = DensityAdaptiveMargin(
        x, y, m0=2.0, k=5, beta=1.0, patience=1
    )  # undamped: per-item targets at once

    class Snapshot(_LastBatch):
        def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
            super().on_train_batch_start(trainer, pl_module, batch, batch_idx)
            self.committed = dens.controller.committed.clone()

    snap = Snapshot()
    model, _, _, _ = _train([dens, snap], method="tcl", epochs=1)
    assert model.loss.margin.shape == (16,) and float(model.loss.margin.std()) > 0
    assert torch.allclose(model.loss.margin, snap.committed[snap.idx])


def test_density_adaptive_callback_per_pair_margins():
    x, y = _blobs()
    cb = DensityAdaptiveMargin(
        x, y, m0=1.0, kappa=1.0, nu=1.0, k=5, relative=True, every_n_steps=3, patience=1
    )
    model, _, _, _ = _train([cb], epochs=2)
    m = model.loss.margin
    assert isinstance(m, torch.Tensor) and m.shape == (16, 16) and torch.allclose(m, m.T)
    assert len(cb.trajectory) == 1 + 3  # start + refreshes at steps 3, 6, 9
    assert float(cb.controller.committed.std()) > 0  # per-sample margins actually differ
    assert float(m.mean()) == pytest.approx(
        2.0 * BITS, rel=0.5
    )  # relative to DSH's margin, centred on m0 = 1


def test_anchor_prototypes_stay_within_radius_during_training():
    x, y = _blobs()
    anchors = herding_prototypes(x, y, per_class=2)
    assert len(anchors) == 8 and sorted(set(y[anchors])) == [0, 1, 2, 3]

    def drift_after_training(callbacks):
        seed_everything(0)
        init = HashingModule(in_dim=x.shape[1], bits=BITS, n_classes=4, method="dsh", hidden=(32,))
        pinned = torch.where(init(torch.from_numpy(x[anchors])) >= 0, 1.0, -1.0).detach()
        model, _, _, _ = _train(callbacks, epochs=6, lr=1e-2)
        return int(anchor_drift(model.eval()(torch.from_numpy(x[anchors])).detach(), pinned).max())

    # control: without pinning, training moves the anchors' codes by more than the radius
    assert drift_after_training([]) > 1
    pin = AnchorPrototypes(x, y, per_class=2, radius=1)
    assert drift_after_training([pin]) <= 1
    assert len(pin.max_drift) == 36 and max(pin.max_drift) <= 1  # after every optimisation step
    assert pin.corrections > 0  # the corrections were needed
    # explicit pinned codes (e.g. from a previous model version): held within radius 0 from the first step on
    target = np.where(np.random.default_rng(3).random((8, BITS)) < 0.5, 1, -1)
    pin = AnchorPrototypes(x, anchors=anchors, radius=0, codes=target)
    model, _, _, _ = _train([pin], epochs=2)
    relaxed = model.eval()(torch.from_numpy(x[anchors])).detach()
    assert int(anchor_drift(relaxed, torch.from_numpy(target)).max()) == 0 and max(pin.max_drift) == 0
    with pytest.raises(ValueError, match="one row per anchor"):
        AnchorPrototypes(x, anchors=anchors, codes=target[:3])


# ------------------------------------------------------------------------------------------------ bad input
def test_bad_margins_raise_clear_errors():
    with pytest.raises(ValueError, match=">= 0"):
        check_margin(-1.0)
    with pytest.raises(ValueError, match="finite"):
        check_margin(float("nan"))
    with pytest.raises(ValueError, match="NaN/inf"):
        check_margin(torch.tensor([1.0, float("inf")]))
    with pytest.raises(ValueError, match="batch has 4"):
        check_margin(torch.ones(3, 3), batch_size=4)
    with pytest.raises(ValueError, match="per-pair"):
        check_margin(torch.ones(4, 3))
    with pytest.raises(ValueError, match="anchor-negative"):
        check_margin(torch.ones(4, 2, 4))
    with pytest.raises(ValueError, match=">= 0"):
        LinearWarmup(start=-1.0, end=2.0, warmup=3)
    with pytest.raises(ValueError, match="NaN"):
        CosineWarmup(start=float("nan"), end=2.0, warmup=3)
    with pytest.raises(ValueError, match="len\\(values\\)"):
        StepMargin([2, 4], [1.0, 2.0])
    with pytest.raises(ValueError, match="strictly increasing"):
        StepMargin([4, 2], [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="m_min"):
        scalable_margins(torch.eye(2), m_max=1.0, m_min=2.0)
    with pytest.raises(ValueError, match="beta"):
        HysteresisController(1.0, beta=0.0)
    with pytest.raises(ValueError, match="target shape"):
        HysteresisController(torch.ones(3)).update(torch.ones(4))
    with pytest.raises(ValueError, match="radius"):
        AnchorPrototypes(np.zeros((4, 2)), np.array([0, 0, 1, 1]), radius=-1)


def test_schedule_on_loss_without_margin_and_wrong_pair_shape():
    model = HashingModule(in_dim=4, bits=BITS, n_classes=2, method="dpsh", hidden=(8,))
    with pytest.raises(AttributeError, match="no 'margin'"):
        set_loss_margin(model, 1.0)
    dsh = HashingModule(in_dim=4, bits=BITS, n_classes=2, method="dsh", hidden=(8,))
    with pytest.raises(ValueError, match="expected \\(5,\\)"):
        set_loss_margin(dsh, torch.ones(4, 4), batch_size=5)
    # a relative schedule whose base margin is NaN would produce NaN margins: refused when set
    with pytest.raises(ValueError):
        dsh.loss.margin = float("nan")


# ------------------------------------------------------------------------------------------------ notebook helpers
def test_separation_matches_brute_force():
    from hashlab.separation import separation

    rng = np.random.default_rng(0)
    codes = np.where(rng.random((20, 6)) < 0.5, 1, -1).astype(np.int8)
    labels = np.repeat([0, 1, 2, 3], 5)
    same, diff = [], []
    for i in range(20):
        for j in range(i + 1, 20):
            d = int((codes[i] != codes[j]).sum())
            (same if labels[i] == labels[j] else diff).append(d)
    s, d = np.array(same, float), np.array(diff, float)
    sep = separation(codes, labels)
    assert sep["mean_same"] == pytest.approx(s.mean()) and sep["mean_diff"] == pytest.approx(d.mean())
    assert sep["dprime"] == pytest.approx((d.mean() - s.mean()) / math.sqrt((s.var() + d.var()) / 2))
    overlap = sum(min(np.mean(s == k), np.mean(d == k)) for k in range(7))
    assert sep["overlap"] == pytest.approx(overlap)
    with pytest.raises(ValueError, match="both"):
        separation(codes[:5], np.zeros(5, dtype=np.int64))


def _small_digits_config(**kw):
    from hashlab.experiment import ExperimentConfig

    base = dict(method="dsh", bits=8, epochs=2, hidden=(32,), batch_size=64, subsample=(300, 100, 100))
    return ExperimentConfig(**{**base, **kw})


def test_margin_explorer_retrains_and_redraws_on_slider_change():
    from hashlab.experiment import load_embeddings
    from hashlab.widgets import MarginExplorer

    cfg = _small_digits_config()
    emb = load_embeddings(cfg)
    box = MarginExplorer(cfg, emb, bits_options=(8,), fractions=(0.0, 0.5))
    assert (
        list(box.cache) == [(8, 0.5)] and "margin 4 bits" in box.status.value
    )  # DSH default 2L = 4 bits of 8
    box.fraction.value = 0.0
    assert set(box.cache) == {(8, 0.5), (8, 0.0)}
    assert "margin 0 bits" in box.status.value and "mAP" in box.status.value
    with pytest.raises(ValueError, match="DSH"):
        MarginExplorer(cfg.replace(method="dpsh"), emb)


def test_simulate_burst_damped_vs_undamped():
    from hashlab.experiment import load_embeddings
    from hashlab.studies.margins import simulate_burst

    cfg = _small_digits_config()
    emb = load_embeddings(cfg)
    seed_everything(0)
    model = HashingModule(
        in_dim=emb.train.features.shape[1], bits=8, n_classes=10, method="dsh", hidden=(32,)
    )
    res = simulate_burst(
        model, emb, cycles=12, burst_at=4, burst_size=200, shift_at=8, shift_size=200, arrivals=40
    )
    traj = res.trajectories
    assert len(traj) == 12 and np.allclose(traj["undamped"], traj["target"])  # undamped follows every target
    assert res.excursion["hysteresis"] < 0.5 * res.excursion["undamped"]
    with pytest.raises(ValueError, match="burst"):
        simulate_burst(model, emb, cycles=5, burst_at=7)


def test_schedule_comparison_records_the_margins_the_loss_used():
    from hashlab.experiment import load_embeddings
    from hashlab.studies.margins import schedule_comparison

    cfg = _small_digits_config(loss_kwargs={"margin": 6.0})
    emb = load_embeddings(cfg)
    schedules = {
        "constant": lambda: [ConstantMargin(1.0, relative=True)],
        "linear": lambda: [LinearWarmup(0.0, 1.0, warmup=4, relative=True)],
    }
    table, results, margins = schedule_comparison(cfg, schedules, emb)
    assert list(table.index) == ["constant", "linear"] and (table["map"] > 0).all()
    steps = margins.index.to_numpy()
    assert len(steps) == 2 * (300 // 64)  # epochs x full batches (ragged last batch dropped)
    np.testing.assert_allclose(margins["constant"], 6.0)
    np.testing.assert_allclose(margins["linear"], [6.0 * min(t / 4, 1.0) for t in steps], rtol=1e-6)


def test_output_scale_on_hand_computed_outputs():
    from types import SimpleNamespace

    from hashlab.studies.margins import output_scale

    class Fixed(torch.nn.Module):  # a "model" whose relaxed outputs are given
        def __init__(self, h: torch.Tensor, margin: float) -> None:
            super().__init__()
            self.h, self.loss, self.device = h, SimpleNamespace(margin=margin), torch.device("cpu")

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.h

    h = torch.tensor([[2.0, 0.5], [-2.0, 0.5], [2.0, -1.5]])
    result = SimpleNamespace(
        model=Fixed(h, 17.0),
        labels={"test": np.array([0, 1, 0])},
        codes={"test": np.sign(h.numpy()).astype(np.int8)},
    )
    emb = SimpleNamespace(test=SimpleNamespace(features=np.zeros((3, 4), np.float32)))
    row = output_scale({0.5: result}, emb).loc[0.5]
    # dissimilar pairs: ||h0 - h1||^2 = 16 < 17 (d_H 1), ||h1 - h2||^2 = 20 >= 17 (d_H 2); same class: d_H(0, 2) = 1
    assert row["mean |h|"] == pytest.approx(8.5 / 6)
    assert row["past margin"] == pytest.approx(0.5)
    assert row["dissimilar d_H"] == pytest.approx(1.5) and row["same-class d_H"] == pytest.approx(1.0)
