"""``hashlab lab``: open the workbench in JupyterLab, as README's first command does, in any environment.

- ``jupyter`` is looked up on ``PATH`` and, when the virtual environment's ``bin`` is not on it, beside the running
  interpreter (``sys.executable``);
- as root (containers) ``--allow-root`` is passed, with a one-line notice, instead of JupyterLab refusing to start;
- Jupyter's own options may come in any position (``hashlab lab --no-browser --port 8890``,
  ``hashlab lab notebooks/03_pairwise_methods.ipynb --port 8890``); the notebook is the argument ending ``.ipynb``;
- the server's root is the repository, so every notebook is reachable, and JupyterLab's news pop-up and update check
  are off (``--LabApp.news_url=None``, ``NeverCheckForUpdate``): a workbench that opens offline asks nothing.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

from hashlab.config import REPO_ROOT

__all__ = ["DEFAULT_NOTEBOOK", "find_jupyter", "lab_command", "main"]

DEFAULT_NOTEBOOK = "00_quickstart.ipynb"
USAGE = (
    "usage: hashlab lab [NOTEBOOK.ipynb] [jupyter lab options...]\n"
    f"Open JupyterLab on a notebook of notebooks/ (default {DEFAULT_NOTEBOOK}); every other argument goes to "
    "jupyter lab (e.g. --no-browser --port 8890)."
)


def find_jupyter() -> str:
    """Path of the ``jupyter`` command: on ``PATH``, else beside the running interpreter; ``FileNotFoundError``."""
    found = shutil.which("jupyter")
    if found:
        return found
    beside = Path(sys.executable).parent / "jupyter"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    raise FileNotFoundError(
        f"jupyter is not on PATH nor beside {sys.executable}; install the workbench with: pip install -e ."
    )


def _notebook_path(name: str) -> Path:
    for candidate in (Path(name).expanduser(), REPO_ROOT / "notebooks" / name):
        if candidate.is_file():
            return candidate.resolve()
    raise FileNotFoundError(
        f"no notebook {name} (looked in the current folder and {REPO_ROOT / 'notebooks'})"
    )


def _has_option(args: Sequence[str], *names: str) -> bool:
    return any(a == n or a.startswith(f"{n}=") for a in args for n in names)


def lab_command(argv: Sequence[str], jupyter: str | None = None, is_root: bool | None = None) -> list[str]:
    """The ``jupyter lab`` command line for ``hashlab lab ARGV`` (notebook anywhere in ``argv``)."""
    notebooks = [a for a in argv if a.endswith(".ipynb") and not a.startswith("-")]
    if len(notebooks) > 1:
        raise ValueError(f"hashlab lab opens one notebook, got {len(notebooks)}: {' '.join(notebooks)}")
    notebook = _notebook_path(notebooks[0] if notebooks else DEFAULT_NOTEBOOK)
    rest = [a for a in argv if a not in notebooks]
    extra: list[str] = []
    if is_root is None:
        is_root = hasattr(os, "geteuid") and os.geteuid() == 0
    if is_root and "--allow-root" not in rest:
        print("hashlab lab: running as root, so passing --allow-root to JupyterLab", file=sys.stderr)
        extra.append("--allow-root")
    if not _has_option(rest, "--LabApp.news_url"):
        extra.append("--LabApp.news_url=None")
    if not _has_option(rest, "--LabApp.check_for_updates_class"):
        extra.append("--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate")
    roots = ("--ServerApp.root_dir", "--notebook-dir", "--ServerApp.notebook_dir", "--root-dir")
    if not _has_option(rest, *roots) and notebook.is_relative_to(REPO_ROOT):
        extra.append(f"--ServerApp.root_dir={REPO_ROOT}")
    return [jupyter or find_jupyter(), "lab", str(notebook), *extra, *rest]


def main(argv: Sequence[str] | None = None) -> int:
    """``hashlab lab``: replace this process with JupyterLab (``-h``/``--help`` prints the usage)."""
    args = list(sys.argv[2:] if argv is None else argv)
    if args and args[0] in ("-h", "--help"):
        print(USAGE)
        return 0
    command = lab_command(args)
    os.execv(command[0], command)
    return 0  # pragma: no cover
