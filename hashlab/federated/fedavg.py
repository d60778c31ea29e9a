r"""FedAvg of hash heads across simulated clients, with Wells et al.'s per-client margin scaling, and two
baselines.

Wells et al. ("Federated Deep Hashing with Margin-Scalable Semantic Constraints", undated, no experiments): clients
run "several local optimization steps" on private data and a server "aggregates them into a new global model"
(FedAvg, McMahan et al. 2017); the margin-scalable loss is computed locally "drawing on global margin schedules
communicated by the server", the server using client statistics such as "average intra-class distances".

What is implemented (an in-process simulator: no network, every client takes part in every round):

* FedAvg over the hash head: in round ``t`` each client ``k`` loads the global head ``w_t``, trains
  ``local_epochs`` epochs on its own items with :func:`hashlab.experiment.fit` (Lightning, Adam re-created per
  round), and the server sets :math:`w_{t+1} = \sum_k (n_k / n)\, w_k` (:func:`average_states`).
* Per-client margin scaling (only for losses with a ``margin``, e.g. DSH): before each round every client reports two
  numbers measured with the global model on its own items, the mean Hamming distance of same-class pairs
  :math:`\bar d^{intra}_k` and of different-class pairs :math:`\bar d^{inter}_k`; with the gap
  :math:`g_k = \bar d^{inter}_k - \bar d^{intra}_k` and its size-weighted mean :math:`\bar g`, the server sends back
  :math:`m_k = m_0 \cdot \operatorname{clip}(1 + \gamma (\bar g - g_k)/L,\ s_{min}, s_{max})`: a client whose
  classes are less separated than average trains with a larger margin. Simplified from Wells et al.'s
  margin-scalable constraints: one scalar margin per client (not per class or layer), statistics sent unquantized and without privacy noise; a
  client with a single class (no different-class pairs) gets the base margin.
* Evaluation each round: the server model encodes test queries and the **full** training database
  (:func:`hashlab.experiment.evaluate`); the round reported as the result is chosen by validation mAP only.
* Communication: head parameters sent per round = ``2 · n_clients · |w|`` (global model down, update up).

Baselines: :func:`run_centralized` (all training items in one place, :func:`hashlab.experiment.run`, the upper bound)
and :func:`run_local_only` (each client trains alone for the same number of epochs; metrics averaged over clients).
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
import torch

from hashlab.checks import check_positive_int
from hashlab.codes import label_similarity
from hashlab.config import seed_everything, torch_threads
from hashlab.data import EmbeddingDataModule
from hashlab.experiment import ExperimentConfig, ExperimentResult, build_model, evaluate, run
from hashlab.features import EmbeddingSet, FeatureSplit
from hashlab.federated.partition import dirichlet_partition
from hashlab.metrics import hamming_distance
from hashlab.module import HashingModule
from hashlab.settings import preset
from hashlab.training import fit

__all__ = [
    "FederatedConfig",
    "FederatedResult",
    "LocalOnlyResult",
    "average_states",
    "client_embeddings",
    "client_margin_scales",
    "client_statistics",
    "fedavg_step",
    "head_parameter_count",
    "run_centralized",
    "run_fedavg",
    "run_local_only",
]


_PRESET = preset("federated").to_dict()


@dataclass
class FederatedConfig:
    """One federated run: clients and partition, rounds and local epochs, the hash head, margin scaling.

    Model and training defaults are the ``federated`` preset of :mod:`hashlab.settings` (one place decides them).
    """

    n_clients: int = 5
    alpha: float = 1.0
    rounds: int = 10
    local_epochs: int = _PRESET["epochs"]
    method: str = _PRESET["method"]
    bits: int = _PRESET["bits"]
    hidden: tuple[int, ...] = _PRESET["hidden"]
    lr: float = _PRESET["lr"]
    batch_size: int = _PRESET["batch_size"]
    seed: int = _PRESET["seed"]
    margin_scaling: bool = True
    gamma: float = 1.0
    scale_range: tuple[float, float] = (0.5, 2.0)
    knn_k: int = _PRESET["knn_k"]
    min_client_size: int = 2
    threads: int | None = _PRESET["threads"]
    loss_kwargs: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("n_clients", "rounds", "local_epochs", "batch_size"):
            check_positive_int(getattr(self, name), name)
        if not (self.alpha > 0):
            raise ValueError(f"alpha must be > 0 (alpha = inf is IID), got {self.alpha}")
        lo, hi = self.scale_range
        if not 0 < lo <= 1 <= hi:
            raise ValueError(f"scale_range must satisfy 0 < low <= 1 <= high, got {self.scale_range}")
        if self.gamma < 0:
            raise ValueError(f"gamma must be >= 0, got {self.gamma}")
        self.hidden = tuple(int(h) for h in self.hidden)
        self.experiment_config(1)  # validates method, bits, lr

    def experiment_config(self, epochs: int) -> ExperimentConfig:
        """The :class:`~hashlab.experiment.ExperimentConfig` of one model of this run trained for ``epochs``."""
        return preset(
            "federated",
            method=self.method,
            bits=self.bits,
            epochs=epochs,
            batch_size=self.batch_size,
            lr=self.lr,
            hidden=self.hidden,
            seed=self.seed,
            loss_kwargs=dict(self.loss_kwargs),
            knn_k=self.knn_k,
            threads=self.threads,
        )

    def replace(self, **changes) -> FederatedConfig:
        return replace(self, **changes)


@dataclass
class FederatedResult:
    """Per-round history (round 0 = the initial model), the model of the round with the best validation mAP."""

    config: FederatedConfig
    parts: list[np.ndarray]
    history: pd.DataFrame
    best_round: int
    model: HashingModule
    metrics: dict[str, float]  # test queries vs full training database, at best_round
    margins: np.ndarray | None  # (rounds, n_clients) client margins, None when not scaled

    @property
    def params_sent(self) -> int:
        return int(self.history["params_sent"].iloc[-1])


@dataclass
class LocalOnlyResult:
    """Each client trained alone: one metrics row per client and their unweighted mean."""

    per_client: pd.DataFrame
    metrics: dict[str, float]


# --------------------------------------------------------------------------------------------------------- server
def head_parameter_count(model: HashingModule) -> int:
    """Number of values in the hash head's state (what one client sends per round)."""
    return int(sum(t.numel() for t in model.head.state_dict().values()))


