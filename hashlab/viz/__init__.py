"""Every hashlab figure, one naming scheme (``plot_<what>``), one style (:mod:`hashlab.viz.style`).

Each function returns a :class:`hashlab.viz.style.Figure` (shown inline when it is a notebook cell's value, without
pyplot and without changing any display setting) and takes ``save=path`` to also write it atomically.

Modules by family: ``retrieval`` (confusion matrix, Hamming histograms, precision-recall, galleries, image grids),
``training`` (loss and validation curves), ``reproduction`` (metric vs bits, thesis-vs-ours table), ``autoencoder``,
``continual``, ``federated``, ``privacy``, ``margins``. Everything public is re-exported here:
``from hashlab import viz; viz.plot_precision_recall(...)``.
"""

from hashlab.viz.autoencoder import plot_autoencoder_comparison, plot_reconstructions
from hashlab.viz.continual import (
    plot_chunk_sweep,
    plot_code_stability,
    plot_cost_vs_map,
    plot_drift,
    plot_map_matrices,
)
from hashlab.viz.federated import plot_map_vs_rounds, plot_partition
from hashlab.viz.margins import plot_burst, plot_margin_histograms, plot_margin_schedules
from hashlab.viz.privacy import plot_leakage
from hashlab.viz.reproduction import plot_metric_vs_bits, thesis_vs_ours_table
from hashlab.viz.retrieval import (
    plot_class_samples,
    plot_confusion_matrix,
    plot_hamming_histogram,
    plot_image_rows,
    plot_precision_recall,
    plot_retrieval_gallery,
)
from hashlab.viz.style import CMAP, HIT_COLOR, MISS_COLOR, Figure, save_figure
from hashlab.viz.training import plot_training_curves

__all__ = [
    "CMAP",
    "HIT_COLOR",
    "MISS_COLOR",
    "Figure",
    "plot_autoencoder_comparison",
    "plot_burst",
    "plot_chunk_sweep",
    "plot_class_samples",
    "plot_code_stability",
    "plot_confusion_matrix",
    "plot_cost_vs_map",
    "plot_drift",
    "plot_hamming_histogram",
    "plot_image_rows",
    "plot_leakage",
    "plot_map_matrices",
    "plot_map_vs_rounds",
    "plot_margin_histograms",
    "plot_margin_schedules",
    "plot_metric_vs_bits",
    "plot_partition",
    "plot_precision_recall",
    "plot_reconstructions",
    "plot_retrieval_gallery",
    "plot_training_curves",
    "save_figure",
    "thesis_vs_ours_table",
]
