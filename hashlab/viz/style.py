"""The one figure style of hashlab: a ``Figure`` that renders itself in Jupyter, saving, legends, ticks, colours.

Rules every plotting function in :mod:`hashlab.viz` follows:

- it returns a :class:`Figure` built without pyplot (no ``plt.show``, no global registry, nothing changed on import)
  and takes ``save=None``: a path where the figure is also written atomically (format from the extension);
- one title: a single-panel figure has an axes title only; a multi-panel one has short panel names and one
  ``suptitle``;
- legends sit outside the data (:func:`legend_outside`, :func:`legend_below`);
- Hamming distances and bit lengths get integer ticks (:func:`integer_ticks`);
- heatmaps use the one colour map :data:`CMAP`, images :data:`IMAGE_CMAP` (dark = 0), lines the :data:`PALETTE`.
"""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from typing import Any

import matplotlib.figure
from matplotlib.ticker import MaxNLocator

from hashlab.config import atomic_write

__all__ = [
    "CMAP",
    "HIT_COLOR",
    "IMAGE_CMAP",
    "MISS_COLOR",
    "PALETTE",
    "Figure",
    "finish",
    "integer_ticks",
    "legend_below",
    "legend_outside",
    "new_figure",
    "save_figure",
]

CMAP = "viridis"  # every heatmap (confusion matrices, R matrices)
IMAGE_CMAP = "gray"  # grey-level images: 0 black, 1 white (never inverted)
PALETTE = "tab10"  # lines and bars, one colour per method
HIT_COLOR = "#1a9641"
MISS_COLOR = "#d7191c"


class Figure(matplotlib.figure.Figure):
    """A matplotlib ``Figure`` that shows itself as a PNG when it is a notebook cell's value (``_repr_png_``).

    IPython calls ``_repr_png_`` for objects without a registered formatter, so figures render inline without
    pyplot and without changing IPython's display settings.
    """

    def _repr_png_(self) -> bytes:
        buf = io.BytesIO()
        self.savefig(buf, format="png", dpi=100, bbox_inches="tight")
        return buf.getvalue()


def new_figure(figsize: tuple[float, float]) -> Figure:
    """An empty :class:`Figure` with constrained layout (panels, titles and outside legends never overlap)."""
    return Figure(figsize=figsize, layout="constrained")


def save_figure(fig: matplotlib.figure.Figure, path: str | os.PathLike, dpi: int = 120) -> None:
    """Write ``fig`` to ``path`` atomically; the format comes from the file extension (png, pdf, svg, ...)."""
    ext = os.path.splitext(os.fspath(path))[1].lstrip(".").lower()
    if not ext:
        raise ValueError(
            f"cannot infer an image format from {os.fspath(path)!r}: give it an extension such as .png"
        )
    supported = fig.canvas.get_supported_filetypes()
    if ext not in supported:
        raise ValueError(
            f"unsupported figure format {ext!r} for {os.fspath(path)!r}; use one of {sorted(supported)}"
        )
    with atomic_write(path) as tmp:
        fig.savefig(tmp, format=ext, dpi=dpi, bbox_inches="tight")


def finish(fig: Figure, save: str | os.PathLike | None) -> Figure:
    """Save ``fig`` when ``save`` is a path; return it."""
    if save is not None:
        save_figure(fig, save)
    return fig


def legend_outside(ax: Any, title: str | None = None, **kwargs: Any) -> Any:
    """The legend of ``ax`` to the right of its data area (never over bars or lines); None if nothing is labelled."""
    handles, labels = ax.get_legend_handles_labels()
    if not handles:
        return None
    options = {"loc": "upper left", "bbox_to_anchor": (1.02, 1.0), "borderaxespad": 0.0, "fontsize": 8}
    return ax.legend(handles, labels, title=title, frameon=False, **{**options, **kwargs})


def legend_below(fig: Figure, axes: Sequence[Any], ncol: int | None = None) -> Any:
    """One legend for all ``axes`` (labels deduplicated), centred under the panels."""
    seen: dict[str, Any] = {}
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            seen.setdefault(label, handle)
    if not seen:
        return None
    return fig.legend(
        list(seen.values()),
        list(seen),
        loc="outside lower center",
        ncol=ncol or min(len(seen), 4),
        fontsize=8,
        frameon=False,
    )


def integer_ticks(ax: Any, axis: str = "x") -> None:
    """Only whole numbers on ``axis`` ("x", "y" or "both"): Hamming distances and bit lengths are integers."""
    for name in ("x", "y") if axis == "both" else (axis,):
        getattr(ax, f"{name}axis").set_major_locator(MaxNLocator(integer=True))
