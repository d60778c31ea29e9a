"""The comparisons notebook 06 and ``bench/continual.py`` show, as library calls (cells stay thin).

* :func:`compare_strategies` - every strategy on one stream from one shared base model: results + summary table.
* :func:`chunk_sweep` - the lifelong-update savings as a function of the chunk size: one base task, one new chunk of a
  given share of the accumulated data, the lifelong strategy against a full retrain (time, gradients, mAP).
* :func:`drift_monitor` - the MMD² detector over a drift stream (statistic, threshold, alarm per window).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from hashlab.continual.drift import DriftDetector
from hashlab.continual.learner import BaseModel, ContinualConfig, ContinualResult, run_stream, train_base
from hashlab.continual.metrics import relative_cost
from hashlab.continual.strategies import CodeDistillation, FullRetrain, NaiveFinetune, Strategy
from hashlab.continual.stream import ClassIncrementalStream, DriftWindow

__all__ = [
    "chunk_sweep",
    "compare_strategies",
    "drift_monitor",
    "summary_table",
]


def summary_table(results: dict[str, ContinualResult], reference: str = "full") -> pd.DataFrame:
    """One row per strategy: final old/new/all mAP, forgetting, BWT, update cost and its ratio to ``reference``."""
    rows = [r.summary() for r in results.values()]
    df = pd.DataFrame(rows).set_index("strategy")
    if reference in results:
        ref = results[reference].update_cost()
        for r in results.values():
            rel = relative_cost(r.update_cost(), ref)
            df.loc[r.strategy, "time_vs_full"] = round(rel["time_ratio"], 3)
            df.loc[r.strategy, "grads_vs_full"] = round(rel["gradient_ratio"], 3)
    return df


def compare_strategies(
    stream: ClassIncrementalStream,
    strategies: Sequence[Strategy],
    config: ContinualConfig | None = None,
    base: BaseModel | None = None,
) -> tuple[dict[str, ContinualResult], pd.DataFrame]:
    """Run each strategy on ``stream`` from the same base model; keyed by strategy name (``full`` = reference)."""
    base = base or train_base(stream, config or ContinualConfig())
    results = {s.name: run_stream(stream, s, base=base) for s in strategies}
    if len(results) != len(strategies):
        raise ValueError("strategies must have distinct names (one of each kind)")
    return results, summary_table(results)


def chunk_sweep(
    embeddings,
    base_classes_list: Sequence[Sequence[int]],
    config: ContinualConfig,
    make_strategy: Callable[[], Strategy] = CodeDistillation,
    include_naive: bool = True,
) -> pd.DataFrame:
    """For each split "base classes | the rest": train the base, then one update by full retrain, the lifelong
    strategy (and naive fine-tuning). One row per split with the chunk share of the accumulated training data, the
    training-time and gradient savings of the lifelong update, and old/new/all mAP of each method."""
    classes = sorted(np.unique(embeddings.train.labels).tolist())
    rows = []
    for base_classes in base_classes_list:
        rest = [c for c in classes if c not in set(base_classes)]
        stream = ClassIncrementalStream(embeddings, [list(base_classes), rest])
        base = train_base(stream, config)
        runs = {
            "full": run_stream(stream, FullRetrain(), base=base),
            "lifelong": run_stream(stream, make_strategy(), base=base),
        }
        if include_naive:
            runs["naive"] = run_stream(stream, NaiveFinetune(), base=base)
        full_cost = runs["full"].costs[1]
        chunk, total = stream[1].size("train"), stream[1].size("train") + stream[0].size("train")
        row = {
            "base_classes": f"{min(base_classes)}-{max(base_classes)}",
            "chunk_items": chunk,
            "accumulated_items": total,
            "chunk_share": round(chunk / total, 3),
        }
        rel = relative_cost(runs["lifelong"].costs[1], full_cost)
        row["time_saving"] = round(rel["time_saving"], 3)
        row["gradient_saving"] = round(rel["gradient_saving"], 3)
        row["full_train_s"] = round(full_cost.train_seconds, 3)
        row["lifelong_train_s"] = round(runs["lifelong"].costs[1].train_seconds, 3)
        for name, r in runs.items():
            row[f"{name}_all_map"] = round(r.all_map[1], 4)
            row[f"{name}_old_map"] = round(r.old_map[1], 4)
            row[f"{name}_new_map"] = round(r.new_map[1], 4)
        rows.append(row)
    return pd.DataFrame(rows)


def drift_monitor(
    windows: Sequence[DriftWindow], alpha: float = 0.05, n_permutations: int = 200, seed: int = 0
) -> pd.DataFrame:
    """Window 0 is the reference; every later window is tested. One row per tested window."""
    detector = DriftDetector(windows[0].features, alpha=alpha, n_permutations=n_permutations, seed=seed)
    rows = []
    for w in windows[1:]:
        res = detector.check(w.features)
        rows.append(
            {
                "window": w.index,
                "shifted": w.shifted,
                "mmd2": res.mmd2,
                "threshold": res.threshold,
                "p_value": res.p_value,
                "alarm": res.drift,
            }
        )
    return pd.DataFrame(rows)
