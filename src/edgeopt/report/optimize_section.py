"""The report's ``edgeopt optimize`` section, read from a run's ``answer.json`` as plain data.

Everything tried is one point per deployment (a file in a runtime, at a precision and a thread
count): test accuracy against latency, coloured by precision, with the baseline's reference and
the chosen artifact marked; then the answer, each step's gate (kept or rolled back, with the
latency ratio and its interval) and the run's notes. This module reads files only: the report
sits below ``optimize``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from edgeopt.report.figure import new_figure, save_png
from edgeopt.report.markup import Markup, join, png_data_uri, table, tag
from edgeopt.utils.units import format_bytes

ANSWER_FILE = "answer.json"
_COLORS = {"fp32": "#1f77b4", "bf16": "#9467bd", "int8": "#2ca02c"}
_MARKERS = {"onnxruntime": "o", "openvino": "s", "executorch": "^"}


def has_answer(run_dir: Path) -> bool:
    """Whether ``run_dir`` is an ``edgeopt optimize`` run directory with an answer."""
    return (run_dir / ANSWER_FILE).is_file()


def optimize_section(run_dir: Path, plots_dir: Path) -> Markup:
    """Facts, plot and tables of ``run_dir/answer.json`` (empty markup when there is none)."""
    if not has_answer(run_dir):
        return join([])
    answer = json.loads((run_dir / ANSWER_FILE).read_text(encoding="utf-8"))
    parts = [tag("h2", "edgeopt optimize"), _facts(answer), _plot(answer, plots_dir / "optimize.png")]
    chosen, reference = answer.get("chosen"), answer.get("reference")
    if chosen and reference:
        parts += [tag("h3", "Answer (latency from the side-by-side confirmation; test accuracy on the file)"),
                  tag("div", table(["", "pipeline", "runs in", "latency", "test accuracy", "size"],
                                   [_answer_row("baseline", reference), _answer_row("chosen", chosen)],
                                   numeric_from=3, class_="summary"), class_="scroll")]
    if answer.get("steps"):
        parts += [tag("h3", "Steps, each gated against the last kept artifact"),
                  tag("div", table(["step", "parent ms", "child ms", "ratio", "90% interval", "verdict", ""],
                                   [_step_row(s) for s in answer["steps"]], numeric_from=1, class_="summary"),
                      class_="scroll")]
    notes = answer.get("notes") or []
    if notes:
        parts.append(tag("ul", join([tag("li", n) for n in notes])))
    return join(parts)


def _facts(answer: dict[str, Any]) -> Markup:
    target = answer.get("target") or {}
    speedup = answer.get("speedup")
    text = (f"{answer.get('trials', '?')} trials; target {target.get('display_name', '?')} "
            f"(reduce_range {target.get('reduce_range')}: {target.get('reduce_range_reason', '')}). ")
    text += f"Chosen artifact {speedup:.2f}× the baseline's speed." if speedup else "No artifact chosen."
    if answer.get("budget_hit"):
        text += " The time budget stopped the trials; this is the best found so far."
    return tag("p", text, class_="muted")


def _plot(answer: dict[str, Any], path: Path) -> Markup:
    rows = [r for r in answer.get("rows") or [] if r.get("latency_ms") is not None and r.get("accuracy_test")
            is not None]
    if not rows:
        return tag("p", "Nothing measured: nothing to plot.", class_="muted")
    fig, ax = new_figure()
    for precision, color in _COLORS.items():
        for runtime, marker in _MARKERS.items():
            group = [r for r in rows if r.get("precision") == precision and r.get("runtime") == runtime]
            if group:
                ax.scatter([r["latency_ms"] for r in group], [r["accuracy_test"] for r in group], s=16, alpha=0.6,
                           color=color, marker=marker, label=f"{runtime} {precision}")
    for key, color, label in (("reference", "#7f7f7f", "baseline (fp32, best runtime)"),
                              ("chosen", "#d62728", "chosen")):
        row = answer.get(key)
        if row:
            ax.scatter([row.get("confirmed_ms") or row["latency_ms"]], [row["accuracy_test"]], s=120,
                       facecolors="none", edgecolors=color, linewidths=2, label=label)
    ax.set_xlabel("latency (ms, measured on the file)")
    ax.set_ylabel("test accuracy (%)")
    ax.legend(loc="best", fontsize="small")
    save_png(fig, path)
    img = Markup(f'<img src="{png_data_uri(path)}" alt="accuracy against latency of everything tried">')
    return tag("figure", img, tag("figcaption", "Every deployment tried: test accuracy on the file against its "
                                  "latency in the trial's interleaved timing; circled: the baseline's reference "
                                  "and the chosen artifact (their confirmed latency)."))


def _answer_row(name: str, row: dict[str, Any]) -> list[object]:
    latency = row.get("confirmed_ms") or row.get("latency_ms")
    return [name, row.get("pipeline", "?"), row.get("label", "?"), _ms(latency), _pct(row.get("accuracy_test")),
            format_bytes(row.get("size_bytes"))]


def _step_row(step: dict[str, Any]) -> list[object]:
    gate = step.get("gate") or {}
    if not gate:
        return [step.get("step", "?"), "—", "—", "—", "—", step.get("reason", "—"), "rolled back"]
    interval = f"[{gate.get('low', 0):.3f}, {gate.get('high', 0):.3f}]"
    return [step.get("step", "?"), _ms(gate.get("parent_ms")), _ms(gate.get("child_ms")),
            f"{gate.get('ratio', 0):.3f}", interval, gate.get("verdict", "?"),
            "kept" if step.get("kept") else "rolled back"]


def _pct(value: Any) -> str:
    return "—" if value is None else f"{float(value):.2f}%"


def _ms(value: Any) -> str:
    return "—" if value is None else f"{float(value):.4f} ms"
