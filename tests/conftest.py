"""Fixtures shared by the unit tests."""

from __future__ import annotations

import pytest

from hashlab.data import DatasetBundle, load_dataset


@pytest.fixture
def isolated_data_dir(tmp_path, monkeypatch):
    """Point ``HASHLAB_DATA_DIR`` at a fresh temporary folder: nothing is read from or written to ``data/``."""
    path = tmp_path / "data"
    monkeypatch.setenv("HASHLAB_DATA_DIR", str(path))
    return path


@pytest.fixture(scope="module")
def digits() -> DatasetBundle:
    """scikit-learn's digits with hashlab's fixed split (modules that need embeddings override this fixture)."""
    return load_dataset("digits")
