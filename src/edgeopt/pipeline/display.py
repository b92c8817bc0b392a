"""What a run prints: a line when each step starts and ends, and the final summary table."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from rich.console import Console
from rich.table import Table

from edgeopt.pipeline.candidate import Candidate


def step_label(step_type: str, name: str) -> str:
    """``prune.structured (prune)``, or just the type when the name is the type."""
    return step_type if name == step_type else f"{step_type} ({name})"


def step_started(console: Console, number: int, total: int, step_type: str, name: str) -> None:
    """``step 2/6 · prune.structured (prune)``."""
    console.rule(f"[bold]step {number}/{total}[/] · {step_label(step_type, name)}", align="left")


def step_skipped(console: Console, number: int, total: int, step_type: str, name: str) -> None:
    """A finished step that a resume keeps."""
    console.print(f"[dim]step {number}/{total} · {step_label(step_type, name)}: finished earlier, kept[/]")


def step_finished(console: Console, cand: Candidate, seconds: float, notes: Any = ()) -> None:
    """Accuracy, parameters, MACs and the smallest file of the step's candidate, then the
    step's own ``notes`` (e.g. what bench measured)."""
    from edgeopt.analysis.tables import format_bytes, format_count

    m = cand.metrics
    parts = [f"[bold]{cand.name}[/]"]
    if "test_accuracy" in m:
        source = " (on its int8 artifact)" if m.get("accuracy_source") == "artifact" else ""
        parts.append(f"test accuracy {m['test_accuracy']:.2%}{source}")
    if "params" in m:
        parts.append(f"{format_count(m['params'])} params, {format_count(m['macs'])} MACs")
    if cand.artifacts:
        smallest = min(cand.artifacts, key=lambda a: a.size_bytes)
        parts.append(f"{smallest.path} {format_bytes(smallest.size_bytes)}")
    console.print(" · ".join(parts) + f" [dim]({seconds:.1f} s)[/]")
    for note in notes:
        console.print(f"  {note}", highlight=False)


# Short labels of where a size comes from (edgeopt.report.summary.SIZE_SOURCES).
_SOURCE = {"artifact": "file", "checkpoint": "ckpt", "params": "params"}


@contextlib.contextmanager
def working(console: Console, text: str, enabled: bool) -> Iterator[None]:
    """A spinner while a step without its own progress bar works (terminals only)."""
    if enabled and console.is_terminal:
        with console.status(text):
            yield
    else:
        yield


def summary_table(results: Any) -> Table:
    """Every candidate against the baseline: accuracy, size and measured latency."""
    from edgeopt.analysis.tables import format_bytes
    from edgeopt.report import summary_rows

    table = Table(title="candidates vs baseline (size: smallest file, else checkpoint; latency: measured)")
    for header in ("candidate", "test acc", "Δ pts", "size", "smaller", "ms", "faster"):
        table.add_column(header, justify="left" if header == "candidate" else "right", no_wrap=True)
    for row in summary_rows(results):
        cand = row.candidate
        latency = row.timing.measurement.latency_ms_median if row.timing else None
        label = cand.name if cand.name == cand.technique else f"{cand.name} ({cand.technique})"
        table.add_row(
            label, f"{cand.metrics.test_accuracy:.2%}", f"{row.accuracy_delta_points:+.2f}",
            f"{format_bytes(row.size_bytes)} {_SOURCE.get(row.size_source or '', '')}" if row.size_bytes else "-",
            f"{1 / row.size_ratio:.1f}×" if row.size_ratio else "-",
            f"{latency:.3f}" if latency is not None else "-",
            f"{1 / row.latency_ratio:.2f}×" if row.latency_ratio else "-",
        )
    return table
