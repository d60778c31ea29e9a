"""The notebooks are built from their jupytext sources (docs/notebooks) and committed clean."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ROOT / "docs" / "notebooks"
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


@pytest.fixture(scope="module")
def build():
    """docs/notebooks/build.py as a module (it is a script, not part of the package)."""
    spec = importlib.util.spec_from_file_location("notebook_build", SOURCES / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_notebook_has_a_source_and_no_generator_is_left():
    assert NOTEBOOKS, "no notebooks found"
    assert {p.stem for p in NOTEBOOKS} == {p.stem for p in SOURCES.glob("[0-9][0-9]_*.py")}
    assert not list((ROOT / "notebooks").glob("*.py")), "Python files in the students' notebooks folder"


def test_committed_notebooks_equal_their_build(build):
    problems = build.check(build.sources())
    assert not problems, "\n".join(problems)


def test_check_reports_an_edited_notebook_and_build_is_deterministic(build, tmp_path, monkeypatch):
    source = build.sources(["00_quickstart"])[0]
    monkeypatch.setattr(build, "NOTEBOOKS", tmp_path)
    assert build.check([source]) and "missing" in build.check([source])[0]
    path = build.write(source)
    assert build.check([source]) == [] and path.read_text() == build.build(source)
    nb = json.loads(path.read_text())
    assert [c["id"] for c in nb["cells"]] == [f"cell-{i:02d}" for i in range(len(nb["cells"]))]
    nb["cells"][1]["source"] = "BITS = 64"
    path.write_text(json.dumps(nb))
    assert "differs from 00_quickstart.py" in build.check([source])[0]
    with pytest.raises(SystemExit, match="no notebook source 99_nothing"):
        build.sources(["99_nothing"])


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_committed_clean(path):
    nb = json.loads(path.read_text())
    assert nb["metadata"].get("kernelspec", {}).get("name") == "python3", f"{path.name}: kernelspec"
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert code, f"{path.name} has no code cells"
    assert "parameters" in code[0].get("metadata", {}).get("tags", []), f"{path.name}: no parameters cell"
    assert "fast_mode()" in "".join(code[0]["source"]), f"{path.name}: parameters cell must read FAST mode"
    assert "assert" in "".join("".join(c["source"]) for c in code[-3:]), f"{path.name}: last cells assert"
    for cell in code:
        assert not cell.get("outputs"), f"{path.name}: committed with outputs"
        assert cell.get("execution_count") is None, f"{path.name}: committed with execution counts"
