"""The one widget base class: a shared busy state, progress bar, one-line errors, and ``Output`` helpers.

Every hashlab widget is a :class:`HashlabWidget`. A run (a click or a slider release) goes through
:meth:`HashlabWidget.run`:

- **busy state**: the controls are disabled, the progress bar runs, the output area of the previous result is greyed
  (CSS class ``hashlab-stale``), so a slider showing 32 bits is never read against a figure for 16 bits;
- **errors**: a failure is shown *in the widget* as one friendly line (status and output area), the exception is
  kept in ``last_error`` and its traceback in ``last_traceback``; ``run(raise_errors=True)`` (a direct call) also
  re-raises, a click does not (an exception raised in a widget callback would only reach the kernel log);
- **results**: written to the ``Output`` widget's ``outputs`` directly (:func:`figure_output`, :func:`table_output`,
  :func:`stream_output`), so they render the same with or without a live kernel and can be inspected in tests.
"""

from __future__ import annotations

import base64
import io
import time
import traceback
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets
import pandas as pd

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

__all__ = [
    "BUTTON_WIDTH",
    "STALE_CLASS",
    "HashlabWidget",
    "figure_output",
    "friendly_error",
    "stream_output",
    "table_output",
]

STALE_CLASS = "hashlab-stale"
BUTTON_WIDTH = "140px"  # every run button: the label never squeezes to "▶ …"
_STALE_CSS = f"<style>.{STALE_CLASS} {{ opacity: 0.4; filter: grayscale(1); }}</style>"
_MAX_ERROR_CHARS = 240


# ------------------------------------------------------------------------------------------ output helpers
def figure_output(fig: Figure) -> dict[str, Any]:
    """A figure as an ``Output`` widget's display_data entry (PNG), so a handler can replace outputs in one go."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    png = base64.b64encode(buf.getvalue()).decode("ascii")
    return {
        "output_type": "display_data",
        "data": {
            "image/png": png,
            "text/plain": f"<figure {fig.get_figwidth():g}x{fig.get_figheight():g} in>",
        },
        "metadata": {},
    }


def table_output(frame: pd.DataFrame, digits: int = 3) -> dict[str, Any]:
    """A DataFrame as an ``Output`` widget's display_data entry (HTML and text), floats rounded to ``digits``."""
    fmt = f"{{:.{digits}f}}".format
    return {
        "output_type": "display_data",
        "data": {"text/html": frame.to_html(float_format=fmt, na_rep="-"), "text/plain": frame.to_string()},
        "metadata": {},
    }


def stream_output(text: str, name: str = "stdout") -> dict[str, Any]:
    """Text as an ``Output`` widget's stream entry."""
    return {"output_type": "stream", "name": name, "text": text if text.endswith("\n") else text + "\n"}


def friendly_error(exc: BaseException, action: str = "run") -> str:
    """One line for a failed ``action``: what failed and the first line of the message, at most 240 characters.

    Missing files (``FileNotFoundError`` and subclasses, e.g. weights or datasets not on disk) read "not available
    here"; the full traceback stays in the widget's ``last_traceback``.
    """
    lines = str(exc).strip().splitlines()
    first = lines[0] if lines else ""
    if isinstance(exc, FileNotFoundError):
        text = f"{action} failed, not available here: {first or type(exc).__name__}"
    else:
        text = f"{action} failed: {type(exc).__name__}" + (f": {first}" if first else "")
    return text if len(text) <= _MAX_ERROR_CHARS else text[: _MAX_ERROR_CHARS - 1] + "…"


