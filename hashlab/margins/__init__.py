"""Margins as a control surface: schedules, margin-scalable per-pair margins, density-adaptive per-sample margins
with a hysteresis controller, and pinned anchor prototypes.

- :mod:`hashlab.margins.schedules`: pure schedule formulas and the callbacks that write ``pl_module.loss.margin``
  (constant, linear / cosine / step warm-up, margin-scalable of Yu et al. 2022).
- :mod:`hashlab.margins.adaptive`: density-adaptive margins, :class:`HysteresisController`, :class:`AnchorPrototypes`
  (Crawford & Ahuja).

Notebook 05's experiments (sweeps, schedule comparison, burst simulation, pinned anchors) are
:mod:`hashlab.studies.margins`, their figures :mod:`hashlab.viz.margins`, the bits/margin widget
:class:`hashlab.widgets.MarginExplorer`; the separation of Hamming distributions is :mod:`hashlab.separation`.
"""

from hashlab.margins.adaptive import (
    AnchorPrototypes,
    DensityAdaptiveMargin,
    HysteresisController,
    anchor_drift,
    anchor_penalty,
    density_margins,
    density_statistics,
    herding_prototypes,
    pair_margins,
)
from hashlab.margins.schedules import (
    ConstantMargin,
    CosineWarmup,
    LinearWarmup,
    MarginScalable,
    MarginSchedule,
    StepMargin,
    check_margin,
    class_similarity_from_features,
    constant_margin,
    cosine_warmup,
    linear_warmup,
    margin_for_loss,
    pair_similarity,
    scalable_margins,
    set_loss_margin,
    step_margin,
)

__all__ = [
    "AnchorPrototypes",
    "ConstantMargin",
    "CosineWarmup",
    "DensityAdaptiveMargin",
    "HysteresisController",
    "LinearWarmup",
    "MarginScalable",
    "MarginSchedule",
    "StepMargin",
    "anchor_drift",
    "anchor_penalty",
    "check_margin",
    "class_similarity_from_features",
    "constant_margin",
    "cosine_warmup",
    "density_margins",
    "density_statistics",
    "herding_prototypes",
    "linear_warmup",
    "margin_for_loss",
    "pair_margins",
    "pair_similarity",
    "scalable_margins",
    "set_loss_margin",
    "step_margin",
]
