"""Project-level rules: README commands, CI command, lint (notebooks: tests/test_notebooks.py)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def readme_test_command() -> str:
    text = (ROOT / "README.md").read_text()
    match = re.search(r"<!-- test-command -->\s*```bash\n(.+?)\n```", text, re.S)
    assert match, "README.md has no test command block after <!-- test-command -->"
    return match.group(1).strip()


def test_readme_starts_with_two_commands():
    text = (ROOT / "README.md").read_text()
    first_screen = text.split("## ")[0]
    blocks = re.findall(r"```bash\n(.+?)\n```", first_screen, re.S)
    assert len(blocks) == 2, f"README's first screen must give exactly two commands, found {len(blocks)}"
    assert "pip install -e" in blocks[0] and "hashlab lab" in blocks[0]
    assert "pytest" in blocks[1] and "notebooks" in blocks[1] and "--nbval" in blocks[1]


def test_ci_runs_readme_test_command_in_fast_mode():
    command = readme_test_command()
    assert "HASHLAB_FAST=1" in command, "the CI test command must set HASHLAB_FAST=1"
    ci = (ROOT / ".ci" / "run").read_text()
    assert "test-command" in ci and 'bash -c "$test_command"' in ci
    extracted = subprocess.run(
        ["awk", "/<!-- test-command -->/{getline; getline; print; exit}", "README.md"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert extracted == command


def test_cli_help_documents_train_options():
    out = subprocess.run(
        [sys.executable, "-m", "hashlab.cli", "train", "--help"], capture_output=True, text=True, check=True
    ).stdout
    for option in ("--dataset", "--bits", "--method", "--epochs", "--seed", "--knn-k", "--map-k"):
        assert option in out


def test_torch_threads_restores_the_previous_count():
    import torch

    from hashlab.config import torch_threads

    before = torch.get_num_threads()
    with torch_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    with pytest.raises(ValueError, match="threads"):
        with torch_threads(0):
            pass


def test_ruff_clean():
    ruff = Path(sys.executable).with_name("ruff")
    targets = ["hashlab", "tests", "bench", "notebooks", "docs", "conftest.py"]
    lint = subprocess.run([str(ruff), "check", *targets], cwd=ROOT, capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout
    fmt = subprocess.run([str(ruff), "format", "--check", *targets], cwd=ROOT, capture_output=True, text=True)
    assert fmt.returncode == 0, fmt.stdout


def test_architecture_doc_names_only_modules_that_exist():
    """Every ``hashlab.x.y`` and backticked module of docs/architecture.md's module table exists as built."""
    import importlib.util
    import re

    text = (ROOT / "docs" / "architecture.md").read_text()
    dotted = set(re.findall(r"\bhashlab(?:\.[a-z_]+)+", text))
    missing = []
    for name in sorted(dotted):
        parts = name.split(".")
        # the longest importable prefix must be a module; the rest may be an attribute of it
        for cut in range(len(parts), 1, -1):
            try:
                spec = importlib.util.find_spec(".".join(parts[:cut]))
            except ModuleNotFoundError:  # a prefix is a module, not a package
                spec = None
            if spec is not None:
                module = importlib.import_module(".".join(parts[:cut]))
                obj = module
                for attr in parts[cut:]:
                    obj = getattr(obj, attr, None)
                if obj is None:
                    missing.append(name)
                break
        else:
            missing.append(name)
    table = re.findall(r"^\| `([a-z_/]+)`", text, flags=re.M)
    for entry in table:
        path = ROOT / "hashlab" / entry.rstrip("/")
        if not (path.is_dir() or path.with_suffix(".py").is_file()):
            missing.append(entry)
    assert not missing, f"docs/architecture.md names modules that do not exist: {missing}"


def test_no_source_document_numbers_in_code_or_docs():
    """Papers are cited by authors and year, never by the number of the file they came in ("seed 000", "seeds
    digest"); notebooks and their sources are checked by tests/test_notebooks.py."""
    pattern = re.compile(r"seed ?00[0-4]|seeds digest", re.IGNORECASE)
    files = [ROOT / "README.md", *(ROOT / "hashlab").rglob("*"), *(ROOT / "docs").rglob("*")]
    hits = []
    for path in files:
        rel = path.relative_to(ROOT)
        if not path.is_file() or "__pycache__" in rel.parts or rel.parts[:2] == ("docs", "notebooks"):
            continue
        for number, line in enumerate(path.read_bytes().decode("utf-8", "ignore").splitlines(), 1):
            if pattern.search(line):
                hits.append(f"{rel}:{number}: {line.strip()[:80]}")
    assert not hits, "cite papers by authors and year:\n" + "\n".join(hits)
