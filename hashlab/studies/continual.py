"""The claims of Deep Lifelong Cross-modal Hashing (Xu et al., 2023) checked on notebook 06's measured numbers.

The paper claims ">20 % better retrieval" than naive fine-tuning and ">80 % less training time" than a full
retrain. :func:`lifelong_claims` reads each claim several ways (relative and absolute, all-class and old-class,
wall time and sample gradients per chunk share) and says whether it held; :func:`claims_statement` says it in
sentences. The measurements come from :mod:`hashlab.continual.experiments` (``compare_strategies``,
``chunk_sweep``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:  # pragma: no cover
    from hashlab.continual.learner import ContinualResult

__all__ = ["claims_statement", "lifelong_claims"]


def lifelong_claims(
    results: dict[str, ContinualResult], sweep: pd.DataFrame, lifelong: str = "distill", naive: str = "naive"
) -> pd.DataFrame:
    """The two headline claims of Xu et al. (2023) on measured numbers: ">20 % better retrieval" (lifelong vs naive fine-tuning, relative
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


def claims_statement(
    results: dict[str, ContinualResult],
    sweep: pd.DataFrame,
    lifelong: str = "distill",
    naive: str = "naive",
    full: str = "full",
) -> str:
    """Plain sentences, computed from the measured numbers, on what held of the two claims (see :func:`lifelong_claims`)."""
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
