"""Plumbing shared by the report's plots: the Agg backend, atomic PNG output, colours, scales."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib

# Agg renders to files without a display; the report runs on headless servers and in CI.
matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.ticker import FuncFormatter

from edgeopt.utils import atomic_path

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

DPI = 110
# One colour per technique everywhere in the report, so a reader learns it once.
TECHNIQUE_COLOURS = {
    "baseline": "#444444",
    "fuse": "#1f77b4",
    "prune": "#d62728",
    "distill": "#2ca02c",
    "quantize": "#9467bd",
    "search": "#ff7f0e",
}
_SPARE_COLOURS = ("#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f")
# Beyond this max/min ratio a linear axis squeezes the small values into one corner.
LOG_RANGE = 30.0


@dataclass(frozen=True)
class Plot:
    """A rendered plot (``path``) or the reason there is none, plus a note for the reader."""

    title: str
    path: Path | None
    note: str = ""


def technique_colour(technique: str, seen: list[str]) -> str:
    """Fixed colour for known techniques; unknown ones get spare colours in order of appearance."""
    if technique in TECHNIQUE_COLOURS:
        return TECHNIQUE_COLOURS[technique]
    if technique not in seen:
        seen.append(technique)
    return _SPARE_COLOURS[seen.index(technique) % len(_SPARE_COLOURS)]


def wants_log(values: list[float]) -> bool:
    """True if positive ``values`` span more than :data:`LOG_RANGE`."""
    positive = [v for v in values if v > 0]
    return bool(positive) and max(positive) / min(positive) > LOG_RANGE


def set_log_x(ax: Axes, fmt: Callable[[float], str], values: list[float]) -> None:
    """Log-scale the x axis; on short ranges (< 100×) also label the 2× and 5× minor ticks,
    since one or two decade labels alone do not let a reader place a value."""
    ax.set_xscale("log")
    positive = [v for v in values if v > 0]
    if positive and max(positive) / min(positive) < 100:

        def label(value: float, _pos: int) -> str:
            return fmt(value) if f"{value:e}"[0] in "25" else ""

        ax.xaxis.set_minor_formatter(FuncFormatter(label))
        ax.tick_params(axis="x", which="minor", labelsize=8)


def new_figure(width: float = 8.0, height: float = 5.0) -> tuple[Figure, Axes]:
    """A figure with one grid-lined axes, in the report's size."""
    # Constrained layout keeps an outside legend and long labels inside the picture.
    fig, ax = plt.subplots(figsize=(width, height), dpi=DPI, layout="constrained")
    ax.grid(True, which="major", alpha=0.3)
    return fig, ax


def new_panels(ncols: int, width: float, height: float) -> tuple[Figure, list[Axes]]:
    """A row of ``ncols`` axes sharing the y axis (one row label column for all panels)."""
    fig, axes = plt.subplots(1, ncols, figsize=(width, height), dpi=DPI, sharey=True, layout="constrained")
    return fig, list(axes)


def save_png(fig: Figure, path: Path) -> Path:
    """Write ``fig`` to ``path`` as PNG atomically, close it, and return the path."""
    with atomic_path(path) as tmp:
        # The temporary name ends in .tmp, so the format must be given explicitly.
        fig.savefig(tmp, format="png", dpi=DPI)
    plt.close(fig)
    return path


def pad_limits(ax: Axes, values: list[float], log: bool, axis: str = "x") -> None:
    """Leave room around the extreme points so their labels stay inside the frame."""
    lo, hi = min(values), max(values)
    if log:
        lo, hi = lo / 1.6, hi * 1.6
    else:
        span = (hi - lo) or abs(hi) or 1.0
        # Sizes and latencies are never negative; an axis that starts below zero looks wrong.
        lo, hi = max(lo - 0.12 * span, 0.0 if lo >= 0 else lo - 0.12 * span), hi + 0.25 * span
    (ax.set_xlim if axis == "x" else ax.set_ylim)(lo, hi)
