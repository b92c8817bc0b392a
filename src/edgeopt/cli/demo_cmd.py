"""``edgeopt demo``: the whole flow on the bundled MNIST subset, no arguments needed."""

from __future__ import annotations

from pathlib import Path

import typer

from edgeopt.cli.common import console


def demo(
    out: Path = typer.Option(Path("runs/demo"), "--out", "-o", help="Run directory."),
    epochs: int = typer.Option(None, "--epochs", "-e", min=1, help="Override the baseline's training epochs (20)."),
    seed: int = typer.Option(0, "--seed"),
    target: str = typer.Option("raspberry-pi-4", "--target", "-t", help="Device to check the fit on (edgeopt devices)."),
) -> None:
    """Train a small MobileNet on mnist5k, profile, export to ONNX, measure, check the fit, report.

    Grows with each capability: pruning, quantization and distillation stages join it.
    """
    from edgeopt.analysis import format_profile_table
    from edgeopt.demo import run_demo
    from edgeopt.analysis.tables import format_bytes

    result = run_demo(out, epochs=epochs, seed=seed, target=target)
    console.print(format_profile_table(result.profile, max_rows=12))
    art = result.artifact
    (measured,) = art["measurements"]
    console.print(
        f"[bold]baseline[/] {result.model_name} {result.model_kwargs}: test accuracy "
        f"[bold]{result.test_accuracy:.2%}[/] on {result.test_size} held-out images, "
        f"{result.profile.params:,} params, {result.profile.macs:,} MACs, trained in {result.train_seconds:.0f} s"
    )
    console.print(
        f"[bold]ONNX[/] {art['path']}: {format_bytes(art['size_bytes'])}, ONNX Runtime "
        f"({measured['threads']} threads, batch 1) median {measured['latency_ms_median']:.3f} ms, "
        f"p90 {measured['latency_ms_p90']:.3f} ms, accuracy {measured['accuracy']:.2%} (measured on the artifact)"
    )
    console.print(
        f"host roofline estimate {art['estimate']['latency_ms']:.3f} ms = "
        f"{art['estimate_vs_measured']:.2f}× the measured latency (estimate)"
    )
    console.print(f"fit on {result.device_fit['device']} (estimate): {result.device_fit['verdict']}")
    console.print(f"results: {result.results_path}")
    console.print(f"report:  {result.report_path}")
