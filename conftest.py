"""pytest setup shared by the unit tests and the nbval notebook run.

The tests train many small heads; on a 2-core machine one intra-op thread is faster for such small tensors than
two threads contending (measured: a 5-epoch digits run took 13 s with 2 threads under load, 1.9 s with 1), and
notebook kernels started by nbval inherit the environment set here.
"""

import os

import pytest

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")


# nbval: a notebook cell fails when its rendered output cites a source document by number or shows NaN/<NA> in a
# table (rules in docs/notebooks/build.py, beside the same rules for the notebook sources).
_NOTEBOOK_RULES = None


def _notebook_rules():
    global _NOTEBOOK_RULES
    if _NOTEBOOK_RULES is None:
        import importlib.util
        from pathlib import Path

        spec = importlib.util.spec_from_file_location(
            "notebook_build", Path(__file__).parent / "docs" / "notebooks" / "build.py"
        )
        _NOTEBOOK_RULES = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(_NOTEBOOK_RULES)
    return _NOTEBOOK_RULES


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    result = yield
    outputs = getattr(item, "test_outputs", None)  # set by nbval's IPyNbCell after running the cell
    if outputs:
        problems = _notebook_rules().output_problems(outputs)
        if problems:
            raise AssertionError(
                f"{item.name}: rendered output breaks the notebook rules: " + "; ".join(problems)
            )
    return result
