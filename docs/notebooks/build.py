"""Build ``notebooks/NN_*.ipynb`` from the jupytext percent-format sources ``docs/notebooks/NN_*.py``.

The sources are the reviewed, linted code; the notebooks are built from them without outputs, with a python3
kernelspec and stable cell ids (``cell-00``, ``cell-01``, ...), so that building an unchanged source gives a
byte-identical notebook.

    python docs/notebooks/build.py                    # build every notebook
    python docs/notebooks/build.py 03_pairwise_methods  # build the named ones
    python docs/notebooks/build.py --check            # exit 1 if a committed notebook differs from its build

``--check`` also applies the text rules of :func:`text_problems` to every source (papers are cited by authors and
year, never by the number of a project's source document); the root ``conftest.py`` applies
:func:`output_problems` to every cell that nbval runs, so a rendered table with NaN/<NA> fails that cell.
"""

from __future__ import annotations

import argparse
import difflib
import re
import sys
from collections.abc import Sequence
from pathlib import Path

import nbformat

from hashlab.config import atomic_write

SOURCES = Path(__file__).resolve().parent
NOTEBOOKS = SOURCES.parent.parent / "notebooks"
KERNELSPEC = {"name": "python3", "display_name": "Python 3", "language": "python"}
# cell metadata kept in the notebook: nbval/papermill tags and JupyterLab's folding of solution cells
CELL_METADATA = ("tags", "jupyter", "collapsed")
# words from outside the subject: numbers of the project's source documents and its notes, "workbench"
FORBIDDEN_TEXT = {
    "source-document number (cite authors and year)": re.compile(r"\bseeds? ?0{2}\d\b", re.I),
    "reference to the project's notes": re.compile(r"\bseeds digest\b|\bdigest §", re.I),
    "'workbench' (say what hashlab did)": re.compile(r"\bworkbench\b", re.I),
}
# a missing value rendered in an HTML table cell (pandas writes NaN, nan, <NA> as &lt;NA&gt;)
MISSING_CELL = re.compile(r"<t[dh][^>]*>\s*(NaN|nan|&lt;NA&gt;|<NA>)\s*</t[dh]>")


def text_problems(text: str) -> list[str]:
    """One message per forbidden word found in ``text`` (``name: 'match'``)."""
    return [f"{name}: {m.group(0)!r}" for name, rx in FORBIDDEN_TEXT.items() for m in rx.finditer(text)]


def output_problems(outputs: Sequence[dict]) -> list[str]:
    """Problems in a cell's rendered outputs (nbformat output dicts): forbidden words, NaN/<NA> in a table."""
    problems = []
    for out in outputs:
        data = out.get("data", {})
        text = (
            "".join(out.get("text", ""))
            + "".join(data.get("text/plain", ""))
            + "".join(data.get("text/html", ""))
        )
        problems += text_problems(text)
        problems += [f"missing value in a table: {m.group(0)!r}" for m in MISSING_CELL.finditer(text)]
    return problems


def sources(names: Sequence[str] = ()) -> list[Path]:
    """The notebook sources ``NN_*.py`` (all, or those whose stem or file name is in ``names``)."""
    found = sorted(SOURCES.glob("[0-9][0-9]_*.py"))
    if not names:
        return found
    wanted = {Path(name).stem for name in names}
    unknown = wanted - {path.stem for path in found}
    if unknown:
        raise SystemExit(f"build.py: no notebook source {', '.join(sorted(unknown))} in {SOURCES}")
    return [path for path in found if path.stem in wanted]


def build(source: Path) -> str:
    """The ``.ipynb`` text built from one percent-format source (no outputs, stable ids, validated)."""
    import jupytext  # only the builder needs it (the output rules above are also used by conftest.py)

    nb = jupytext.read(source, fmt="py:percent")
    nb.metadata = nbformat.from_dict({"kernelspec": KERNELSPEC, "language_info": {"name": "python"}})
    for number, cell in enumerate(nb.cells):
        cell.metadata = nbformat.from_dict({k: v for k, v in cell.metadata.items() if k in CELL_METADATA})
        cell["id"] = f"cell-{number:02d}"
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    nbformat.validate(nb)
    text = nbformat.writes(nb)
    return text if text.endswith("\n") else text + "\n"


def target(source: Path) -> Path:
    """The notebook built from ``source``."""
    return NOTEBOOKS / f"{source.stem}.ipynb"


def write(source: Path) -> Path:
    """Build ``source`` into its notebook (atomic write: an interrupted build leaves the old file)."""
    path = target(source)
    with atomic_write(path) as tmp:
        tmp.write_text(build(source), encoding="utf-8")
    return path


def check(paths: Sequence[Path]) -> list[str]:
    """One message per forbidden word in a source and per notebook that is missing or differs from its build."""
    problems = []
    for source in paths:
        problems += [
            f"{source.name}: {problem}" for problem in text_problems(source.read_text(encoding="utf-8"))
        ]
        path = target(source)
        if not path.exists():
            problems.append(f"{path.name}: missing; run python docs/notebooks/build.py {source.stem}")
            continue
        built, committed = build(source), path.read_text(encoding="utf-8")
        if built != committed:
            diff = difflib.unified_diff(
                committed.splitlines(),
                built.splitlines(),
                f"notebooks/{path.name}",
                f"built from {source.name}",
            )
            head = "\n".join(list(diff)[:20])
            problems.append(f"{path.name}: differs from {source.name}; rebuild it\n{head}")
    return problems


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="sources to build (stem, e.g. 00_quickstart); default: all")
    parser.add_argument(
        "--check", action="store_true", help="compare instead of writing; exit 1 on a difference"
    )
    args = parser.parse_args(argv)
    paths = sources(args.names)
    if args.check:
        problems = check(paths)
        for problem in problems:
            print(problem, file=sys.stderr)
        print(f"{len(paths) - len(problems)}/{len(paths)} notebooks equal their sources")
        return 1 if problems else 0
    for source in paths:
        print("built", write(source).relative_to(NOTEBOOKS.parent))
    return 0


if __name__ == "__main__":
    sys.exit(main())
