"""The report's architecture-search section, read from a search's ``front.json`` as plain data.

Where a front is found (:func:`find_fronts`): ``RUN_DIR/front.json`` (a run directory of
``edgeopt search``) and ``RUN_DIR/steps/*/search/front.json`` (a recipe's ``search`` step). Each
gets a plot of validation accuracy against latency (every feasible trial faint, the front
highlighted, the finalists' measured int8 files as a second series), the hypervolume, and tables
of the front and the finalists. This module reads files only: the report sits below ``search``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from edgeopt.report.figure import new_figure, save_png
from edgeopt.report.markup import Markup, join, png_data_uri, table, tag
from edgeopt.utils.units import format_bytes, format_count

FRONT_FILE = "front.json"


def find_fronts(run_dir: Path) -> list[Path]:
    """The ``front.json`` files of ``run_dir``: its own, then its search steps' (in step order)."""
    own = [run_dir / FRONT_FILE] if (run_dir / FRONT_FILE).is_file() else []
    return own + sorted(run_dir.glob(f"steps/*/search/{FRONT_FILE}"))


def search_sections(run_dir: Path, plots_dir: Path) -> Markup:
    """One block per front found in ``run_dir`` (empty markup when there is none)."""
    blocks = []
    for index, path in enumerate(find_fronts(run_dir)):
        front = json.loads(path.read_text(encoding="utf-8"))
        title = "Architecture search" + ("" if path.parent == run_dir else f" · {path.parent.parent.name}")
        blocks.append(search_block(front, title, plots_dir / f"search-{index}.png"))
    return join(blocks)


def search_block(front: dict[str, Any], title: str, plot_path: Path) -> Markup:
    """Facts, plot and tables of one ``front.json``."""
    unit = _unit(front)
    parts = [tag("h2", title), _facts(front), _plot(front, plot_path, unit),
             tag("h3", "Pareto front (validation accuracy of inherited weights)"),
             tag("div", table(["trial", "architecture", "val accuracy", f"latency ({unit})", "MACs", "params",
                               "peak SRAM (int8)", "flash (int8)"],
                              [_front_row(r) for r in front.get("front", [])], numeric_from=2, class_="summary"),
                 class_="scroll")]
    if any(t.get("peak_sram_int8") is not None for t in front.get("all_trials") or []) and _bounded(front):
        parts.append(_memory_plot(front, plot_path.with_name(plot_path.stem + "-memory.png")))
    finalists = front.get("finalists") or []
    if finalists:
        parts += [tag("h3", "Finalists (measured on their files; test accuracy)"),
                  tag("div", table(["trial", "architecture", "int8 accuracy", "int8 latency", "fp32 accuracy",
                                    "fp32 latency", "int8 file", "peak SRAM (int8)", "bounds", ""],
                                   [_finalist_row(f, front.get("winner")) for f in finalists], numeric_from=2,
                                   class_="summary"), class_="scroll")]
    baselines = front.get("baselines") or []
    if baselines:
        parts += [tag("h3", "Baselines (measured the same way; test accuracy)"),
                  tag("div", table(["model", "int8 accuracy", "int8 latency", "fp32 accuracy", "fp32 latency",
                                    "int8 file", "peak SRAM (int8)", "flash (int8)", "bounds"],
                                   [_baseline_row(b) for b in baselines], numeric_from=1, class_="summary"),
                      class_="scroll")]
    return join(parts)


def _bounded(front: dict[str, Any]) -> bool:
    """Whether the search had bounds (its rows carry constraint values)."""
    return any(row.get("constraints") for row in front.get("front") or [])


def _baseline_row(row: dict[str, Any]) -> list[object]:
    int8, fp32, cost = row.get("int8") or {}, row.get("fp32") or {}, row.get("cost") or {}
    return [row.get("label", "?"), _pct(int8.get("accuracy")), _ms(int8.get("latency_ms")),
            _pct(fp32.get("accuracy")), _ms(fp32.get("latency_ms")), format_bytes(int8.get("size_bytes")),
            format_bytes(cost.get("peak_sram_int8")), format_bytes(cost.get("weight_bytes_int8")),
            "met" if row.get("meets_bounds") else "missed"]


def _memory_plot(front: dict[str, Any], path: Path) -> Markup:
    """Accuracy against int8 peak SRAM: what a microcontroller target trades."""
    trials = [t for t in front.get("all_trials") or [] if t.get("peak_sram_int8") is not None]
    fig, ax = new_figure()
    for feasible, color, label in ((True, "#2ca02c", "within the bounds"), (False, "#d62728", "over a bound")):
        chosen = [t for t in trials if bool(t.get("feasible")) is feasible]
        ax.scatter([t["peak_sram_int8"] / 1024 for t in chosen], [t["accuracy"] for t in chosen], s=14, alpha=0.5,
                   color=color, label=f"trials {label} (val)")
    ax.set_xlabel("peak SRAM at int8 (KiB)")
    ax.set_ylabel("accuracy (%)")
    ax.legend(loc="best")
    save_png(fig, path)
    img = Markup(f'<img src="{png_data_uri(path)}" alt="accuracy against peak SRAM">')
    return tag("figure", img, tag("figcaption", "Validation accuracy of inherited weights against the int8 peak "
                                  "activation memory each trial needs; red trials break a bound."))


