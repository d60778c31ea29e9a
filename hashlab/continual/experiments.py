"""The comparisons notebook 06 and ``bench/continual.py`` show, as library calls (cells stay thin).

* :func:`compare_strategies` - every strategy on one stream from one shared base model: results + summary table.
* :func:`chunk_sweep` - seed 004's claims as a function of the chunk size: one base task, one new chunk of a
  given share of the accumulated data, the lifelong strategy against a full retrain (time, gradients, mAP).
* :func:`seed004_claims` - the two headline claims checked on measured numbers, stated plainly.
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
    "claims_statement",
    "compare_strategies",
    "drift_monitor",
    "seed004_claims",
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


def seed004_claims(
    results: dict[str, ContinualResult], sweep: pd.DataFrame, lifelong: str = "distill", naive: str = "naive"
) -> pd.DataFrame:
    """Seed 004's claims on measured numbers: ">20 % better retrieval" (lifelong vs naive fine-tuning, relative
    and absolute, all-class and old-class mAP after the last task) and ">80 % less training time" (lifelong vs
    full retrain, per chunk share). One row per check with the measured value and whether it held."""
    life, nv = results[lifelong], results[naive]
    rows = []
    for what, a, b in (
        ("all-class mAP", life.all_map[-1], nv.all_map[-1]),
        ("old-class mAP", life.old_map[-1], nv.old_map[-1]),
    ):
        rel = (a - b) / b if b > 0 else float("inf")
        rows.append(
            {
                "claim": ">20% better retrieval",
                "measure": f"{what}: lifelong vs naive (relative)",
                "value": round(rel, 3),
                "held": bool(rel > 0.20),
            }
        )
        rows.append(
            {
                "claim": ">20% better retrieval",
                "measure": f"{what}: lifelong vs naive (absolute points)",
                "value": round(100 * (a - b), 1),
                "held": bool(a - b > 0.20),
            }
        )
    for _, r in sweep.iterrows():
        rows.append(
            {
                "claim": ">80% less training time",
                "measure": f"wall time vs full retrain, chunk share {r.chunk_share:.0%}",
                "value": r.time_saving,
                "held": bool(r.time_saving > 0.80),
            }
        )
        rows.append(
            {
                "claim": ">80% less training time",
                "measure": f"sample gradients vs full retrain, chunk share {r.chunk_share:.0%}",
                "value": r.gradient_saving,
                "held": bool(r.gradient_saving > 0.80),
            }
        )
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


def claims_statement(
    results: dict[str, ContinualResult],
    sweep: pd.DataFrame,
    lifelong: str = "distill",
    naive: str = "naive",
    full: str = "full",
) -> str:
    """Plain sentences, computed from the measured numbers, on what held of seed 004's two claims."""
    life, nv, fr = results[lifelong], results[naive], results[full]
    rel_all = life.all_map[-1] / nv.all_map[-1] - 1
    rel_old = life.old_map[-1] / nv.old_map[-1] - 1
    pts_all, pts_old = 100 * (life.all_map[-1] - nv.all_map[-1]), 100 * (life.old_map[-1] - nv.old_map[-1])
    vs_full = 100 * (life.all_map[-1] - fr.all_map[-1]), 100 * (life.old_map[-1] - fr.old_map[-1])
    held = [
        w
        for w, ok in (
            ("all-class relative", rel_all > 0.2),
            ("old-class relative", rel_old > 0.2),
            ("all-class absolute", pts_all > 20),
            ("old-class absolute", pts_old > 20),
        )
        if ok
    ]
    lines = [
        f"Retrieval: lifelong vs naive fine-tuning after the last task: all-class mAP {life.all_map[-1]:.3f} vs "
        f"{nv.all_map[-1]:.3f} ({rel_all:+.0%} relative, {pts_all:+.1f} points); old-class {life.old_map[-1]:.3f} "
        f"vs {nv.old_map[-1]:.3f} ({rel_old:+.0%}, {pts_old:+.1f} points). '>20 % better' held for: "
        f"{', '.join(held) if held else 'none of the four readings'}.",
        f"Against a full retrain the lifelong update is {'better' if vs_full[0] > 0 else 'not better'}: "
        f"{vs_full[0]:+.1f} points all-class, "
        f"{vs_full[1]:+.1f} points on old classes.",
    ]

    def held_at(col: str) -> str:
        yes = [f"{c:.0%}" for c, v in zip(sweep.chunk_share, sweep[col], strict=True) if v > 0.8]
        no = [f"{c:.0%}" for c, v in zip(sweep.chunk_share, sweep[col], strict=True) if v <= 0.8]
        return f"held at chunk share {', '.join(yes) or 'none'}; not at {', '.join(no) or 'none'}"

    lines.append(
        "Training time: sample-gradient saving "
        + ", ".join(
            f"{g:.0%} at chunk share {c:.0%}"
            for c, g in zip(sweep.chunk_share, sweep.gradient_saving, strict=True)
        )
        + "; wall-time saving "
        + ", ".join(f"{t:.0%}" for t in sweep.time_saving)
        + f". '>80 % less' in sample gradients {held_at('gradient_saving')}; in wall time {held_at('time_saving')}."
        + " With equal epochs the saving is about 1 - (chunk + buffer) / accumulated."
    )
    return "\n".join(lines)
