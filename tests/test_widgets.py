"""Widget callbacks, exercised without a browser: a click or a slider move must retrain and redraw (busy state while
it works), and an error inside the callback must be visible as one line (output area and ``last_error``), never
swallowed."""

from __future__ import annotations

import numpy as np
import pytest

from hashlab import experiment, widgets
from hashlab.features import EmbeddingSet, FeatureSplit
from hashlab.widgets.base import BUTTON_WIDTH, STALE_CLASS

EPOCHS = 2


def _toy_embeddings(n_per_class: int = 30, n_classes: int = 3, dim: int = 16, seed: int = 0) -> EmbeddingSet:
    """Well separated Gaussian blobs: a trained head must beat chance (1/3) on them by a wide margin."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(scale=4.0, size=(n_classes, dim)).astype(np.float32)

    def split(n: int) -> FeatureSplit:
        labels = np.repeat(np.arange(n_classes), n).astype(np.int64)
        feats = centers[labels] + rng.normal(size=(len(labels), dim)).astype(np.float32)
        return FeatureSplit(features=feats.astype(np.float32), labels=labels)

    return EmbeddingSet(
        dataset="digits",
        backbone="pixels",
        train=split(n_per_class),
        val=split(n_per_class // 3),
        test=split(n_per_class // 3),
        class_names=["a", "b", "c"],
        meta={},
    )


@pytest.fixture(scope="module")
def embeddings() -> EmbeddingSet:
    return _toy_embeddings()


def _texts(output) -> str:
    return "".join(o.get("text", "") for o in output.outputs if o["output_type"] == "stream")


def _pngs(output) -> list[str]:
    return [o["data"]["image/png"] for o in output.outputs if "image/png" in o.get("data", {})]


def _htmls(output) -> list[str]:
    return [o["data"]["text/html"] for o in output.outputs if "text/html" in o.get("data", {})]


# ------------------------------------------------------------------------------------ bit-length explorer
def test_bit_slider_retrains_with_new_bits_and_redraws(embeddings):
    ex = widgets.BitLengthExplorer(embeddings, bits=8, epochs=EPOCHS, batch_size=32, seed=0)
    ex.run()
    first_outputs, first_codes = ex.output.outputs, ex.result.codes["test"]
    assert first_codes.shape == (len(embeddings.test.labels), 8)
    assert "Bit length: 8" in _texts(ex.output)
    assert len(_pngs(ex.output)) == 1 and len(_htmls(ex.output)) == 1
    assert ex.result.metrics["knn_acc"] > 0.6  # 3 separable classes: chance is 1/3

    ex.bits.value = 16  # what releasing the slider does in the browser: the observer retrains
    assert ex.runs == 2 and ex.last_error is None
    assert ex.result.config.bits == 16
    assert ex.result.codes["test"].shape == (len(embeddings.test.labels), 16)
    assert ex.result.codes["test"].dtype == np.int8 and set(np.unique(ex.result.codes["test"])) <= {-1, 1}
    assert ex.output.outputs != first_outputs
    assert "Bit length: 16" in _texts(ex.output) and "Bit length: 8" not in _texts(ex.output)
    assert _pngs(ex.output)[0] != first_outputs[2]["data"]["image/png"]  # a new figure
    assert ex.figures["hamming"].axes[0].get_xlim()[1] == pytest.approx(16.5)
    assert not ex.bits.disabled  # re-enabled after the run
    assert ex.progress.value == ex.progress.max == EPOCHS  # per-epoch progress reached the end


def test_same_seed_same_codes(embeddings):
    a = widgets.BitLengthExplorer(embeddings, bits=8, epochs=EPOCHS, batch_size=32, seed=3)
    b = widgets.BitLengthExplorer(embeddings, bits=8, epochs=EPOCHS, batch_size=32, seed=3)
    np.testing.assert_array_equal(a.run().codes["test"], b.run().codes["test"])


def test_broken_callback_is_shown_and_recorded(embeddings, monkeypatch):
    ex = widgets.BitLengthExplorer(embeddings, bits=8, epochs=EPOCHS, batch_size=32)

    def boom(*args, **kwargs):
        raise RuntimeError("simulated training failure")

    monkeypatch.setattr(experiment, "run", boom)
    ex.bits.value = 12  # the slider callback must not swallow the error
    assert isinstance(ex.last_error, RuntimeError) and "simulated training failure" in str(ex.last_error)
    assert "Traceback" in ex.last_traceback and "boom" in ex.last_traceback
    shown = "".join(o["text"] for o in ex.output.outputs if o.get("name") == "stderr")
    assert (
        shown.strip() == "training failed: RuntimeError: simulated training failure"
    )  # one line, no traceback
    assert ex.status.value == shown.strip()
    assert "failed" in ex.status.value and ex.progress.bar_style == "danger"
    assert not ex.bits.disabled and ex.result is None and ex.runs == 0
    with pytest.raises(RuntimeError, match="simulated"):
        ex.run()  # called directly, the error also propagates


def test_error_is_cleared_by_a_later_successful_run(embeddings, monkeypatch):
    ex = widgets.BitLengthExplorer(embeddings, bits=8, epochs=EPOCHS, batch_size=32)
    real_run = experiment.run
    monkeypatch.setattr(experiment, "run", lambda *a, **k: (_ for _ in ()).throw(ValueError("bad")))
    ex.bits.value = 12
    assert isinstance(ex.last_error, ValueError)
    monkeypatch.setattr(experiment, "run", real_run)
    ex.bits.value = 16
    assert ex.last_error is None and ex.result.config.bits == 16
    assert "Traceback" not in _texts(ex.output) and "Bit length: 16" in _texts(ex.output)


def test_bit_length_explorer_rejects_bad_arguments(embeddings):
    with pytest.raises(ValueError, match="bit_range"):
        widgets.BitLengthExplorer(embeddings, bits=100)
    with pytest.raises(ValueError, match="set by the explorer"):
        widgets.BitLengthExplorer(embeddings, bits=8, backbone="vit_b_16")


# --------------------------------------------------------------------------------------- experiment explorer
def test_explorer_click_trains_selected_method_and_draws_results(embeddings):
    ex = widgets.ExperimentExplorer(
        embeddings=embeddings, method="dpsh", bits=8, epochs=EPOCHS, batch_size=32
    )
    assert ex.method.options == tuple(widgets_losses())
    assert ex.margin.disabled and not ex.has_margin  # DPSH has no margin
    ex.method.value = "dsh"
    assert not ex.margin.disabled and ex.margin.value == pytest.approx(2.0 * 8)  # DSH: epsilon = 2L
    ex.margin.value = 10.0
    ex.bits.value = 12
    assert ex.margin.value == pytest.approx(10.0 * 12 / 8)  # the user's margin is rescaled with L, not reset
    ex.margin.value = 7.0
    before = ex.output.outputs
    ex.train_button.click()
    assert ex.last_error is None, ex.last_traceback
    assert ex.result.config.method == "dsh" and ex.result.config.bits == 12
    assert ex.result.config.loss_kwargs == {"margin": pytest.approx(7.0)}
    assert ex.result.model.loss.margin == pytest.approx(7.0)
    assert ex.result.codes["test"].shape[1] == 12
    assert ex.output.outputs != before
    assert "dsh | 12 bits, margin 7" in _texts(ex.output)
    assert len(_pngs(ex.output)) == 2  # Hamming histogram + confusion matrix
    assert "knn_acc" in _htmls(ex.output)[0]
    cm_texts = [int(t.get_text()) for t in ex.figures["confusion"].axes[0].texts]
    assert sum(cm_texts) == len(embeddings.test.labels)  # every test query counted once
    assert not ex.train_button.disabled and ex.train_button.description == "Train"


def test_explorer_button_disabled_while_running(embeddings, monkeypatch):
    ex = widgets.ExperimentExplorer(embeddings=embeddings, bits=8, epochs=EPOCHS)
    seen = {}
    real_run = experiment.run

    def spy(*args, **kwargs):
        seen["disabled"] = ex.train_button.disabled
        seen["description"] = ex.train_button.description
        seen["callbacks"] = kwargs.get("callbacks")
        seen["stale"] = STALE_CLASS in ex.output._dom_classes
        seen["controls"] = [c.disabled for c in ex._controls()]
        seen["bar"] = ex.progress.bar_style
        return real_run(*args, **kwargs)

    monkeypatch.setattr(experiment, "run", spy)
    ex.train_button.click()
    assert seen["disabled"] is True and seen["description"] == "Train"  # fixed label and width
    assert seen["stale"] and seen["controls"] == [True] * 6 and seen["bar"] == "info"
    assert any(isinstance(cb, widgets.EpochProgress) for cb in seen["callbacks"])
    assert not ex.train_button.disabled and STALE_CLASS not in ex.output._dom_classes
    assert ex.train_button.layout.width == BUTTON_WIDTH


def test_explorer_click_error_visible(embeddings, monkeypatch):
    ex = widgets.ExperimentExplorer(embeddings=embeddings, bits=8, epochs=EPOCHS)
    monkeypatch.setattr(experiment, "run", lambda *a, **k: 1 / 0)
    ex.train_button.click()
    assert isinstance(ex.last_error, ZeroDivisionError)
    assert "ZeroDivisionError" in "".join(o.get("text", "") for o in ex.output.outputs)
    assert not ex.train_button.disabled


def test_explorer_unknown_choice():
    with pytest.raises(ValueError, match="unavailable method 'nope'"):
        widgets.ExperimentExplorer(method="nope", datasets=["digits"], backbones=["pixels"])


def test_cached_embeddings_loads_once(monkeypatch, embeddings):
    import hashlab.features

    calls = []

    def fake_get(dataset, backbone, **kwargs):
        calls.append((dataset, backbone))
        return embeddings

    widgets.clear_embedding_cache()
    monkeypatch.setattr(hashlab.features, "get_embeddings", fake_get)
    assert widgets.cached_embeddings("digits", "pixels") is embeddings
    assert widgets.cached_embeddings("digits", "pixels") is embeddings
    assert calls == [("digits", "pixels")]
    widgets.clear_embedding_cache()


def widgets_losses() -> list[str]:
    from hashlab.losses import available_losses

    return available_losses()


def test_show_result_draws_without_retraining_then_slider_retrains(embeddings):
    from hashlab.experiment import ExperimentConfig

    trained = experiment.run(
        ExperimentConfig(bits=12, epochs=EPOCHS, batch_size=32), embeddings=embeddings, progress=False
    )
    ex = widgets.BitLengthExplorer(embeddings, bits=8, epochs=EPOCHS, batch_size=32)
    ex.show_result(trained)
    assert ex.runs == 0 and ex.bits.value == 12 and ex.result is trained
    assert "Bit length: 12" in _texts(ex.output)
    ex.bits.value = 8
    assert ex.runs == 1 and ex.result.codes["test"].shape[1] == 8 and "Bit length: 8" in _texts(ex.output)


def test_explorer_uses_given_embeddings_and_loads_others_visibly(embeddings, monkeypatch):
    import hashlab.features

    def missing(dataset, backbone, **kwargs):
        raise FileNotFoundError(f"no cached {backbone} embeddings for {dataset}")

    widgets.clear_embedding_cache()
    monkeypatch.setattr(hashlab.features, "get_embeddings", missing)
    ex = widgets.ExperimentExplorer(
        embeddings=embeddings, bits=8, epochs=EPOCHS, batch_size=32, backbones=["pixels", "vit_b_16"]
    )
    ex.train_button.click()  # the given embeddings: nothing is loaded
    assert ex.last_error is None and ex.result.embeddings is embeddings
    ex.backbone.value = "vit_b_16"
    ex.train_button.click()  # another backbone: loaded through the cache, and the failure is shown
    assert isinstance(ex.last_error, FileNotFoundError)
    shown = "".join(o.get("text", "") for o in ex.output.outputs)
    assert shown == "training failed, not available here: no cached vit_b_16 embeddings for digits\n"
    assert ex.result.embeddings is embeddings  # the previous result is kept


# ------------------------------------------------------------------------------------------------ one base class
def test_every_widget_shares_the_base_class():
    for cls in (
        widgets.ExperimentExplorer,
        widgets.BitLengthExplorer,
        widgets.AutoencoderExplorer,
        widgets.MarginExplorer,
        widgets.ContinualWidget,
        widgets.FederatedWidget,
    ):
        assert issubclass(cls, widgets.HashlabWidget), cls


def test_friendly_error_is_one_bounded_line():
    assert widgets.friendly_error(ValueError("bad bits\nsecond line")) == "run failed: ValueError: bad bits"
    assert widgets.friendly_error(FileNotFoundError("pathmnist.npz missing"), "training") == (
        "training failed, not available here: pathmnist.npz missing"
    )
    long = widgets.friendly_error(RuntimeError("x" * 1000))
    assert len(long) == 240 and "\n" not in long and long.endswith("…")


def test_explorer_history_table_compares_runs(embeddings):
    ex = widgets.ExperimentExplorer(embeddings=embeddings, bits=8, epochs=EPOCHS, batch_size=32)
    assert ex.history_table in ex.widget.children and ex.history_table.value == ""
    ex.run()
    ex.bits.value = 12
    ex.method.value = "dsh"
    ex.run()
    assert [(r["method"], r["bits"]) for r in ex.history] == [("dpsh", 8), ("dsh", 12)]
    assert np.isnan(ex.history[0]["margin"]) and ex.history[1]["margin"] > 0
    assert ex.history[1]["map"] == pytest.approx(ex.result.metrics["map"])
    html = ex.history_table.value
    assert html.count("<tr>") == 3 and "dpsh" in html and "dsh" in html  # header + two runs


def test_available_offline_lists_only_files_on_disk(tmp_path, monkeypatch):
    import torch

    from hashlab.data import medmnist_file
    from hashlab.widgets.explorer import _medmnist_roots

    monkeypatch.setenv("HASHLAB_DATA_DIR", str(tmp_path))
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    (tmp_path / "medmnist").mkdir()
    (tmp_path / "medmnist" / medmnist_file("dermamnist")).write_bytes(b"")
    offline = widgets.available_offline()
    assert list(offline.datasets)[0] == "digits" and offline.datasets["dermamnist"] is None  # default folder
    for name in offline.datasets:  # every listed MedMNIST set has its file in one of the roots
        if name not in ("digits", "cifar10", "fashion_mnist"):
            assert any((r / medmnist_file(name)).is_file() for r in _medmnist_roots()), name
    assert "cifar10" not in offline.datasets  # no extracted CIFAR-10 folder in the empty data dir
    assert offline.backbones == ["pixels"]  # no pretrained weights in the empty hub cache
    ex = widgets.ExperimentExplorer(bits=8, epochs=EPOCHS)
    assert list(ex.dataset.options) == list(offline.datasets) and list(ex.backbone.options) == ["pixels"]
    with pytest.raises(ValueError, match="unavailable backbone 'vit_b_16'"):
        widgets.ExperimentExplorer(backbone="vit_b_16")


def _busy_state(widget) -> dict:
    return {
        "controls": all(c.disabled for c in widget._controls()),
        "stale": STALE_CLASS in widget.output._dom_classes,
        "bar": widget.progress.bar_style,
    }


BUSY = {"controls": True, "stale": True, "bar": "info"}


def test_margin_explorer_shows_busy_state_while_retraining(embeddings, monkeypatch):
    from hashlab.experiment import ExperimentConfig

    config = ExperimentConfig(method="dsh", bits=8, epochs=EPOCHS, batch_size=32)
    ex = widgets.MarginExplorer(config, embeddings, bits_options=(8,), fractions=(0.25, 0.5))
    assert ex.runs == 1 and "margin 4 bits" in ex.status.value  # the start value is drawn on construction
    seen, real_run = {}, experiment.run

    def spy(*args, **kwargs):
        seen.update(_busy_state(ex))
        return real_run(*args, **kwargs)

    monkeypatch.setattr(experiment, "run", spy)
    ex.fraction.value = 0.25
    assert seen == BUSY and ex.runs == 2 and "margin 2 bits" in ex.status.value
    assert _busy_state(ex) == {"controls": False, "stale": False, "bar": "success"}
    assert [r["margin (bits)"] for r in ex.history] == [4.0, 2.0]


def test_federated_widget_busy_state_and_one_line_error(embeddings, monkeypatch):
    import hashlab.federated.fedavg as fedavg
    from hashlab.federated import FederatedConfig

    w = widgets.FederatedWidget(embeddings, FederatedConfig(n_clients=2, rounds=2, bits=8), alpha=1.0)
    seen = {}

    def broken(*args, on_round=None, **kwargs):
        seen.update(_busy_state(w))
        on_round({"round": 1})
        seen["progress"] = (w.progress.value, w.progress.max)
        raise RuntimeError("client 1 lost\nsecond line")

    monkeypatch.setattr(fedavg, "run_fedavg", broken)
    w.train_button.click()
    assert {k: seen[k] for k in BUSY} == BUSY and seen["progress"] == (1, 2)
    assert w.status.value == "training failed: RuntimeError: client 1 lost"
    assert isinstance(w.last_error, RuntimeError) and w.result is None and not w.train_button.disabled


def test_autoencoder_explorer_busy_state(monkeypatch):
    from types import SimpleNamespace

    import hashlab.autoencoder.training as training

    rng = np.random.default_rng(0)
    split = SimpleNamespace(
        images=rng.integers(0, 256, (12, 8, 8, 1), dtype=np.uint8), labels=np.arange(12) % 3
    )
    bundle = SimpleNamespace(train=split, test=split)
    ex = widgets.AutoencoderExplorer(bundle, bits_options=(8,), bits=8, epochs=1)
    seen = []

    class Model:
        def __init__(self, bits: int) -> None:
            self.bits = bits

        def encode(self, images):
            return np.where(rng.random((len(images), self.bits)) < 0.5, -1, 1).astype(np.int8)

    def fake_train(images, bits, **kwargs):
        seen.append(_busy_state(ex))
        return Model(bits)

    monkeypatch.setattr(training, "train_autoencoder", fake_train)
    res = ex.run()
    assert seen == [BUSY, BUSY]  # one training per variant, both while busy
    assert set(res["map"]) == {"ae_latent", "ae_code"} and "mAP" in ex.status.value
    assert len(ex.history) == 1 and not ex.train_button.disabled


def test_explorer_keeps_the_users_margin_when_the_bits_move(tmp_path):
    """A margin the user chose survives a bits change: rescaled with L for DSH (margin 2L), said in the status."""
    from hashlab.widgets import ExperimentExplorer

    explorer = ExperimentExplorer(datasets=["digits"], backbones=["pixels"], method="dsh", bits=24)
    assert explorer.margin.value == 48.0  # DSH's default 2L
    explorer.margin.value = 30.0
    explorer.bits.value = 48
    assert explorer.margin.value == 60.0
    assert "rescaled" in explorer.status.value and "30" in explorer.status.value
    explorer.method.value = "dpsh"
    assert explorer.margin.disabled


@pytest.mark.parametrize(
    ("kwargs", "message"), [({"epochs": 501}, "epochs must lie in"), ({"bits": 80}, "bits=80")]
)
def test_explorer_refuses_values_its_controls_would_clamp(kwargs, message):
    from hashlab.widgets import ExperimentExplorer

    with pytest.raises(ValueError, match=message):
        ExperimentExplorer(datasets=["digits"], backbones=["pixels"], **kwargs)
