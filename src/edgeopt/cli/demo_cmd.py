"""``edgeopt demo``: the whole flow on the bundled MNIST subset, no arguments needed."""

from __future__ import annotations

from pathlib import Path

import typer

from edgeopt.cli.common import console


def demo(
    out: Path = typer.Option(Path("runs/demo"), "--out", "-o", help="Run directory."),
    epochs: int = typer.Option(None, "--epochs", "-e", min=1, help="Override the baseline's training epochs."),
    seed: int = typer.Option(0, "--seed"),
) -> None:
    """Train a small MobileNet on mnist5k, profile it and write results.json.

    Grows with each capability: later stages (pruning, quantization, export, report) join it.
    """
    from edgeopt.analysis import format_profile_table
    from edgeopt.demo import run_demo

    result = run_demo(out, epochs=epochs, seed=seed)
    console.print(format_profile_table(result.profile, max_rows=0))
    console.print(
        f"[bold]baseline[/] {result.model_name} {result.model_kwargs}: test accuracy "
        f"[bold]{result.test_accuracy:.2%}[/] on {result.test_size} held-out images, "
        f"{result.profile.params:,} params, {result.profile.macs:,} MACs, trained in {result.train_seconds:.0f} s"
    )
    console.print(f"results: {result.results_path}")
