"""Per-layer bars of params, MACs and activation memory: the baseline beside the final candidate."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

from edgeopt.report.figure import TECHNIQUE_COLOURS, Plot, new_panels, save_png, set_log_x, wants_log
from edgeopt.report.schema import CandidateResult, RunResults
from edgeopt.report.units import tick_bytes, tick_count

if TYPE_CHECKING:
    from matplotlib.axes import Axes

# More rows than this make the bars unreadable; the heaviest layers by MACs are kept.
MAX_LAYERS = 24
_PANELS = (("params", "parameters", tick_count), ("macs", "MACs (multiply-adds)", tick_count),
           ("activation_bytes", "output activation memory", tick_bytes))
_FINAL_COLOUR = "#e6550d"


def layer_plot(results: RunResults, path: Path, max_layers: int = MAX_LAYERS) -> Plot:
    """Bars per compute layer (those with MACs) for the baseline and the last candidate."""
    title = "Per-layer cost"
    base, final = results.baseline(), results.candidates[-1]
    cands = [base] if final is base else [base, final]
    missing = [c.name for c in cands if not _layers(c)]
    if missing:
        return Plot(title, None, f"Skipped: no per-layer profile for {', '.join(missing)}.")
    names = _row_names(cands)
    shown = _heaviest(names, cands, max_layers)
    fig = _draw(cands, shown)
    note = f"Layers with MACs (conv, linear, matmul) of {' and '.join(c.name for c in cands)}, in execution order."
    if len(shown) < len(names):
        note += f" Only the {len(shown)} heaviest of {len(names)} layers by MACs are shown."
    save_png(fig, path)
    return Plot(title, path, note)


def _layers(cand: CandidateResult) -> dict[str, dict[str, Any]]:
    """Rows with MACs, by name, in execution order."""
    rows = (cand.profile or {}).get("layers") or []
    return {row["name"]: row for row in rows if row.get("macs", 0) > 0}


def _row_names(cands: list[CandidateResult]) -> list[str]:
    """Union of layer names, baseline order first (a pruned model keeps its layer names)."""
    names: dict[str, None] = {}
    for cand in cands:
        names.update(dict.fromkeys(_layers(cand)))
    return list(names)


def _heaviest(names: list[str], cands: list[CandidateResult], limit: int) -> list[str]:
    """The ``limit`` names with the most MACs in any candidate, kept in execution order."""
    if len(names) <= limit:
        return names
    tables = [_layers(c) for c in cands]
    weight = {n: max(t.get(n, {}).get("macs", 0) for t in tables) for n in names}
    keep = set(sorted(names, key=lambda n: -weight[n])[:limit])
    return [n for n in names if n in keep]


def _draw(cands: list[CandidateResult], names: list[str]) -> Figure:
    height = 1.8 + 0.22 * len(names) * (1.4 if len(cands) > 1 else 1.0)
    fig, axes = new_panels(3, 10.5, height)
    for ax, (key, label, fmt) in zip(axes, _PANELS, strict=True):
        _panel(ax, cands, names, key, label, fmt)
    axes[0].set_yticks(range(len(names)), names, fontsize=9)
    axes[0].set_ylim(len(names) - 0.5, -0.5)  # reversed: execution order reads top to bottom
    fig.suptitle("Per-layer cost, in execution order", fontsize=12)
    fig.legend(loc="outside lower center", ncol=2, fontsize=10, frameon=False,
               handles=axes[0].get_legend_handles_labels()[0])
    return fig


def _panel(ax: Axes, cands: list[CandidateResult], names: list[str], key: str, label: str,
           fmt: Callable[[float], str]) -> None:
    """Grouped horizontal bars of one quantity: one bar per candidate per layer."""
    bar_h = 0.8 / len(cands)
    values_all: list[float] = []
    for i, cand in enumerate(cands):
        table = _layers(cand)
        values = [table.get(n, {}).get(key, 0) for n in names]
        values_all += values
        offset = (i - (len(cands) - 1) / 2) * bar_h
        colour = TECHNIQUE_COLOURS["baseline"] if i == 0 else _FINAL_COLOUR
        ax.barh([y + offset for y in range(len(names))], values, height=bar_h, color=colour,
                label=f"{cand.name} ({cand.technique})")
    if wants_log(values_all):
        set_log_x(ax, fmt, values_all)
        label += ", log scale"
    else:
        ax.xaxis.set_major_locator(MaxNLocator(4))  # fewer, wider-spaced byte labels
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _p: fmt(v)))
    ax.set_title(label, fontsize=10)
    ax.grid(True, axis="x", alpha=0.3)
