"""``hashlab lab``: README's first command opens the workbench (root, options in any position, jupyter off PATH)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from hashlab import jupyter_lab
from hashlab.config import REPO_ROOT


@pytest.mark.parametrize(
    ("argv", "notebook", "rest"),
    [
        ([], "00_quickstart.ipynb", []),
        (["--no-browser", "--port", "8890"], "00_quickstart.ipynb", ["--no-browser", "--port", "8890"]),
        (
            ["notebooks/03_pairwise_methods.ipynb", "--port", "8890"],
            "03_pairwise_methods.ipynb",
            ["--port", "8890"],
        ),
        (
            ["--port", "8890", "01_data_and_embeddings.ipynb"],
            "01_data_and_embeddings.ipynb",
            ["--port", "8890"],
        ),
    ],
)
def test_options_in_any_position(argv, notebook, rest, monkeypatch):
    monkeypatch.chdir(REPO_ROOT)
    command = jupyter_lab.lab_command(argv, jupyter="/x/jupyter", is_root=False)
    assert command[:3] == ["/x/jupyter", "lab", str(REPO_ROOT / "notebooks" / notebook)]
    assert command[-len(rest) :] == rest if rest else True
    assert "--LabApp.news_url=None" in command and f"--ServerApp.root_dir={REPO_ROOT}" in command
    assert "--allow-root" not in command


def test_root_gets_allow_root_with_a_notice(capsys):
    command = jupyter_lab.lab_command([], jupyter="/x/jupyter", is_root=True)
    assert command.count("--allow-root") == 1
    assert (
        capsys.readouterr().err.strip()
        == "hashlab lab: running as root, so passing --allow-root to JupyterLab"
    )
    assert jupyter_lab.lab_command(["--allow-root"], jupyter="j", is_root=True).count("--allow-root") == 1


def test_jupyter_found_beside_the_interpreter_when_not_on_path(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    assert jupyter_lab.find_jupyter() == str(Path(sys.executable).parent / "jupyter")
    monkeypatch.setattr(sys, "executable", "/nonexistent/python")
    with pytest.raises(FileNotFoundError, match="jupyter is not on PATH nor beside /nonexistent/python"):
        jupyter_lab.find_jupyter()


def test_missing_notebook_and_two_notebooks_are_one_line_errors():
    with pytest.raises(FileNotFoundError, match="no notebook 99_missing.ipynb"):
        jupyter_lab.lab_command(["99_missing.ipynb"], jupyter="j")
    with pytest.raises(ValueError, match="one notebook, got 2"):
        jupyter_lab.lab_command(["00_quickstart.ipynb", "01_data_and_embeddings.ipynb"], jupyter="j")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(url: str, token: str) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers={"Authorization": f"token {token}"})
    with urllib.request.urlopen(request, timeout=5) as response:
        return response.status, response.read()


def test_readme_command_serves_the_quickstart(tmp_path):
    """``hashlab lab --no-browser --port P`` with the venv's bin off PATH (as root here: --allow-root is added)."""
    script = Path(sys.executable).parent / "hashlab"
    if not script.exists():
        pytest.skip("the hashlab console script is not installed beside the interpreter")
    port, token = _free_port(), "hashlab-test-token"
    env = dict(os.environ, PATH="/usr/bin:/bin", JUPYTER_RUNTIME_DIR=str(tmp_path / "rt"), HOME=str(tmp_path))
    cwd = tmp_path / "elsewhere"
    cwd.mkdir()
    argv = [str(script), "lab", "--no-browser", "--port", str(port), f"--IdentityProvider.token={token}"]
    proc = subprocess.Popen(
        argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        deadline, answer = time.monotonic() + 90, None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                answer = _get(f"http://127.0.0.1:{port}/api", token)
                break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.5)
        assert answer is not None, f"server did not answer (rc {proc.poll()})"
        assert answer[0] == 200 and "version" in json.loads(answer[1])
        status, body = _get(f"http://127.0.0.1:{port}/api/contents/notebooks/00_quickstart.ipynb", token)
        assert status == 200 and json.loads(body)["type"] == "notebook"
    finally:
        proc.terminate()
        try:
            out, _ = proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
    assert "Running as root is not recommended" not in out
    if os.geteuid() == 0:
        assert "passing --allow-root" in out
