"""``edgeopt export`` (a model to an artifact file) and ``edgeopt bench`` (measure artifacts)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.table import Table

from edgeopt.cli.common import console, parse_input_size, parse_model_args, print_json
from edgeopt.errors import EdgeoptError, suggest

if TYPE_CHECKING:
    from edgeopt.runtime import Measurement

FORMATS = ("onnx", "executorch")
SUFFIXES = {"onnx": "onnx", "executorch": "pte"}


def export(
    model: str = typer.Argument(
        ..., help="Registry name, package.module:factory, a .pt2 program or an edgeopt checkpoint."
    ),
    output: Path = typer.Option(None, "--output", "-o", help="File to write. Default: <model>.<format>."),
    format: str = typer.Option("onnx", "--format", "-f", help=f"Artifact format: {', '.join(FORMATS)}."),
    input_size: str = typer.Option(
        None, "--input-size", "-i", help="C,H,W (or N,C,H,W). Default: the checkpoint's, else 3,224,224."
    ),
    model_arg: list[str] = typer.Option(
        None, "--model-arg", "-a", help="Model option KEY=VALUE (repeatable), e.g. -a width_mult=0.5."
    ),
    weights: Path = typer.Option(None, "--weights", "-w", help="State dict (.pt/.safetensors) to load."),
    opset: int = typer.Option(18, "--opset", help="ONNX opset (18 or newer)."),
    as_json: bool = typer.Option(False, "--json", help="Print the artifact as JSON."),
) -> None:
    """Export a model to an artifact file, checked against the eager model (parity).

    The batch dimension stays dynamic. The file is written only if the exported graph is valid
    and its outputs in ONNX Runtime match the eager model's.
    """
    if format not in FORMATS:
        raise EdgeoptError(f"unknown format {format!r}", hint=suggest(format, FORMATS) or f"use one of {FORMATS}")
    import torch

    from edgeopt.export import export_executorch, export_onnx
    from edgeopt.models.loading import load_model_with_metadata

    net, metadata = load_model_with_metadata(model, weights=weights, **parse_model_args(model_arg))
    # A checkpoint remembers the input size it was trained at; otherwise ImageNet's 3×224×224.
    size = parse_input_size(input_size) if input_size else tuple(metadata.get("input_size", (1, 3, 224, 224)))
    path = output or Path(f"{_stem(model)}.{SUFFIXES[format]}")
    if format == "executorch":  # the program's input shape is static: batch as given (default 1)
        artifact = export_executorch(net, torch.zeros(size), path)
    else:
        artifact = export_onnx(net, torch.zeros(size), path, opset=opset)
    if as_json:
        print_json(artifact.to_dict())
        return
    from edgeopt.analysis import format_bytes

    detail = (f"opset {artifact.metadata.get('opset')}, input {'×'.join(map(str, size))}, batch dynamic"
              if format == "onnx" else f"XNNPACK, input {'×'.join(map(str, size))} (static)")
    console.print(
        f"Wrote [bold]{artifact.path}[/] ({artifact.format}, {artifact.precision}, {detail}): "
        f"{format_bytes(artifact.size_bytes)}, sha256 {artifact.sha256[:16]}…",
        highlight=False,
    )
    if artifact.parity is not None:
        console.print(f"Parity with the eager model: {artifact.parity.summary()} — OK", highlight=False)


def bench(
    artifacts: list[Path] = typer.Argument(
        ..., help="Artifacts: .onnx files (ONNX Runtime), .pte programs (ExecuTorch), edgeopt "
        "checkpoints / .pt2 programs (torch)."
    ),
    data: str = typer.Option(None, "--data", "-d", help="Dataset for accuracy, e.g. mnist5k (test split)."),
    threads: int = typer.Option(2, "--threads", "-t", help="Intra-op threads for every runtime."),
    runs: int = typer.Option(50, "--runs", "-n", help="Timed runs per artifact."),
    warmup: int = typer.Option(10, "--warmup", help="Untimed calls per artifact before timing."),
    batch_size: int = typer.Option(1, "--batch-size", "-b", help="Batch size of the timed input."),
    input_size: str = typer.Option(
        None, "--input-size", "-i", help="C,H,W for artifacts that record no input shape."
    ),
    memory: bool = typer.Option(True, "--memory/--no-memory", help="Measure peak memory (fresh processes)."),
    as_json: bool = typer.Option(False, "--json", help="Print machine-readable JSON instead of a table."),
) -> None:
    """Measure artifacts where they run: latency, accuracy on the data, peak memory.

    Several artifacts are timed interleaved in rounds, each block bracketed by speed probes and
    redone if the machine was in a slow phase; the spread column is the min–max of round medians.
    """
    from edgeopt.runtime import bench as run_bench

    shape = parse_input_size(input_size) if input_size else None
    rows = run_bench(
        artifacts, data=data, threads=threads, runs=runs, warmup=warmup, memory=memory,
        batch_size=batch_size, input_shape=shape,
    )
    if as_json:
        print_json([m.to_dict() for m in rows])
    else:
        console.print(_table(rows, data))


def _table(rows: list[Measurement], data: str | None) -> Table:
    from edgeopt.analysis import format_bytes

    first = rows[0]
    table = Table(
        title="Benchmark",
        caption=f"{first.threads} threads, batch {first.batch_size}, {first.runs} timed runs each, "
        "interleaved in rounds with speed probes; spread = min–max of round medians. Peak memory: "
        "a fresh process that loads and runs the artifact once (+model: over the bare runtime).",
    )
    for column in ("artifact", "format", "runtime", "size", "median ms", "p90 ms", "spread ms",
                   f"accuracy ({data})" if data else "accuracy", "peak memory", "+model"):
        table.add_column(column, justify="left" if column in ("artifact", "format", "runtime") else "right")
    for m in rows:
        spread = f"{m.latency_ms_spread[0]:.3f}–{m.latency_ms_spread[1]:.3f}" if m.latency_ms_spread else "-"
        table.add_row(
            m.artifact, m.format, m.runtime, format_bytes(m.size_bytes),
            f"{m.latency_ms_median:.3f}", f"{m.latency_ms_p90:.3f}", spread,
            "-" if m.accuracy is None else f"{m.accuracy:.2%}",
            "-" if m.peak_memory_bytes is None else format_bytes(m.peak_memory_bytes),
            "-" if m.artifact_memory_bytes is None else format_bytes(m.artifact_memory_bytes),
        )
    return table


def _stem(model: str) -> str:
    """A file stem for a model source: the registry name, the factory's name or the file's stem."""
    if ":" in model and not Path(model).exists():
        return model.rsplit(":", 1)[1].split(".")[-1]
    return Path(model).stem
