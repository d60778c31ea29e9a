"""End to end in a real browser: the experiment explorer of 03_pairwise_methods trains on a click.

JupyterLab runs every cell of the notebook (FAST mode), then the test moves the explorer's bit-length slider one
step, clicks Train and checks that the output area shows the new code length, a metric table and two figures
(Hamming histogram, confusion matrix), and that the button is enabled again afterwards.
"""

from __future__ import annotations

import re

import pytest

from .conftest import (
    ARTIFACTS,
    RUN_ALL_TIMEOUT_MS,
    active_notebook,
    assert_no_error_output,
    run_all_cells,
    screenshot,
    wait_kernel_idle,
)

pytestmark = pytest.mark.browser

NOTEBOOK = "notebooks/03_pairwise_methods.ipynb"
TRAIN_TIMEOUT_MS = 180_000


def test_pairwise_notebook_explorer_trains_on_click(lab_server, page):
    page.goto(lab_server.lab_url(NOTEBOOK))
    page.locator(".jp-NotebookPanel .jp-Cell").first.wait_for(timeout=120_000)
    wait_kernel_idle(page)
    run_all_cells(page)
    active_notebook(page).get_by_text(re.compile(r"best \d+-bit method")).wait_for(
        timeout=RUN_ALL_TIMEOUT_MS
    )  # the last cell
    wait_kernel_idle(page)
    assert_no_error_output(page)
    notebook = active_notebook(page)
    train_button = page.locator(".widget-button", has_text=re.compile(r"^\s*Train\s*$"))
    explorer = notebook.locator(".widget-vbox", has=train_button).first
    explorer.wait_for(state="attached", timeout=10_000)
    train = explorer.locator(".widget-button", has_text=re.compile(r"^\s*Train\s*$"))
    explorer.scroll_into_view_if_needed()
    output = explorer.locator(".widget-output")
    assert "knn_acc" not in output.inner_text()  # nothing trained before the click
    slider = explorer.locator(".widget-slider", has=page.locator(".widget-label", has_text="bits")).first
    start = int(slider.locator(".widget-readout").inner_text().strip())
    slider.locator(".noUi-handle").first.focus()
    page.keyboard.press("ArrowRight")
    new_bits = start + 4
    slider.locator(".widget-readout", has_text=re.compile(rf"^\s*{new_bits}\s*$")).wait_for(timeout=10_000)

    train.first.click()
    output.get_by_text(re.compile(rf"\| {new_bits} bits")).wait_for(timeout=TRAIN_TIMEOUT_MS)
    wait_kernel_idle(page)
    text = output.inner_text()
    assert "knn_acc" in text and "Traceback" not in text
    assert output.locator("table").count() == 1
    assert output.locator("img").count() == 2  # Hamming histogram + confusion matrix
    assert train.first.is_enabled()
    screenshot(page, "10_explorer_03")
    explorer.screenshot(path=str(ARTIFACTS / "explorer_widget.png"))
