"""Fixtures for end-to-end browser tests: a private JupyterLab server and a headless Chromium driven by Playwright.

The browser is Debian's ``/usr/bin/chromium`` (``apt-get install chromium``) driven by the PyPI ``playwright`` wheel;
``playwright install`` is never needed. Without either, the tests skip with the reason, unless
``HASHLAB_REQUIRE_BROWSER=1`` (CI), where they fail.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = Path(os.environ.get("HASHLAB_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = REPO / "artifacts" / "browser"
RUN_ALL_TIMEOUT_MS = 300_000


def _browser_unavailable() -> str | None:
    if not CHROMIUM.exists():
        return f"{CHROMIUM} not found (install it with `apt-get install chromium`, as root)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError as exc:
        return f"the playwright package cannot be imported ({exc}); install the dev extra: pip install -e '.[dev]'"
    return None


@pytest.fixture(scope="session")
def browser_available() -> None:
    reason = _browser_unavailable()
    if reason is None:
        return
    if os.environ.get("HASHLAB_REQUIRE_BROWSER") == "1":
        pytest.fail(f"browser test required (HASHLAB_REQUIRE_BROWSER=1) but {reason}")
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LabServer:
    url: str
    token: str
    root: Path
    log: Path

    def lab_url(self, path: str) -> str:
        """URL opening ``path`` in a fresh JupyterLab workspace (no tabs restored from an earlier test)."""
        return f"{self.url}/lab/workspaces/{secrets.token_hex(4)}/tree/{path}?token={self.token}"


def _write_lab_settings(settings_dir: Path) -> None:
    """User settings for a quiet, deterministic JupyterLab: no news / update toasts."""
    notification = settings_dir / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    notification.parent.mkdir(parents=True, exist_ok=True)
    notification.write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))


@pytest.fixture(scope="session")
def lab_server(browser_available: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabServer]:
    """JupyterLab on a free 127.0.0.1 port with a random token and ``HASHLAB_FAST=1``.

    Its root is a scratch copy of ``notebooks/`` (JupyterLab autosaves executed notebooks; the committed ones must
    stay without outputs). Kernels import the installed ``hashlab`` and use the repository's ``data/`` cache.
    """
    base = tmp_path_factory.mktemp("lab")
    root = base / "root"
    shutil.copytree(REPO / "notebooks", root / "notebooks", ignore=shutil.ignore_patterns("*.py", ".ipynb_*"))
    _write_lab_settings(base / "settings")
    token = secrets.token_hex(16)
    port = _free_port()
    env = dict(os.environ)
    env.update(
        HASHLAB_FAST="1",
        HASHLAB_DATA_DIR=os.environ.get("HASHLAB_DATA_DIR", str(REPO / "data")),
        HASHLAB_FIGURES_DIR=str(base / "figures"),
        JUPYTERLAB_SETTINGS_DIR=str(base / "settings"),
        JUPYTERLAB_WORKSPACES_DIR=str(base / "workspaces"),
        JUPYTER_RUNTIME_DIR=str(base / "runtime"),
        JUPYTER_CONFIG_DIR=str(base / "config"),
    )
    jupyter = Path(sys.executable).with_name("jupyter")
    log = base / "jupyterlab.log"
    cmd = [
        str(jupyter),
        "lab",
        "--no-browser",
        f"--IdentityProvider.token={token}",
        f"--port={port}",
        "--ServerApp.port_retries=0",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.root_dir={root}",
        *(
            ["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []
        ),  # CI containers run as root
    ]
    with open(log, "wb") as log_fh:
        proc = subprocess.Popen(cmd, stdout=log_fh, stderr=subprocess.STDOUT, env=env, cwd=root)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"JupyterLab exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=5) as resp:
                    if resp.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"JupyterLab did not answer on {url} in 120 s:\n{log.read_text()[-3000:]}")
            time.sleep(0.5)
        yield LabServer(url=url, token=token, root=root, log=log)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        if log.exists():
            shutil.copy(log, ARTIFACTS / "jupyterlab.log")


@pytest.fixture()
def page(lab_server: LabServer):
    """A fresh headless Chromium page (1400x1000)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            context = browser.new_context(viewport={"width": 1400, "height": 1000})
            pg = context.new_page()
            console: list[str] = []
            pg.on("console", lambda msg: console.append(f"{msg.type}: {msg.text}"))
            pg.console_messages = console  # type: ignore[attr-defined]
            yield pg
        finally:
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            if "pg" in locals():
                (ARTIFACTS / "console.log").write_text("\n".join(pg.console_messages))
            browser.close()


