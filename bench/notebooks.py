"""Per-notebook run time: executes each notebook with nbclient (what nbval does) and prints a table with the hardware.

Wall-clock seconds depend on what else the machine runs, so the table also gives the kernel's CPU seconds (user +
system of the kernel process and its children, a steadier measure on a shared machine) and the 1-minute load
average before and after each notebook. FAST mode (``HASHLAB_FAST=1``) unless ``--full``.

    python bench/notebooks.py                        # every notebook, FAST mode
    python bench/notebooks.py 00_quickstart 05_margin_schedules
    python bench/notebooks.py --readme               # also write the table into notebooks/README.md
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
README = NOTEBOOKS / "README.md"
BEGIN, END = "<!-- notebook-timings -->", "<!-- /notebook-timings -->"


def hardware() -> str:
    from hashlab.hardware import hardware_info

    return hardware_info()


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def output_rules():
    """docs/notebooks/build.py's output rules (source-document numbers, NaN/<NA> in tables)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("notebook_build", ROOT / "docs" / "notebooks" / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.output_problems


def run_notebook(path: Path, timeout: int, save_dir: Path | None = None) -> dict[str, object]:
    """Execute one notebook in a fresh kernel (working directory: notebooks/); wall and kernel CPU seconds, and
    the rendered outputs that break the notebook rules (as the nbval run checks them)."""
    nb = nbformat.read(path, as_version=4)
    load_before = os.getloadavg()[0]
    cpu0, t0 = children_cpu(), time.perf_counter()
    error = ""
    try:
        NotebookClient(
            nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOKS)}}
        ).execute()
    except Exception as exc:  # report and go on: the table says which notebook failed
        last = re.sub(r"\x1b\[[0-9;]*m", "", str(exc)).strip().splitlines()[-1:] or [""]
        error = f"{type(exc).__name__}: {last[0][:120]}"
    wall = time.perf_counter() - t0
    rules = output_rules()
    problems = [
        f"cell {i}: {p}" for i, c in enumerate(nb.cells) if c.cell_type == "code" for p in rules(c.outputs)
    ]
    if save_dir is not None:
        save_dir.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, save_dir / path.name)
    return {
        "notebook": path.stem,
        "wall s": round(wall, 1),
        "kernel CPU s": round(children_cpu() - cpu0, 1),  # the kernel has exited and been waited for
        "load before/after": f"{load_before:.1f}/{os.getloadavg()[0]:.1f}",
        "error": error,
        "rule problems": problems,
    }


def table(rows: list[dict[str, object]]) -> str:
    head = ["notebook", "wall s", "kernel CPU s", "load before/after"]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    for row in rows:
        name = row["notebook"] + (f" (failed: {row['error']})" if row["error"] else "")
        lines.append(f"| {name} | {row['wall s']} | {row['kernel CPU s']} | {row['load before/after']} |")
    total_wall = sum(float(r["wall s"]) for r in rows)
    total_cpu = sum(float(r["kernel CPU s"]) for r in rows)
    lines.append(f"| **total** | **{total_wall:.0f}** | **{total_cpu:.0f}** | |")
    return "\n".join(lines)


def write_readme(text: str) -> None:
    from hashlab.config import atomic_write

    readme = README.read_text(encoding="utf-8")
    block = f"{BEGIN}\n{text}\n{END}"
    if BEGIN in readme and END in readme:
        readme = re.sub(re.escape(BEGIN) + ".*?" + re.escape(END), lambda _: block, readme, flags=re.S)
    else:
        readme = readme.rstrip("\n") + f"\n\n## Measured run times\n\n{block}\n"
    with atomic_write(README) as tmp:
        tmp.write_text(readme, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="notebook stems (default: every notebooks/NN_*.ipynb)")
    parser.add_argument("--full", action="store_true", help="full mode (HASHLAB_FAST unset)")
    parser.add_argument("--timeout", type=int, default=1800, help="seconds per cell (default 1800)")
    parser.add_argument(
        "--readme", action="store_true", help=f"write the table into {README.relative_to(ROOT)}"
    )
    parser.add_argument("--save-dir", type=Path, help="also write the executed notebooks there (for reading)")
    args = parser.parse_args(argv)
    paths = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    if args.names:
        wanted = {Path(n).stem for n in args.names}
        unknown = wanted - {p.stem for p in paths}
        if unknown:
            parser.error(f"no notebook {', '.join(sorted(unknown))} in {NOTEBOOKS}")
        paths = [p for p in paths if p.stem in wanted]
    if args.full:
        os.environ.pop("HASHLAB_FAST", None)
    else:
        os.environ["HASHLAB_FAST"] = "1"
    os.environ.setdefault("OMP_NUM_THREADS", "1")  # as the test run (conftest.py) sets it
    os.environ.setdefault("MKL_NUM_THREADS", "1")
    mode = "full" if args.full else "FAST"
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    print(f"{mode} mode, {started}; {hardware()}", flush=True)
    rows = []
    for path in paths:
        rows.append(run_notebook(path, args.timeout, args.save_dir))
        print(rows[-1], flush=True)
    text = (
        f"{mode} mode, measured {started} by `python bench/notebooks.py` (nbclient, one fresh kernel per notebook, "
        f"`OMP_NUM_THREADS=1`) on: {hardware()}.\n\n{table(rows)}"
    )
    print(text)
    if args.readme:
        write_readme(text)
    return 1 if any(r["error"] or r["rule problems"] for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