def average_states(states: Sequence[Mapping[str, torch.Tensor]], weights: Sequence[float]) -> dict:
    """Weighted mean ``sum_k (w_k / sum w) state_k`` of floating tensors; integer buffers must agree (taken as is)."""
    if len(states) == 0:
        raise ValueError("no client states to average")
    if len(states) != len(weights):
        raise ValueError(f"{len(states)} states but {len(weights)} weights")
    w = np.asarray(weights, dtype=np.float64)
    if not np.all(np.isfinite(w)) or (w < 0).any() or w.sum() <= 0:
        raise ValueError(f"weights must be finite, non-negative and not all zero, got {list(weights)}")
    w = w / w.sum()
    keys = list(states[0].keys())
    out = {}
    for state in states[1:]:
        if list(state.keys()) != keys:
            raise ValueError("client states have different keys: not the same architecture")
    for key in keys:
        tensors = [s[key] for s in states]
        if tensors[0].is_floating_point():
            acc = sum(float(wk) * t.detach().double() for wk, t in zip(w, tensors, strict=True))
            out[key] = acc.to(tensors[0].dtype)
        else:
            if any(not torch.equal(t, tensors[0]) for t in tensors[1:]):
                raise ValueError(f"non-floating entry {key!r} differs between clients")
            out[key] = tensors[0].clone()
    return out


def fedavg_step(global_model: HashingModule, clients: Sequence[HashingModule], sizes: Sequence[int]) -> None:
    """Load the size-weighted average of the clients' heads into ``global_model`` (McMahan et al. 2017)."""
    avg = average_states([c.head.state_dict() for c in clients], sizes)
    global_model.head.load_state_dict(avg)


