"""``edgeopt demo``: the bundled demo recipe on the MNIST subset, no arguments needed."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.table import Table

from edgeopt.cli.common import console

if TYPE_CHECKING:
    from edgeopt.demo import Gain


def demo(
    out: Path = typer.Option(
        Path("runs/demo"), "--out", "-o", help="Run directory (an earlier demo run there is replaced)."
    ),
    resume: bool = typer.Option(False, "--resume", help="Continue an interrupted demo run; finished steps are kept."),
    recipe: Path = typer.Option(
        None, "--recipe", help="Run another recipe the same way (default: the bundled demo.yaml)."
    ),
) -> None:
    """Shrink a MobileNet on mnist5k step by step and measure every stage.

    Runs the bundled recipe (recipes/demo.yaml): train a MobileNetV1 baseline and a larger teacher,
    structured prune + fine-tune, distill, fuse, int8 quantize (ONNX Runtime and ExecuTorch), export
    the fp32 baseline, bench every artifact side by side, then print the gains and write
    results.json and report.html. Same as `edgeopt run recipes/demo.yaml -o runs/demo --force`.
    """
    from edgeopt.demo import run_demo

    summary = run_demo(out, recipe=recipe, resume=resume, console=console)
    if summary.gains:
        console.print(_gains_table(summary.gains))
    console.print(f"demo finished in {summary.seconds / 60:.1f} min")
    console.print(f"results: {summary.results_path}")
    console.print(f"report:  {summary.report_path}")


def _gains_table(gains: list[Gain]) -> Table:
    table = Table(title="final int8 artifact vs fp32 baseline (measured on the artifacts, one bench run)")
    for col in ("runtime", "baseline", "final", "smaller", "faster", "accuracy baseline → final"):
        table.add_column(col, justify="right" if col in ("smaller", "faster") else "left")
    for g in gains:
        acc = (
            f"{g.baseline_accuracy:.2%} → {g.final_accuracy:.2%}"
            if g.baseline_accuracy is not None and g.final_accuracy is not None
            else "n/a"
        )
        table.add_row(g.runtime, g.baseline_path, g.final_path, f"{g.size_ratio:.1f}×", f"{g.speedup:.2f}×", acc)
    return table
