"""End to end in a real browser: JupyterLab runs 00_quickstart, then moving the bit-length slider retrains.

nbval executes cells but never touches a widget; this test drives headless Chromium (Playwright) like a user:
Run > Run All Cells, wait for the kernel, press an arrow key on the slider handle, and check that the printed bit
length, the metric table and the figure all changed. Screenshots go to ``artifacts/browser/``; with
``HASHLAB_UPDATE_DOCS_SCREENSHOT=1`` the widget screenshot is also copied to ``docs/img/quickstart_widget.png``.
"""

from __future__ import annotations

import os
import re
import shutil

import pytest

from .conftest import ARTIFACTS, REPO, active_notebook, open_and_run, screenshot, wait_kernel_idle

pytestmark = pytest.mark.browser

NOTEBOOK = "notebooks/00_quickstart.ipynb"
RETRAIN_TIMEOUT_MS = 180_000


def _widget_state(explorer) -> dict[str, str]:
    out = explorer.locator(".widget-output")
    return {
        "text": out.inner_text(),
        "table": out.locator("table").first.inner_html(),
        "figure": out.locator("img").first.get_attribute("src") or "",
    }


def test_quickstart_run_all_then_bit_slider_retrains(lab_server, page):
    open_and_run(page, lab_server, NOTEBOOK, "all claims hold")  # the marker in an output, not in the source
    notebook = active_notebook(page)

    explorer = notebook.locator(".widget-vbox", has=page.locator(".widget-slider")).first
    explorer.scroll_into_view_if_needed()
    explorer.get_by_text("Bit length: 32").wait_for(timeout=30_000)
    before = _widget_state(explorer)
    assert before["table"] and before["figure"].startswith("data:image/png")
    screenshot(page, "02_ran_all")

    handle = explorer.locator(".widget-slider .noUi-handle").first
    handle.focus()
    page.keyboard.press("ArrowLeft")  # one step (4 bits) down; released at once, so the observer retrains
    explorer.locator(".widget-readout", has_text=re.compile(r"^\s*28\s*$")).wait_for(timeout=10_000)
    explorer.get_by_text("Bit length: 28").wait_for(timeout=RETRAIN_TIMEOUT_MS)
    wait_kernel_idle(page)
    after = _widget_state(explorer)

    assert "Bit length: 32" not in after["text"]
    assert after["table"] != before["table"], "metric table was not redrawn"
    assert after["figure"] != before["figure"], "figure was not redrawn"
    assert "28 bits" in after["text"] or "(dpsh" in after["text"]
    assert not explorer.locator(".widget-slider").first.evaluate(
        "el => el.classList.contains('mod-disabled')"
    )
    assert "Traceback" not in after["text"]
    screenshot(page, "03_after_slider")
    explorer.screenshot(path=str(ARTIFACTS / "quickstart_widget.png"))
    if os.environ.get("HASHLAB_UPDATE_DOCS_SCREENSHOT") == "1":
        (REPO / "docs" / "img").mkdir(parents=True, exist_ok=True)
        shutil.copy(ARTIFACTS / "quickstart_widget.png", REPO / "docs" / "img" / "quickstart_widget.png")
