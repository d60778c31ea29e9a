"""Notebook-specific studies and the published claims they check; imported only by notebooks (and their tests).

Algorithms live in the library (``hashlab.margins``, ``hashlab.privacy``, ``hashlab.autoencoder``, ...), figures in
:mod:`hashlab.viz`, widgets in :mod:`hashlab.widgets`. A study here combines them for one notebook's question:

- :mod:`~hashlab.studies.margins` (notebook 05): margin sweeps, schedules, the burst simulation, pinned anchors;
- :mod:`~hashlab.studies.continual` (notebook 06): the lifelong-hashing claims (Xu et al. 2023), measured;
- :mod:`~hashlab.studies.autoencoder` (notebook 02): the autoencoder paper's printed tables vs our measurements;
- :mod:`~hashlab.studies.privacy` (notebook 08): every inversion attack over code lengths, as one table.

Submodules are imported on use (``from hashlab.studies import margins``), so this package costs nothing to import.
"""
