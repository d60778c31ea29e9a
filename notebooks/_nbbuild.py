"""Shared helpers for the ``_make_NN.py`` scripts that generate the notebooks (committed without outputs)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent
KERNELSPEC = {"name": "python3", "display_name": "Python 3", "language": "python"}


def md(text: str) -> nbformat.NotebookNode:
    """A markdown cell (surrounding blank lines stripped)."""
    return new_markdown_cell(text.strip())


def code(text: str, tags: Sequence[str] = ()) -> nbformat.NotebookNode:
    """A code cell, optionally tagged (the first cell of every notebook is tagged ``parameters``)."""
    cell = new_code_cell(text.strip())
    if tags:
        cell.metadata["tags"] = list(tags)
    return cell


def write_notebook(cells: Sequence[nbformat.NotebookNode], filename: str) -> Path:
    """Validate and write ``notebooks/<filename>`` (python3 kernelspec, no outputs, ruff-formatted cells)."""
    # stable ids: regenerating an unchanged notebook gives the same file
    for number, cell in enumerate(cells):
        cell["id"] = f"cell-{number:02d}"
    metadata = {"kernelspec": KERNELSPEC, "language_info": {"name": "python"}}
    nb = new_notebook(cells=list(cells), metadata=metadata)
    nbformat.validate(nb)
    path = HERE / filename
    nbformat.write(nb, path)
    # keep the code cells ruff-clean (import order, formatting) like the library code
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    if ruff:
        subprocess.run([ruff, "check", "--fix", "--select", "I", "--quiet", str(path)], check=False)
        subprocess.run([ruff, "format", "--quiet", str(path)], check=True)
    print("wrote", path)
    return path
