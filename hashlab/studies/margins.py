"""The margin studies of notebook 05: margin sweeps, schedule comparison, the burst simulation, pinned anchors.

Margins are given as a *fraction of the code length* ``f`` in Hamming units; for DSH (Liu et al., 2016) the loss
margin is ``4 f L`` (:func:`hashlab.separation.dsh_margin`). Each study trains through
:func:`hashlab.experiment.run` and reports test mAP and the separation of same- vs different-class Hamming distances
(:func:`hashlab.separation.separation`). Figures: :mod:`hashlab.viz.margins`; the interactive explorer:
:class:`hashlab.widgets.MarginExplorer`. Anchors and density-adaptive margins follow Crawford & Ahuja's continual
margin-adaptive hashing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch
from pytorch_lightning.callbacks import Callback

from hashlab.codes import label_similarity
from hashlab.experiment import ExperimentConfig, ExperimentResult, load_embeddings, run
from hashlab.features import EmbeddingSet
from hashlab.margins.adaptive import (
    AnchorPrototypes,
    DensityAdaptiveMargin,
    HysteresisController,
    density_margins,
    herding_prototypes,
)
from hashlab.margins.schedules import (
    ConstantMargin,
    CosineWarmup,
    LinearWarmup,
    MarginScalable,
    StepMargin,
    class_similarity_from_features,
)
from hashlab.metrics import mean_average_precision
from hashlab.separation import dsh_margin, separation

__all__ = [
    "BurstResult",
    "MarginRecorder",
    "margin_sweep",
    "output_scale",
    "pinned_anchor_retrain",
    "schedule_comparison",
    "simulate_burst",
    "standard_schedules",
]


def _row(result: ExperimentResult, **extra: Any) -> dict[str, Any]:
    row = dict(extra)
    row["map"] = result.metrics["map"]
    row["val_map"] = result.val_metrics["map"]
    row.update(separation(result.codes["test"], result.labels["test"]))
    row["train_s"] = result.train_seconds
    return row


def margin_sweep(
    config: ExperimentConfig,
    fractions: Sequence[float],
    embeddings: EmbeddingSet | None = None,
    progress: bool = True,
) -> tuple[pd.DataFrame, dict[float, ExperimentResult]]:
    """Train ``config`` (a DSH config) once per Hamming-margin fraction; one table row per margin.

    Columns: ``fraction``, ``margin_bits`` (``f * L``), test ``map``, ``val_map``, separation statistics, ``train_s``.
    """
    if config.method != "dsh":
        raise ValueError(f"margin_sweep sets the DSH margin; got method {config.method!r}")
    embeddings = load_embeddings(config) if embeddings is None else embeddings
    rows, results = [], {}
    from tqdm.auto import tqdm

    for f in tqdm(fractions, desc="margin sweep", unit="margin", disable=not progress):
        cfg = config.replace(loss_kwargs={**config.loss_kwargs, "margin": dsh_margin(f, config.bits)})
        res = run(cfg, embeddings=embeddings, progress=False)
        results[f] = res
        rows.append(_row(res, fraction=f, margin_bits=f * config.bits))
    return pd.DataFrame(rows), results


def output_scale(
    results: Mapping[float, ExperimentResult], embeddings: EmbeddingSet, split: str = "test"
) -> pd.DataFrame:
    """How each run of :func:`margin_sweep` meets its margin, on the ``split`` items (all pairs: O(N^2) memory).

    One row per margin fraction: ``mean |h|`` of the relaxed outputs (DSH's raw head outputs), ``past margin`` (the
    fraction of dissimilar pairs with ``||h_i - h_j||^2 >= m``) and ``dissimilar d_H`` / ``same-class d_H`` (mean
    Hamming distance of the codes over dissimilar / same-class pairs ``i != j``).
    """
    features = torch.as_tensor(getattr(embeddings, split).features, dtype=torch.float32)
    rows = []
    for fraction, result in results.items():
        model = result.model.eval()
        with torch.no_grad():
            h = model(features.to(model.device)).cpu()
        similar = torch.as_tensor(label_similarity(result.labels[split]))
        off_diagonal = ~torch.eye(len(h), dtype=torch.bool)
        dissimilar = ~similar & off_diagonal
        codes = torch.as_tensor(result.codes[split], dtype=torch.float32)
        hamming = (codes.shape[1] - codes @ codes.T) / 2
        margin = torch.as_tensor(model.loss.margin, dtype=torch.float32).mean()
        rows.append(
            {
                "fraction": fraction,
                "mean |h|": float(h.abs().mean()),
                "past margin": float((torch.cdist(h, h).pow(2)[dissimilar] >= margin).float().mean()),
                "dissimilar d_H": float(hamming[dissimilar].mean()),
                "same-class d_H": float(hamming[similar & off_diagonal].mean()),
            }
        )
    return pd.DataFrame(rows).set_index("fraction")


def standard_schedules(
    config: ExperimentConfig, embeddings: EmbeddingSet, steps_per_epoch: int
) -> dict[str, Callable[[], list[Callback]]]:
    """The schedules notebook 05 compares, all ending at (or centred on) the config's DSH margin.

    Values are relative to the loss's margin ``m``: constant ``m``; linear and cosine warm-up ``0 -> m`` over the first
    half of training; step ``m/4, m/2, m`` at 1/3 and 2/3 of the epochs; margin-scalable with ``m_max = m`` and
    class similarity from the training embeddings; density-adaptive per-pair margins centred on ``m`` and clipped to
    ``[m/2, 3m/2]`` (refreshed every epoch, hysteresis-smoothed; unclipped, the ambiguity ratio of misranked items
    sends single margins far beyond ``L`` bits).
    """
    half = max(1, config.epochs * steps_per_epoch // 2)
    e1, e2 = max(1, config.epochs // 3), max(2, 2 * config.epochs // 3)
    sim = class_similarity_from_features(embeddings.train.features, embeddings.train.labels)
    train = embeddings.train
    return {
        "constant": lambda: [ConstantMargin(1.0, relative=True)],
        "linear warm-up": lambda: [LinearWarmup(0.0, 1.0, warmup=half, relative=True)],
        "cosine warm-up": lambda: [CosineWarmup(0.0, 1.0, warmup=half, relative=True)],
        "step": lambda: [StepMargin([e1, e2], [0.25, 0.5, 1.0], interval="epoch", relative=True)],
        "margin-scalable": lambda: [MarginScalable(m_max=1.0, class_similarity=sim, relative=True)],
        "density-adaptive": lambda: [
            DensityAdaptiveMargin(
                train.features,
                train.labels,
                m0=1.0,
                m_min=0.5,
                m_max=1.5,
                relative=True,
                patience=1,
                beta=0.5,
            )
        ],
    }


class MarginRecorder(Callback):
    """Records the mean of ``pl_module.loss.margin`` at every training step (after the schedules have set it)."""

    def __init__(self) -> None:
        self.trace: list[tuple[int, float]] = []

    def on_train_batch_start(self, trainer: Any, pl_module: Any, batch: Any, batch_idx: int) -> None:
        m = pl_module.loss.margin
        self.trace.append(
            (trainer.global_step, float(m.float().mean()) if isinstance(m, torch.Tensor) else float(m))
        )


def schedule_comparison(
    config: ExperimentConfig,
    schedules: Mapping[str, Callable[[], list[Callback]]],
    embeddings: EmbeddingSet | None = None,
) -> tuple[pd.DataFrame, dict[str, ExperimentResult], pd.DataFrame]:
    """Train ``config`` once per schedule (fresh callbacks each).

    Returns the table of mAP and separation per schedule, the results, and the margin traces (index: step, one
    column per schedule: the batch-mean margin the loss used at that step, in the loss's units).
    """
    embeddings = load_embeddings(config) if embeddings is None else embeddings
    rows, results, traces = [], {}, {}
    for name, make in schedules.items():
        recorder = MarginRecorder()
        res = run(config, embeddings=embeddings, callbacks=[*make(), recorder], progress=False)
        results[name] = res
        traces[name] = pd.Series(dict(recorder.trace))
        rows.append(_row(res, schedule=name))
    margins = pd.DataFrame(traces)
    margins.index.name = "step"
    return pd.DataFrame(rows).set_index("schedule"), results, margins


# ----------------------------------------------------------------------------------------------- burst simulation
@dataclass
class BurstResult:
    """Mean committed margin of the database items per cycle and controller, plus summary numbers.

    ``trajectories``: DataFrame (index ``cycle``; one column per controller and ``target``, the undamped per-cycle
    mean target). ``excursion``: peak |mean margin - pre-burst mean margin| during the burst window, per controller.
    ``final_gap``: |final mean margin - final mean target| per controller (does it follow the sustained change?).
    ``moved``: the largest fraction of database items whose margin moved by more than 5 % during the burst window.
    """

    trajectories: pd.DataFrame
    excursion: dict[str, float]
    final_gap: dict[str, float]
    moved: dict[str, float]
    burst: tuple[int, int]
    shift_at: int | None


def simulate_burst(
    model: torch.nn.Module,
    embeddings: EmbeddingSet,
    cycles: int = 30,
    burst_at: int = 8,
    burst_len: int = 1,
    burst_size: int = 400,
    shift_at: int | None = 18,
    shift_size: int = 400,
    arrivals: int = 60,
    noise: float = 0.05,
    m0: float = 1.0,
    kappa: float = 1.0,
    nu: float = 3.0,
    k: int = 10,
    controllers: Mapping[str, Mapping[str, float]] | None = None,
    seed: int = 0,
) -> BurstResult:
    """Feed per-cycle density-adaptive target margins of the database (training split) to several controllers.

    Each cycle a stream of ``arrivals`` validation items (plus Gaussian noise ``noise`` x feature std) joins the
    database for the margin computation; from ``burst_at`` for ``burst_len`` cycles a wave of ``burst_size``
    near-duplicates of one training item joins as well (a spam burst); from ``shift_at`` on a *persistent* wave of
    ``shift_size`` near-duplicates of another item arrives every cycle (a sustained change). Targets for the database
    items are :func:`density_margins` over database + arrivals. ``controllers`` maps a name to
    :class:`HysteresisController` keyword arguments (default: undamped, EMA, hysteresis).
    """
    if not 0 <= burst_at < cycles or burst_len < 1:
        raise ValueError(f"burst must start within 0..{cycles - 1} and last >= 1 cycle")
    controllers = controllers or {
        "undamped": {"beta": 1.0, "band": 0.0, "patience": 1},
        "EMA (beta=0.3)": {"beta": 0.3, "band": 0.0, "patience": 1},
        "hysteresis": {"beta": 0.3, "band": 0.05, "patience": 3},
    }
    rng = np.random.default_rng(seed)
    db = embeddings.train
    scale = float(db.features.std())
    y_db = np.asarray(db.labels)
    spam_item, shift_item = rng.choice(len(db.features), size=2, replace=False)

    def wave(item: int, size: int) -> tuple[np.ndarray, np.ndarray]:
        x = db.features[item] + noise * scale * rng.standard_normal((size, db.features.shape[1]))
        return x.astype(np.float32), np.full(size, y_db[item])

    was_training = model.training
    model.eval()

    def relax(x: np.ndarray) -> torch.Tensor:
        with torch.no_grad():
            return model(torch.as_tensor(x, dtype=torch.float32)).float()

    u_db = relax(db.features)
    ctrls: dict[str, HysteresisController] = {}
    rows = []
    for t in range(cycles):
        pick = rng.choice(len(embeddings.val.features), size=arrivals, replace=False)
        xs = [
            embeddings.val.features[pick]
            + noise * scale * rng.standard_normal((arrivals, db.features.shape[1]))
        ]
        ys = [np.asarray(embeddings.val.labels)[pick]]
        if burst_at <= t < burst_at + burst_len:
            x, y = wave(spam_item, burst_size)
            xs.append(x)
            ys.append(y)
        if shift_at is not None and t >= shift_at:
            x, y = wave(shift_item, shift_size)
            xs.append(x)
            ys.append(y)
        u = torch.cat([u_db, relax(np.concatenate(xs))])
        y_all = np.concatenate([y_db, *ys])
        target = density_margins(u, y_all, m0=m0, kappa=kappa, nu=nu, k=k)[: len(u_db)]
        row = {"cycle": t, "target": float(target.mean())}
        if not ctrls:
            start = target.clone()
        for name, kw in controllers.items():
            if name not in ctrls:
                ctrls[name] = HysteresisController(target, **kw)  # start in the pre-burst steady state
            m = ctrls[name].update(target)
            row[name] = float(m.mean())
            row[f"moved_{name}"] = float(((m - start).abs() > 0.05 * start.clamp_min(1e-6)).float().mean())
        rows.append(row)
    model.train(was_training)
    traj = pd.DataFrame(rows).set_index("cycle")
    before = traj.iloc[: max(1, burst_at)]
    end = min(cycles, burst_at + burst_len + 4)
    if shift_at is not None:
        end = min(end, shift_at)
    window = traj.iloc[burst_at:end]
    excursion = {c: float((window[c] - before[c].iloc[-1]).abs().max()) for c in controllers}
    final_gap = {c: float(abs(traj[c].iloc[-1] - traj["target"].iloc[-1])) for c in controllers}
    moved = {c: float(window[f"moved_{c}"].max()) for c in controllers}
    return BurstResult(traj, excursion, final_gap, moved, (burst_at, burst_at + burst_len), shift_at)


# ----------------------------------------------------------------------------------------------- anchors
def pinned_anchor_retrain(
    config: ExperimentConfig,
    old: ExperimentResult,
    per_class: int = 1,
    radius: int = 1,
    seed: int = 1,
    embeddings: EmbeddingSet | None = None,
) -> pd.DataFrame:
    """Retrain ``config`` with another ``seed``, without and with anchors pinned to ``old``'s codes.

    Anchors: :func:`herding_prototypes` of the training split (``per_class`` per class), pinned within ``radius`` bits
    of their codes in ``old``. One row per variant: largest anchor drift (final codes, and during training: "not
    tracked" without pinning), mean
    Hamming drift of the other database items from ``old``'s codes, test mAP, and the mAP of the new model's test
    queries against ``old``'s database codes (the stored index, not re-hashed).
    """
    embeddings = old.embeddings if embeddings is None else embeddings
    train = embeddings.train
    anchors = herding_prototypes(train.features, train.labels, per_class)
    others = np.setdiff1d(np.arange(len(train.labels)), anchors)
    rows = []
    for pinned in (False, True):
        cbs = []
        if pinned:
            cbs = [
                AnchorPrototypes(
                    train.features, anchors=anchors, radius=radius, codes=old.codes["train"][anchors]
                )
            ]
        res = run(config.replace(seed=seed), embeddings=embeddings, callbacks=cbs, progress=False)
        drift = (res.codes["train"] != old.codes["train"]).sum(1)
        rows.append(
            {
                "anchors pinned": pinned,
                "anchors": len(anchors),
                "anchor drift (max, final)": int(drift[anchors].max()),
                "anchor drift (max, training)": max(cbs[0].max_drift) if pinned else "not tracked",
                "other items drift (mean bits)": float(drift[others].mean()),
                "test mAP": res.metrics["map"],
                "mAP vs old index": float(
                    mean_average_precision(
                        res.codes["test"], old.codes["train"], res.labels["test"], train.labels
                    )
                ),
            }
        )
    return pd.DataFrame(rows).set_index("anchors pinned")
