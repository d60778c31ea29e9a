"""End to end in a real browser: the experiment explorer (notebooks 03/04) trains on a click, shows its busy state,
and answers a dataset that is not on disk with one line.

The test runs only what the explorer needs (digits pixel embeddings and the widget, in a two-cell notebook), not
notebook 03's training grid: that made the test time out on a loaded machine.
"""

from __future__ import annotations

import re

import pytest

from .conftest import (
    ARTIFACTS,
    busy_seen,
    open_and_run,
    screenshot,
    wait_kernel_idle,
    watch_busy,
    write_check_notebook,
)

pytestmark = pytest.mark.browser

TRAIN_TIMEOUT_MS = 180_000
CELLS = [
    """from hashlab.features import get_embeddings
from hashlab.widgets import ExperimentExplorer, available_offline

emb = get_embeddings("digits", "pixels")
on_disk = available_offline().datasets
MISSING = next(d for d in ("chestmnist", "octmnist", "organamnist", "tissuemnist", "retinamnist") if d not in on_disk)
explorer = ExperimentExplorer(
    embeddings=emb, datasets=["digits", MISSING], backbones=["pixels"], methods=["dpsh", "dsh"], bits=24, epochs=2
)
explorer.display()""",
    'print("explorer ready; not on disk:", MISSING)',
]


def test_explorer_trains_on_click_with_busy_state_and_one_line_error(lab_server, page):
    path = write_check_notebook(lab_server, "explorer", CELLS)
    open_and_run(page, lab_server, path, "explorer ready")
    printed = page.locator(".jp-OutputArea-output", has_text="not on disk:").first.inner_text()
    missing = printed.split(": ")[-1].strip()
    train = page.locator(".widget-button", has_text=re.compile(r"^\s*Train\s*$")).first
    explorer = page.locator(".widget-vbox", has=train).first
    explorer.scroll_into_view_if_needed()
    output = explorer.locator(".widget-output").first
    assert "knn_acc" not in output.inner_text()  # nothing trained before the click

    # one slider step (4 bits) up, then Train: busy while training, then the 28-bit result
    slider = explorer.locator(".widget-slider", has=page.locator(".widget-label", has_text="bits")).first
    slider.locator(".noUi-handle").first.focus()
    page.keyboard.press("ArrowRight")
    slider.locator(".widget-readout", has_text=re.compile(r"^\s*28\s*$")).wait_for(timeout=10_000)
    watch_busy(explorer)
    train.click()
    output.get_by_text(re.compile(r"\| 28 bits")).wait_for(timeout=TRAIN_TIMEOUT_MS)
    wait_kernel_idle(page)
    assert busy_seen(page) == {"stale": True, "disabled": True}, "no busy state while training"
    text = output.inner_text()
    assert "knn_acc" in text and "Traceback" not in text
    assert output.locator("table").count() == 1 and output.locator("img").count() == 2  # histogram, confusion
    assert train.is_enabled() and not explorer.locator(".hashlab-stale").count()
    assert explorer.get_by_text("Runs so far").count() == 1  # the history table
    screenshot(page, "10_explorer_trained")

    # a dataset that is not on disk: one friendly line, no traceback, the button keeps its width and works again
    width = train.bounding_box()["width"]
    explorer.locator("select").first.select_option(missing)
    train.click()
    explorer.get_by_text(re.compile(r"failed")).first.wait_for(timeout=TRAIN_TIMEOUT_MS)
    wait_kernel_idle(page)
    message = [line for line in output.inner_text().splitlines() if line.strip()]
    assert len(message) == 1, message
    assert missing in message[0] or "not available" in message[0], message
    assert "Traceback" not in output.inner_text()
    assert train.is_enabled() and abs(train.bounding_box()["width"] - width) < 1
    explorer.screenshot(path=str(ARTIFACTS / "explorer_widget.png"))