def _facts(front: dict[str, Any]) -> Markup:
    volume = front.get("hypervolume")
    winner = front.get("winner")
    text = (f"{front.get('trials_total', '?')} trials in study {front.get('study', '?')}; "
            f"{len(front.get('front', []))} on the front; hypervolume "
            f"{'—' if volume is None else f'{volume:.4g}'} (accuracy × latency, against 0 % and the slowest trial)")
    if front.get("interrupted"):
        text += "; interrupted before every trial ran"
    text += f". Winner: trial {winner['number']} {winner['label']}." if winner else ". No winner."
    return tag("p", text, class_="muted")


def _plot(front: dict[str, Any], path: Path, unit: str) -> Markup:
    trials = [t for t in front.get("all_trials") or [] if t.get("feasible") and t.get("latency") is not None]
    members = sorted(front.get("front", []), key=lambda r: float(r["latency"]))
    if not members:
        return tag("p", "No feasible trial: nothing to plot.", class_="muted")
    fig, ax = new_figure()
    ax.scatter([t["latency"] for t in trials], [t["accuracy"] for t in trials], s=14, alpha=0.25, color="#7f7f7f",
               label="feasible trials (val)")
    ax.plot([r["latency"] for r in members], [r["accuracy"] for r in members], "o-", color="#ff7f0e",
            label="Pareto front (val)")
    ax.set_xlabel(f"latency ({unit}, as searched)")
    ax.set_ylabel("accuracy (%)")
    finalists = [f for f in front.get("finalists") or [] if f.get("int8", {}).get("accuracy") is not None]
    other = ax
    if finalists:
        # Measured in ms on the file: a second x axis when the search used another unit.
        other = ax if unit == "ms" else ax.twiny()
        other.scatter([f["int8"]["latency_ms"] for f in finalists], [f["int8"]["accuracy"] for f in finalists],
                      marker="D", s=40, color="#1f77b4", label="finalists, int8 file (test)")
    baselines = [b for b in front.get("baselines") or [] if b.get("int8", {}).get("accuracy") is not None]
    if baselines:
        other = ax if unit == "ms" else (other if finalists else ax.twiny())
        other.scatter([b["int8"]["latency_ms"] for b in baselines], [b["int8"]["accuracy"] for b in baselines],
                      marker="s", s=40, color="#d62728", label="baselines, int8 file (test)")
    if (finalists or baselines) and other is not ax:
        other.set_xlabel("int8 file latency (ms, measured)")
        other.legend(loc="lower right")
    ax.legend(loc="lower left" if other is not ax else "best")
    save_png(fig, path)
    img = Markup(f'<img src="{png_data_uri(path)}" alt="architecture search front">')
    return tag("figure", img, tag("figcaption", "Validation accuracy of inherited weights against the searched "
                                  "latency; diamonds: the finalists' int8 files, squares: the baselines' int8 "
                                  "files, measured (test accuracy, ms)."))


def _front_row(row: dict[str, Any]) -> list[object]:
    cost = row.get("cost") or {}
    return [row.get("number", "?"), row.get("label") or _label(row), _pct(row.get("accuracy")),
            _num(row.get("latency")),
            format_count(cost.get("macs")), format_count(cost.get("params")),
            format_bytes(cost.get("peak_sram_int8")), format_bytes(cost.get("weight_bytes_int8"))]


def _finalist_row(row: dict[str, Any], winner: dict[str, Any] | None) -> list[object]:
    int8, fp32, cost = row.get("int8") or {}, row.get("fp32") or {}, row.get("cost") or {}
    is_winner = winner is not None and winner.get("number") == row.get("number")
    return [row.get("number", "?"), row.get("label") or _label(row), _pct(int8.get("accuracy")),
            _ms(int8.get("latency_ms")), _pct(fp32.get("accuracy")), _ms(fp32.get("latency_ms")),
            format_bytes(int8.get("size_bytes")), format_bytes(cost.get("peak_sram_int8")),
            "met" if row.get("meets_bounds") else "missed", tag("strong", "winner") if is_winner else ""]


def _label(row: dict[str, Any]) -> str:
    """The architecture's label from the row's arch JSON (``w0.75 r160 d[1,2,3]``)."""
    try:
        arch = json.loads(row.get("arch") or "{}")
    except json.JSONDecodeError:
        return "?"
    # The same text as Arch.label(): a stage is its list of blocks.
    depths = ",".join(str(len(stage)) for stage in arch.get("stages", []))
    return f"w{arch.get('width', '?')} r{arch.get('resolution', '?')} d[{depths}]"


def _unit(front: dict[str, Any]) -> str:
    rows = front.get("front") or []
    return str(rows[0].get("latency_unit", "ms")) if rows else "ms"


def _pct(value: Any) -> str:
    return "—" if value is None else f"{float(value):.2f}%"


def _ms(value: Any) -> str:
    return "—" if value is None else f"{float(value):.3f} ms"


def _num(value: Any) -> str:
    return "—" if value is None else f"{float(value):.4g}"