# --------------------------------------------------------------------------------------------- base class
class HashlabWidget:
    """Base of every hashlab widget: output area, progress bar, status line, busy state and error convention.

    Subclasses build their controls, call :meth:`_layout` with the rows of controls, and implement
    :meth:`_controls` (what is disabled while busy), :meth:`_compute` (the long work; it may call
    :meth:`report_progress`) and :meth:`_render` (the result as ``Output`` entries). :meth:`_summary` gives the status
    line after a run; :meth:`_history_row` (optional) adds the run to :attr:`history`, shown as a table.
    """

    action = "run"  # the word used in the status line ("training", "update", ...)

    def __init__(self) -> None:
        self.output = widgets.Output(layout=widgets.Layout(border="1px solid #ddd", padding="4px"))
        self.progress = widgets.IntProgress(value=0, min=0, max=1, layout=widgets.Layout(width="220px"))
        self.status = widgets.Label(value="")
        self.history_table = widgets.HTML(value="")
        self.result: Any = None
        self.figures: dict[str, Figure] = {}
        self.last_error: BaseException | None = None
        self.last_traceback: str | None = None
        self.history: list[dict[str, Any]] = []
        self.runs = 0
        self.busy = False
        self.widget: widgets.Widget = widgets.VBox()

    # ----------------------------------------------------------------------------- what subclasses provide
    def _controls(self) -> Sequence[widgets.Widget]:  # pragma: no cover - abstract
        raise NotImplementedError

    def _compute(self) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def _render(self, result: Any) -> list[dict[str, Any]]:  # pragma: no cover - abstract
        raise NotImplementedError

    def _summary(self, result: Any) -> str:
        return "done"

    def _history_row(self, result: Any) -> dict[str, Any] | None:
        return None

    # ------------------------------------------------------------------------------------------- layout
    @staticmethod
    def button(description: str, icon: str = "play") -> widgets.Button:
        """A run button of the fixed width :data:`BUTTON_WIDTH`."""
        return widgets.Button(
            description=description,
            button_style="primary",
            icon=icon,
            layout=widgets.Layout(width=BUTTON_WIDTH, min_width=BUTTON_WIDTH),
        )

    def _layout(self, *rows: widgets.Widget, history: bool = False) -> widgets.VBox:
        """The widget: the rows of controls, a progress row, the output area (and the history table)."""
        parts = [
            widgets.HTML(_STALE_CSS),
            *rows,
            widgets.HBox([self.progress, self.status]),
            self.output,
        ]
        if history:
            parts.append(self.history_table)
        self.widget = widgets.VBox(parts)
        return self.widget

    # ---------------------------------------------------------------------------------------- busy state
    def set_busy(self, busy: bool, message: str = "") -> None:
        """Disable (or re-enable) every control, start the progress bar and grey (or restore) the output area."""
        self.busy = busy
        for control in self._controls():
            control.disabled = busy
        if busy:
            self.progress.value = 0
            self.progress.bar_style = "info"
            self.status.value = message or f"{self.action} …"
            self.output.add_class(STALE_CLASS)
        else:
            self.output.remove_class(STALE_CLASS)

    def report_progress(self, done: int, total: int, text: str | None = None) -> None:
        """Move the progress bar to ``done`` of ``total`` steps and, with ``text``, update the status line."""
        self.progress.max = max(int(total), 1)
        self.progress.value = min(max(int(done), 0), self.progress.max)
        if text is not None:
            self.status.value = text

    # ------------------------------------------------------------------------------------------------ run
    def run(self, raise_errors: bool = True) -> Any:
        """Do the work with the current control values and redraw; on failure show one line (see module doc)."""
        self.set_busy(True)
        started = time.perf_counter()
        try:
            result = self._compute()
            outputs = self._render(result)
        except Exception as exc:
            self._show_error(exc)
            if raise_errors:
                raise
            return None
        finally:
            self.set_busy(False)
        self.runs += 1
        self._publish(result, outputs, f"{self._summary(result)} ({time.perf_counter() - started:.1f} s)")
        return result

    def _on_click(self, _button: Any = None) -> None:
        self.run(raise_errors=False)

    def _show_error(self, exc: BaseException) -> None:
        self.last_error = exc
        self.last_traceback = traceback.format_exc()
        message = friendly_error(exc, self.action)
        self.output.outputs = (stream_output(message, "stderr"),)
        self.progress.bar_style = "danger"
        self.status.value = message

    def _publish(self, result: Any, outputs: list[dict[str, Any]], status: str) -> None:
        self.result = result
        self.last_error = None
        self.last_traceback = None
        self.output.outputs = tuple(outputs)
        self.progress.value = self.progress.max
        self.progress.bar_style = "success"
        self.status.value = status
        row = self._history_row(result)
        if row is not None:
            self.history.append({"run": len(self.history) + 1, **row})
            table = pd.DataFrame(self.history).set_index("run")
            self.history_table.value = "<b>Runs so far</b>" + table.to_html(
                float_format="{:.3f}".format, na_rep="-"
            )

    # ---------------------------------------------------------------------------------------------- display
    def display(self) -> None:
        """Display the widget (also what a notebook shows when the widget is a cell's last expression)."""
        from IPython.display import display

        display(self.widget)

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)