# --------------------------------------------------------------------------------------------------------- margins
def client_statistics(model: HashingModule, features: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """Mean Hamming distance of same-class and of different-class pairs of a client's items (NaN when none)."""
    codes = model.encode(features)
    dist = hamming_distance(codes, codes).astype(np.float64)
    labels = np.asarray(labels)
    same = label_similarity(labels)
    off = ~np.eye(len(labels), dtype=bool)
    intra = dist[same & off]
    inter = dist[~same]
    return (float(intra.mean()) if intra.size else np.nan, float(inter.mean()) if inter.size else np.nan)


def client_margin_scales(
    stats: Sequence[tuple[float, float]],
    sizes: Sequence[int],
    bits: int,
    gamma: float = 1.0,
    scale_range: tuple[float, float] = (0.5, 2.0),
) -> np.ndarray:
    """Server rule ``s_k = clip(1 + gamma * (mean_gap - gap_k) / bits, lo, hi)``; ``s_k = 1`` where gap is undefined."""
    gaps = np.array([inter - intra for intra, inter in stats], dtype=np.float64)
    sizes = np.asarray(sizes, dtype=np.float64)
    ok = np.isfinite(gaps)
    scales = np.ones(len(gaps))
    if ok.any():
        mean_gap = float((gaps[ok] * sizes[ok]).sum() / sizes[ok].sum())
        scales[ok] = np.clip(1.0 + gamma * (mean_gap - gaps[ok]) / bits, *scale_range)
    return scales


# --------------------------------------------------------------------------------------------------------- clients
def client_embeddings(embeddings: EmbeddingSet, items: np.ndarray, client: int = 0) -> EmbeddingSet:
    """The embeddings a client trains on: its training items; validation and test splits unchanged."""
    items = np.asarray(items, dtype=np.int64)
    if items.size == 0:
        raise ValueError(f"client {client} has no training items")
    train = FeatureSplit(embeddings.train.features[items], embeddings.train.labels[items])
    meta = {**embeddings.meta, "client": client, "n_items": int(items.size)}
    return EmbeddingSet(
        embeddings.dataset,
        embeddings.backbone,
        train,
        embeddings.val,
        embeddings.test,
        embeddings.class_names,
        meta,
    )


def _train_local(
    model: HashingModule, data: EmbeddingSet, epochs: int, config: FederatedConfig, seed: int
) -> None:
    seed_everything(seed)
    n = len(data.train.labels)
    dm = EmbeddingDataModule(data, batch_size=min(config.batch_size, n), seed=seed, val_db_size=None)
    fit(model, dm, config.experiment_config(epochs).training, progress=False, select_on_val=False)


def _row(round_: int, test: dict, val: dict, sent: int, seconds: float) -> dict:
    return {
        "round": round_,
        "map": test["map"],
        "knn_acc": test["knn_acc"],
        "val_map": val["map"],
        "val_knn_acc": val["knn_acc"],
        "params_sent": sent,
        "seconds": seconds,
    }


def run_fedavg(
    embeddings: EmbeddingSet,
    config: FederatedConfig,
    parts: Sequence[np.ndarray] | None = None,
    on_round: Callable[[dict], None] | None = None,
    progress: bool = True,
) -> FederatedResult:
    """FedAvg of hash heads as the module docstring describes; ``parts`` defaults to a Dirichlet(α) partition.

    ``progress`` shows a bar over the rounds (tqdm: a widget in notebooks, text in a terminal)."""
    if parts is None:
        parts = dirichlet_partition(
            embeddings.train.labels, config.n_clients, config.alpha, config.seed, config.min_client_size
        )
    parts = [np.asarray(p, dtype=np.int64) for p in parts]
    if len(parts) != config.n_clients:
        raise ValueError(f"config has {config.n_clients} clients but {len(parts)} parts were given")
    data = [client_embeddings(embeddings, p, k) for k, p in enumerate(parts)]
    sizes = [len(p) for p in parts]
    with torch_threads(config.threads):
        server = build_model(config.experiment_config(config.local_epochs), embeddings).cpu()
        clients = [copy.deepcopy(server) for _ in parts]
        has_margin = hasattr(server.loss, "margin") and config.margin_scaling
        base_margin = float(server.loss.margin) if has_margin else None
        per_round = 2 * len(parts) * head_parameter_count(server)
        start = time.perf_counter()
        _, test, val = evaluate(server, embeddings, config.knn_k)
        rows = [_row(0, test, val, 0, 0.0)]
        best_round, best_val, best_state = 0, val["map"], copy.deepcopy(server.head.state_dict())
        best_metrics = test
        margins = []
        from tqdm.auto import tqdm

        bar = tqdm(
            range(1, config.rounds + 1), desc=f"FedAvg α={config.alpha:g}", unit="round", disable=not progress
        )
        for r in bar:
            if has_margin:
                stats = [client_statistics(server, d.train.features, d.train.labels) for d in data]
                scales = client_margin_scales(stats, sizes, config.bits, config.gamma, config.scale_range)
                margins.append(base_margin * scales)
            state = server.head.state_dict()
            for k, (client, d) in enumerate(zip(clients, data, strict=True)):
                client.head.load_state_dict(state)
                if has_margin:
                    client.loss.margin = float(margins[-1][k])
                _train_local(client, d, config.local_epochs, config, config.seed + 1000 * r + k)
                client.cpu()
            fedavg_step(server, clients, sizes)
            _, test, val = evaluate(server, embeddings, config.knn_k)
            row = _row(r, test, val, per_round * r, time.perf_counter() - start)
            if has_margin:
                row["margin_mean"] = float(np.mean(margins[-1]))
                row["margin_spread"] = float(np.ptp(margins[-1]))
            rows.append(row)
            if on_round is not None:
                on_round(row)
            if val["map"] > best_val:
                best_round, best_val = r, val["map"]
                best_state, best_metrics = copy.deepcopy(server.head.state_dict()), test
        server.head.load_state_dict(best_state)
    return FederatedResult(
        config=config,
        parts=parts,
        history=pd.DataFrame(rows),
        best_round=best_round,
        model=server.eval(),
        metrics=dict(best_metrics),
        margins=np.array(margins) if margins else None,
    )


# --------------------------------------------------------------------------------------------------------- baselines
def run_centralized(embeddings: EmbeddingSet, config: FederatedConfig) -> ExperimentResult:
    """Upper bound: one model on every training item for ``rounds * local_epochs`` epochs (``experiment.run``)."""
    with torch_threads(config.threads):
        return run(
            config.experiment_config(config.rounds * config.local_epochs),
            embeddings=embeddings,
            progress=False,
        )


def run_local_only(
    embeddings: EmbeddingSet, config: FederatedConfig, parts: Sequence[np.ndarray] | None = None
) -> LocalOnlyResult:
    """Each client trains alone (same epochs as the federation, its epoch chosen on validation mAP against its own
    items); every client model is scored on test queries vs the full training database it encodes."""
    if parts is None:
        parts = dirichlet_partition(
            embeddings.train.labels, config.n_clients, config.alpha, config.seed, config.min_client_size
        )
    epochs = config.rounds * config.local_epochs
    rows = []
    with torch_threads(config.threads):
        for k, items in enumerate(parts):
            data = client_embeddings(embeddings, items, k)
            model = build_model(config.experiment_config(epochs), embeddings)
            n = len(items)
            dm = EmbeddingDataModule(data, batch_size=min(config.batch_size, n), seed=config.seed + k)
            fit(model, dm, config.experiment_config(epochs).training, progress=False)
            _, test, _ = evaluate(model.cpu(), embeddings, config.knn_k)
            rows.append({"client": k, "n_items": n, **test})
    frame = pd.DataFrame(rows).set_index("client")
    means = {key: float(frame[key].mean()) for key in frame.columns if key != "n_items"}
    return LocalOnlyResult(per_client=frame, metrics=means)