# ---------------------------------------------------------------------------------------- page helpers
def active_notebook(page):
    """Locator of the notebook panel shown in the main area."""
    return page.locator(".jp-NotebookPanel:not(.lm-mod-hidden)").first


def screenshot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=False)


def wait_kernel_idle(page, timeout_s: float = 120.0) -> None:
    """Wait until the notebook's kernel reports idle (toolbar status), twice in a row half a second apart."""
    indicator = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook-ExecutionIndicator")
    deadline = time.monotonic() + timeout_s
    idle_seen = 0
    while time.monotonic() < deadline:
        status = indicator.first.get_attribute("data-status") if indicator.count() else None
        idle_seen = idle_seen + 1 if status == "idle" else 0
        if idle_seen >= 2:
            return
        time.sleep(0.5)
    raise AssertionError(f"kernel not idle after {timeout_s} s (last status {status!r})")


def run_all_cells(page) -> None:
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()


def assert_no_error_output(page) -> None:
    """No cell shows an error (traceback) output."""
    errors = active_notebook(page).locator('[data-mime-type="application/vnd.jupyter.error"]')
    assert errors.count() == 0, errors.first.inner_text()


# ------------------------------------------------------------------------- small notebooks for one widget
def write_check_notebook(server: LabServer, name: str, cells: list[str]) -> str:
    """Write a notebook of code ``cells`` into the server's scratch root; returns its path for ``lab_url``.

    A widget test runs only what its widget needs (data, one small model), not a whole notebook's training grid.
    The last cell should print a marker the test waits for.
    """
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    nb = new_notebook(
        cells=[new_code_cell(src) for src in cells],
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
    )
    path = server.root / "checks" / f"{name}.ipynb"
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return f"checks/{name}.ipynb"


def accept_dialog(page, name: str) -> None:
    """Accept a JupyterLab dialog if one is open (screenshot kept as ``name``)."""
    dialog = page.locator(".jp-Dialog")
    if dialog.count():
        screenshot(page, name)
        dialog.locator(".jp-Dialog-button.jp-mod-accept").first.click()
        dialog.first.wait_for(state="detached", timeout=10_000)


def open_and_run(
    page, server: LabServer, path: str, marker: str, timeout_ms: int = RUN_ALL_TIMEOUT_MS
) -> None:
    """Open ``path`` in JupyterLab, Run All Cells, wait for ``marker`` in the output and an idle kernel."""
    page.goto(server.lab_url(path))
    page.locator(".jp-NotebookPanel .jp-Cell").first.wait_for(timeout=120_000)
    wait_kernel_idle(page)
    # a kernel can report idle before it takes requests: Run All then leaves every cell unrun ("[ ]"); retry
    # (or JupyterLab asks for a kernel in a dialog first: accept its default, python3)
    prompt = active_notebook(page).locator(".jp-InputArea-prompt").first
    for attempt in range(3):
        accept_dialog(page, f"dialog_before_run_{attempt}")
        run_all_cells(page)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and prompt.inner_text().strip() in ("[ ]:", ""):
            accept_dialog(page, f"dialog_after_run_{attempt}")
            time.sleep(0.5)
        if prompt.inner_text().strip() not in ("[ ]:", ""):
            break
    # the marker in an output, not in the cell sources (which name it too)
    outputs = active_notebook(page).locator(".jp-OutputArea-output")
    outputs.filter(has_text=marker).first.wait_for(timeout=timeout_ms)
    wait_kernel_idle(page)
    assert_no_error_output(page)


BUSY_WATCH_JS = """root => {
  const sel = 'button:disabled, input:disabled, select:disabled, [disabled], .mod-disabled';
  const before = new Set(root.querySelectorAll(sel));  // disabled already (e.g. a margin slider without margin)
  window.__hashlabBusy = {stale: false, disabled: false};
  const check = () => {
    if (root.querySelector('.hashlab-stale')) window.__hashlabBusy.stale = true;
    if ([...root.querySelectorAll(sel)].some(el => !before.has(el))) window.__hashlabBusy.disabled = true;
  };
  new MutationObserver(check).observe(root, {subtree: true, childList: true, attributes: true,
                                               attributeFilter: ['class', 'disabled']});
}"""


def watch_busy(widget) -> None:
    """Record (in the page) whether the widget ever shows its busy state: greyed output, disabled controls.

    A MutationObserver sees the state even when a fast run shows it for less than one frame.
    """
    widget.evaluate(BUSY_WATCH_JS)


def busy_seen(page) -> dict[str, bool]:
    return page.evaluate("() => window.__hashlabBusy")
