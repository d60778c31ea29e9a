"""The one Trainer factory and fit, and what a run that learned nothing looks like."""

from __future__ import annotations

import numpy as np
import pytest

from hashlab.diagnostics import DegenerateRunWarning, check_trainable, code_warnings
from hashlab.experiment import run
from hashlab.settings import TrainingConfig, preset
from hashlab.training import build_trainer, check_resources, fit_arrays


def _tiny(**changes):
    return preset("quick", **{"epochs": 2, "bits": 16, "subsample": (300, 100, 100), **changes})


@pytest.mark.parametrize(
    ("training", "message"),
    [
        (TrainingConfig(strategy="warp_drive"), "unknown strategy 'warp_drive'"),
        (TrainingConfig(accelerator="cpu", devices=4096), "devices=4096 CPU processes but this machine has"),
        (TrainingConfig(accelerator="gpu", devices=2), "CUDA GPU"),
        (TrainingConfig(accelerator="cpu", precision="16-mixed"), "needs a GPU"),
    ],
)
def test_resources_this_machine_cannot_give_are_refused_before_work(training, message):
    if "CUDA" in message:
        import torch

        if torch.cuda.device_count() >= 2:
            pytest.skip("this machine has two GPUs")
    with pytest.raises(ValueError, match=message):
        check_resources(training)


def test_trainer_factory_passes_the_training_settings_to_lightning():
    trainer = build_trainer(TrainingConfig(accelerator="cpu", epochs=4), progress=False, validate=False)
    assert trainer.max_epochs == 4
    assert trainer.limit_val_batches == 0
    assert trainer.logger is None


def test_the_same_seed_gives_the_same_codes_through_the_factory():
    a, b = run(_tiny(), progress=False), run(_tiny(), progress=False)
    assert np.array_equal(a.codes["test"], b.codes["test"])
    c = run(_tiny(seed=1), progress=False)
    assert not np.array_equal(a.codes["test"], c.codes["test"])


def test_fit_arrays_trains_without_validation_and_beats_random_codes():
    from hashlab.experiment import load_embeddings
    from hashlab.metrics import mean_average_precision
    from hashlab.module import HashingModule

    config = _tiny(epochs=5)
    emb = load_embeddings(config)
    model = HashingModule.from_config(config, in_dim=emb.in_dim, n_classes=10, map_k=None)
    result = fit_arrays(model, emb.train.features, emb.train.labels, config.training)
    assert len(result.history) == 5 and result.best_epoch == 4
    codes = model.encode(emb.test.features)
    db = model.encode(emb.train.features)
    trained = mean_average_precision(codes, db, emb.test.labels, emb.train.labels)
    rng = np.random.default_rng(0)
    random = mean_average_precision(
        np.where(rng.random(codes.shape) < 0.5, 1, -1).astype(np.int8),
        np.where(rng.random(db.shape) < 0.5, 1, -1).astype(np.int8),
        emb.test.labels,
        emb.train.labels,
    )
    assert trained > random + 0.3  # chance is about 0.1 on ten balanced classes


def test_settings_that_cannot_learn_are_refused_before_training():
    with pytest.raises(ValueError, match="batch_size must be >= 2 for dpsh"):
        run(_tiny(batch_size=1), progress=False)
    with pytest.raises(ValueError, match="1 class"):
        check_trainable(64, np.zeros(50, dtype=int), "dsh")


def test_collapsed_codes_are_reported_not_presented_as_a_result():
    with pytest.warns(DegenerateRunWarning, match="share one code|collapsed"):
        result = run(_tiny(lr=1e6, epochs=1), progress=False)
    assert result.warnings


def test_code_warnings_on_hand_made_codes():
    same = np.ones((4, 8), dtype=np.int8)
    labels = {"train": np.array([0, 1, 0, 1]), "test": np.array([0, 2, 2])}
    lines = code_warnings({"train": same, "test": same[:3]}, labels)
    assert any("all 4 database items share one code" in line for line in lines)
    assert any("2 test queries belong to classes absent from the database ([2])" in line for line in lines)
    dead = np.array([[1, 1, -1], [1, -1, 1]], dtype=np.int8)
    lines = code_warnings({"train": dead}, {"train": np.array([0, 1])})
    assert lines == ["1 of 3 bits never change across the database (dead bits)"]
    two = np.array([[1, 1], [1, 1], [-1, -1], [-1, -1]], dtype=np.int8)
    lines = code_warnings({"train": two}, {"train": np.array([0, 1, 2, 2])})
    assert lines == [
        "only 2 distinct codes for 3 classes in the database: the codes cannot tell the classes apart (collapsed)"
    ]
    healthy = np.array([[1, -1], [-1, 1]], dtype=np.int8)
    assert code_warnings({"train": healthy}, {"train": np.array([0, 1]), "test": np.array([1])}) == []
