"""The trade-off plots: accuracy against model size and against measured latency."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from matplotlib.artist import Artist
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter

from edgeopt.report.figure import Plot, new_figure, pad_limits, save_png, set_log_x, technique_colour, wants_log
from edgeopt.report.labels import place_labels
from edgeopt.report.layer_plot import layer_plot
from edgeopt.report.pareto import pareto_front
from edgeopt.report.schema import RunResults
from edgeopt.report.summary import SIZE_LABELS, headline_config, headline_size, timing
from edgeopt.report.units import fmt_ms, tick_bytes

if TYPE_CHECKING:
    from matplotlib.axes import Axes

# Marker per size source, so a mixed plot shows which points are shipped files.
_SIZE_MARKERS = {"artifact": "o", "checkpoint": "s", "params": "^"}


@dataclass(frozen=True)
class _Point:
    name: str
    technique: str
    x: float
    accuracy: float  # a fraction; plotted in percent
    marker: str = "o"
    x_err: float = 0.0


def make_plots(results: RunResults, out_dir: str | Path) -> list[Plot]:
    """Render every plot of the report into ``out_dir``; skipped plots say why in their note."""
    out = Path(out_dir)
    return [
        accuracy_vs_size(results, out / "accuracy_vs_size.png"),
        accuracy_vs_latency(results, out / "accuracy_vs_latency.png"),
        layer_plot(results, out / "layers.png"),
    ]


def accuracy_vs_size(results: RunResults, path: Path) -> Plot:
    """Test accuracy against size for every candidate, with the Pareto front drawn."""
    points, sources = [], []
    for cand in results.candidates:
        size, source = headline_size(cand)
        sources.append(source)
        points.append(_Point(cand.name, cand.technique, size, cand.metrics.test_accuracy, _SIZE_MARKERS[source]))
    used = [s for s in SIZE_LABELS if s in sources]
    if len(used) == 1:
        xlabel, marker_legend = f"model size: {SIZE_LABELS[used[0]]}", []
    else:
        xlabel = "model size: " + ", else ".join(SIZE_LABELS[s] for s in used) + " (marker shape)"
        marker_legend = [Line2D([], [], marker=_SIZE_MARKERS[s], linestyle="", color="#777777",
                                label=SIZE_LABELS[s]) for s in used]
    title = "Accuracy vs model size"
    _draw(points, path, title, xlabel, "test accuracy (%)", tick_bytes, marker_legend)
    return Plot(title, path, "Ringed points joined by the step line form the Pareto front: no other "
                "candidate is both smaller and more accurate. The line shows the best accuracy within a size budget.")


def accuracy_vs_latency(results: RunResults, path: Path) -> Plot:
    """Accuracy against measured median latency (bars reach p90), one point per measured candidate."""
    title = "Accuracy vs measured latency"
    config = headline_config(results)
    if config is None:
        return Plot(title, None, "Skipped: no artifact of this run has a latency measurement yet.")
    points, measured_acc, missing = [], [], []
    for cand in results.candidates:
        best = timing(cand, config)
        if best is None:
            missing.append(cand.name)
            continue
        m = best.measurement
        measured_acc.append(m.accuracy is not None)
        acc = m.accuracy if m.accuracy is not None else cand.metrics.test_accuracy
        x_err = (m.latency_ms_p90 - m.latency_ms_median) if m.latency_ms_p90 else 0.0
        points.append(_Point(cand.name, cand.technique, m.latency_ms_median, acc, x_err=max(x_err, 0.0)))
    ylabel = _accuracy_label(measured_acc)
    _draw(points, path, f"{title} ({config.label()})", "median latency, bar to p90", ylabel, fmt_ms)
    note = f"Measured with {config.label()}; the fastest artifact of each candidate is shown."
    if missing:
        note += f" Not measured in this configuration: {', '.join(missing)}."
    return Plot(title, path, note)


def _accuracy_label(measured: list[bool]) -> str:
    """Say whose accuracy is plotted: the artifact's where it was measured, else the eager model's."""
    if all(measured):
        return "accuracy of the measured artifact (%)"
    return "test accuracy (%)" if not any(measured) else "artifact accuracy, else test accuracy (%)"


def _draw(
    points: list[_Point], path: Path, title: str, xlabel: str, ylabel: str,
    fmt: Callable[[float], str], extra_legend: Sequence[Artist] = (),
) -> None:
    fig, ax = new_figure(9.0, 5.0)
    seen: list[str] = []
    for p in points:
        colour = technique_colour(p.technique, seen)
        ax.errorbar(
            p.x, p.accuracy * 100, xerr=[[0.0], [p.x_err]] if p.x_err else None, fmt=p.marker,
            color=colour, markersize=8, capsize=3, zorder=3,
        )
    _draw_front(ax, points)
    xs = [p.x + p.x_err for p in points] + [p.x for p in points]
    log = wants_log(xs)
    if log:
        set_log_x(ax, fmt, xs)
    pad_limits(ax, xs, log, "x")
    pad_limits(ax, [p.accuracy * 100 for p in points], False, "y")
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: fmt(v)))
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    # Outside the axes, so no legend ever hides a point or a label.
    ax.legend(handles=_legend(points) + list(extra_legend), loc="upper left", bbox_to_anchor=(1.01, 1.0),
              fontsize=9)
    place_labels(ax, [(p.x, p.accuracy * 100) for p in points], [p.name for p in points])
    save_png(fig, path)


def _draw_front(ax: Axes, points: list[_Point]) -> None:
    """Ring the Pareto-optimal points and join them with a step line (best accuracy per budget)."""
    front = [points[i] for i in pareto_front([(p.x, p.accuracy) for p in points])]
    xs, ys = [p.x for p in front], [p.accuracy * 100 for p in front]
    ax.step(xs, ys, where="post", color="#2b8cbe", linewidth=1.5, alpha=0.8, zorder=2)
    ax.scatter(xs, ys, s=260, facecolors="none", edgecolors="#2b8cbe", linewidths=1.6, zorder=4)


def _legend(points: list[_Point]) -> list[Artist]:
    # Colour swatches, not markers: the marker shape says which size was used (see the x label).
    seen: list[str] = []
    handles: list[Artist] = [
        Patch(color=technique_colour(t, seen), label=t) for t in dict.fromkeys(p.technique for p in points)
    ]
    handles.append(
        Line2D([], [], color="#2b8cbe", marker="o", markerfacecolor="none", markersize=11, label="Pareto front")
    )
    return handles
