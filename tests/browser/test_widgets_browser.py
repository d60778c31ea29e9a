"""End to end in a real browser: the widgets of notebooks 02, 05 and 06 retrain with a visible busy state.

Each test writes a small notebook that builds only the widget and the little it needs (digits, one or two epochs),
changes a control like a user, and checks that the controls were disabled and the output greyed while the kernel
trained, and that the result shown afterwards is the new one.
"""

from __future__ import annotations

import re

import pytest

from .conftest import ARTIFACTS, busy_seen, open_and_run, wait_kernel_idle, watch_busy, write_check_notebook

pytestmark = pytest.mark.browser

TRAIN_TIMEOUT_MS = 240_000


def _widget(page, control_text: str):
    """The outermost widget box that holds a control labelled ``control_text``."""
    label = page.locator(".widget-label", has_text=control_text).first
    return page.locator(".widget-vbox", has=label).first


def _step_slider(page, widget, label: str, key: str = "ArrowRight") -> None:
    slider = widget.locator(
        ".widget-slider, .widget-hslider", has=page.locator(".widget-label", has_text=label)
    )
    slider.first.locator(".noUi-handle").first.focus()
    page.keyboard.press(key)


HISTORY_ROWS_JS = """el => {
  const h = [...el.querySelectorAll('.widget-html')].find(x => x.textContent.includes('Runs so far'));
  return h ? h.querySelectorAll('tbody tr').length : 0;
}"""


def _runs(widget) -> int:
    """Rows of the widget's history table ("Runs so far")."""
    return widget.evaluate(HISTORY_ROWS_JS)


def _history(widget) -> str:
    return widget.locator(".widget-html", has_text="Runs so far").first.inner_text()


def _check_busy_then_result(page, widget, before_runs: int) -> None:
    page.wait_for_function(
        f"([n, el]) => ({HISTORY_ROWS_JS})(el) > n",
        arg=[before_runs, widget.element_handle()],
        timeout=TRAIN_TIMEOUT_MS,
    )
    wait_kernel_idle(page)
    assert busy_seen(page) == {"stale": True, "disabled": True}, "no busy state while training"
    assert not widget.locator(".hashlab-stale").count(), "output still greyed after the run"
    assert "Traceback" not in widget.inner_text() and "failed" not in widget.inner_text()


def test_autoencoder_widget_02(lab_server, page):
    cells = [
        """from hashlab.data import load_dataset
from hashlab.widgets import AutoencoderExplorer

explorer = AutoencoderExplorer(load_dataset("digits"), bits=16, bits_options=(8, 16, 32), epochs=1, seed=0)
explorer.display()""",
        'print("widget ready")',
    ]
    open_and_run(page, lab_server, write_check_notebook(lab_server, "autoencoder", cells), "widget ready")
    widget = _widget(page, "bits")
    _step_slider(page, widget, "bits")
    widget.locator(".widget-readout", has_text=re.compile(r"^\s*32\s*$")).wait_for(timeout=10_000)
    watch_busy(widget)
    widget.locator(".widget-button", has_text="Retrain").click()
    _check_busy_then_result(page, widget, 0)
    assert re.search(r"\b32\b", _history(widget))  # the run at the new bit length
    widget.screenshot(path=str(ARTIFACTS / "widget_02_autoencoder.png"))


def test_margin_widget_05(lab_server, page):
    cells = [
        """from hashlab.experiment import ExperimentConfig
from hashlab.features import get_embeddings
from hashlab.widgets import MarginExplorer

config = ExperimentConfig(dataset="digits", backbone="pixels", method="dsh", bits=16, epochs=2, seed=0)
explorer = MarginExplorer(config, get_embeddings("digits", "pixels"), bits_options=(8, 16), fractions=(0.25, 0.5))
explorer.display()""",
        'print("widget ready")',
    ]
    open_and_run(page, lab_server, write_check_notebook(lab_server, "margins", cells), "widget ready")
    widget = _widget(page, "margin")
    before = _runs(widget)
    watch_busy(widget)
    _step_slider(page, widget, "margin", "ArrowLeft")  # 0.5 L -> 0.25 L: retrains on release
    _check_busy_then_result(page, widget, before)
    assert "4.000" in _history(widget)  # margin 0.25 L = 4 bits at L = 16
    widget.screenshot(path=str(ARTIFACTS / "widget_05_margins.png"))


def test_continual_widget_06(lab_server, page):
    cells = [
        """from hashlab.continual import ClassIncrementalStream, ContinualConfig, train_base
from hashlab.features import get_embeddings
from hashlab.widgets import ContinualWidget

stream = ClassIncrementalStream(get_embeddings("digits", "pixels"), [[0, 1, 2, 3, 4], [5, 6, 7], [8, 9]])
base = train_base(stream, ContinualConfig(bits=16, hidden=(64,), epochs=2, batch_size=64, seed=0))
explorer = ContinualWidget(stream, base, memory=20, weight=0.3)
explorer.display()""",
        'print("widget ready")',
    ]
    open_and_run(page, lab_server, write_check_notebook(lab_server, "continual", cells), "widget ready")
    widget = _widget(page, "replay size")
    _step_slider(page, widget, "replay size")  # 20 -> 25 items
    widget.locator(".widget-readout", has_text=re.compile(r"^\s*25\s*$")).wait_for(timeout=10_000)
    watch_busy(widget)
    widget.locator(".widget-button", has_text="Run update").click()
    _check_busy_then_result(page, widget, 0)
    assert re.search(r"\b25\b", _history(widget))
    widget.screenshot(path=str(ARTIFACTS / "widget_06_continual.png"))
