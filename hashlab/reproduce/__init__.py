"""``hashlab reproduce``: the whole protocol of Mao's thesis (2024), resumable, writing Tables 3-6 and Figs. 17-30
analogues.

Protocol (P. Mao, B.Sc. thesis, University of Bamberg, 2024, §4): frozen-encoder embeddings of every split (cached by
``hashlab.features``); Euclidean KNN on the raw embeddings for k in {3, 5, 7, 10, 15} on the validation and test
queries (Tables 3 and 4, Figs. 18/19); for every method x code length a hash head trained by
``hashlab.experiment.run`` (checkpoint selection on the validation split inside ``run``), then Hamming KNN (k = 7,
majority vote, ties by database index) of the test queries against the training database, plus mAP and mAP@k
(Tables 5 and 6, Figs. 20-29); the training wall-clock time of the triplet/centre methods (Fig. 30, for which the
thesis gives no numbers).

Each finished grid cell is one small JSON file (``cells/<method>_<bits>_seed<seed>.json``, written atomically after
its codes file; ``--seeds`` adds seeds, ``--seed-bits`` limits the extra seeds to some code lengths, and tables show
mean ± sd and n per method and code length) and is never recomputed while every setting that made it (code version and hardware included) is unchanged; an
interrupted run restarts where it stopped. The output folder is locked against a second concurrent run, marked
``INCOMPLETE`` until the run finishes, and a rerun with other settings is refused (``SettingsChangedError``).

Modules: ``presets`` (grid constants, full and ``--fast`` settings, choice validation, ``choose_setting``),
``baseline`` (raw-embedding KNN, random codes, distance counts), ``cells`` (cell settings and fingerprint, the atomic
cell store, ``run_grid``), ``tables`` (Tables 3-6 beside the thesis), ``figures`` (Figs. 17-30 analogues),
``provenance`` (``assumptions.json``), ``protocol`` (``reproduce``) and ``cli`` (the ``hashlab reproduce`` options).
The names below are the package's API; ``warm_up``'s once-per-process flag lives in ``hashlab.reproduce.grid``.
"""

from hashlab.reproduce.baseline import distance_counts, knn_confusion, random_codes_baseline, raw_knn_baseline
from hashlab.reproduce.cli import add_reproduce_arguments, run_reproduce
from hashlab.reproduce.figures import (
    TIMED_METHODS,
    accuracy_vs_bits_figure,
    first_seed_cells,
    method_confusion_figure,
    raw_confusion_figure,
    training_cost_figure,
    write_figures,
)
from hashlab.reproduce.grid import (
    CELL_FORMAT,
    SELECTION_METRIC,
    CellResult,
    TrainingTimer,
    cell_settings,
    code_version,
    compute_cell,
    embeddings_fingerprint,
    grid_frame,
    grid_plan,
    load_cell,
    run_grid,
    settings_difference,
    stored_cell,
    timing_cells,
    warm_up,
)
from hashlab.reproduce.grid import _remove_stale_temporaries as _remove_stale_temporaries
from hashlab.reproduce.grid import _write_cell as _write_cell
from hashlab.reproduce.presets import (
    FAST_SETTINGS,
    FULL_BITS,
    FULL_SETTINGS,
    SWEEP_KS,
    THESIS_KNN_K,
    check_choices,
    check_seeds,
    choose_setting,
    embeddings_available,
)
from hashlab.reproduce.protocol import (
    INCOMPLETE,
    RUN_RECORD,
    SettingsChangedError,
    protocol_differences,
    reproduce,
)
from hashlab.reproduce.provenance import assumptions, extraction_preprocessing
from hashlab.reproduce.tables import (
    DIFFERENT_DATASET,
    ONE_SEED,
    method_table_frame,
    ours_vs_thesis,
    seed_spread,
    table3,
    table4,
    thesis_dataset_for,
    to_markdown,
    training_time_table,
)

__all__ = [
    "CELL_FORMAT",
    "DIFFERENT_DATASET",
    "ONE_SEED",
    "check_seeds",
    "extraction_preprocessing",
    "first_seed_cells",
    "grid_plan",
    "seed_spread",
    "timing_cells",
    "training_time_table",
    "INCOMPLETE",
    "RUN_RECORD",
    "SELECTION_METRIC",
    "SettingsChangedError",
    "TrainingTimer",
    "code_version",
    "protocol_differences",
    "settings_difference",
    "stored_cell",
    "FAST_SETTINGS",
    "FULL_BITS",
    "FULL_SETTINGS",
    "SWEEP_KS",
    "THESIS_KNN_K",
    "TIMED_METHODS",
    "CellResult",
    "accuracy_vs_bits_figure",
    "add_reproduce_arguments",
    "assumptions",
    "cell_settings",
    "check_choices",
    "choose_setting",
    "compute_cell",
    "distance_counts",
    "embeddings_available",
    "embeddings_fingerprint",
    "grid_frame",
    "knn_confusion",
    "load_cell",
    "method_confusion_figure",
    "method_table_frame",
    "ours_vs_thesis",
    "random_codes_baseline",
    "raw_confusion_figure",
    "raw_knn_baseline",
    "reproduce",
    "run_grid",
    "run_reproduce",
    "table3",
    "table4",
    "thesis_dataset_for",
    "to_markdown",
    "training_cost_figure",
    "warm_up",
    "write_figures",
]
