"""``edgeopt export`` (a model to an artifact file) and ``edgeopt bench`` (measure artifacts)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.table import Table

from edgeopt.cli.agent_cmd import DEVICE_OPTION, TLS_PIN_OPTION, TOKEN_FILE_OPTION
from edgeopt.cli.common import (
    FORCE_OPTION,
    INPUT_SIZE_OPTION,
    MODEL_ARG_OPTION,
    MODEL_HELP,
    TRUST_OPTION,
    WEIGHTS_OPTION,
    check_output,
    console,
    load_data,
    make_config,
    open_source,
    parse_input_size,
    print_json,
)
from edgeopt.errors import EdgeoptError, suggest

if TYPE_CHECKING:
    from edgeopt.artifact import Artifact
    from edgeopt.data import DatasetSplits

FORMATS = ("onnx", "executorch", "openvino")
RUNTIMES = ("onnxruntime", "openvino")  # --runtime: what runs .onnx files
PRECISIONS = ("fp32", "bf16")  # --precision: OpenVINO's execution precision


def export(
    model: str = typer.Argument(..., help=MODEL_HELP),
    output: Path = typer.Option(None, "--output", "-o",
                                help="File to write. Default: <model>.onnx / .pte / .xml (+.bin)."),
    format: str = typer.Option("onnx", "--format", "-f", help=f"Artifact format: {', '.join(FORMATS)}."),
    input_size: str = INPUT_SIZE_OPTION,
    model_arg: list[str] = MODEL_ARG_OPTION,
    weights: Path = WEIGHTS_OPTION,
    opset: int = typer.Option(18, "--opset", help="ONNX opset (18 or newer)."),
    trust_code: bool = TRUST_OPTION,
    force: bool = FORCE_OPTION,
    as_json: bool = typer.Option(False, "--json", help="Print the artifact as JSON."),
) -> None:
    """Export a model to an artifact file, checked against the eager model (parity).

    ONNX and OpenVINO IR (model.xml + model.bin) keep the batch dimension dynamic; a .pte's input
    shape is static. The file is written only if it is valid and its outputs in its runtime match
    the eager model's.
    """
    if format not in FORMATS:
        raise EdgeoptError(f"unknown format {format!r}", hint=suggest(format, FORMATS) or f"use one of {FORMATS}")
    from edgeopt.artifact import artifact_suffix
    from edgeopt.cli.transform_run import run_transform
    from edgeopt.export.transform import Export

    suffix = artifact_suffix(format, "fp32")
    path = output or Path(_stem(model) + suffix)
    if not path.name.endswith(suffix) or len(path.name) == len(suffix):
        raise EdgeoptError(
            f"{format} files are named NAME{suffix}, got {path.name!r}", hint=f"e.g. -o model{suffix}"
        )
    config = make_config(Export, formats=[format], opset=opset)
    check_output(path, force=force, inputs=(model, weights), directory=False)
    if format == "openvino":  # an IR's weights file is written too, and is as much an output
        check_output(path.with_suffix(".bin"), force=force, inputs=(model, weights), directory=False)
    opened = open_source(model, model_arg=model_arg, weights=weights, trust_code=trust_code, input_size=input_size)
    applied = run_transform(config, opened, path.parent, data=None, name=path.name[: -len(suffix)], checkpoint=path)
    artifact = applied.result.artifacts[0]
    if as_json:
        print_json(artifact.to_dict())
        return
    from edgeopt.utils.units import format_bytes

    shape = "×".join(map(str, artifact.input_shape or ()))
    details = {"onnx": f"opset {opset}, input {shape}, batch dynamic",
               "openvino": f"IR with {artifact.path.with_suffix('.bin').name}, input {shape}, batch dynamic",
               "executorch": f"XNNPACK, input {shape} (static)"}
    detail = details[format]
    console.print(
        f"Wrote [bold]{artifact.path}[/] ({artifact.format}, {artifact.precision}, {detail}): "
        f"{format_bytes(artifact.size_bytes)}, sha256 {artifact.sha256[:16]}…",
        highlight=False,
    )
    if artifact.parity is not None:
        console.print(f"Parity with the eager model: {artifact.parity.summary()} — OK", highlight=False)


def bench(
    artifacts: list[Path] = typer.Argument(
        ...,
        help="Artifacts: .onnx files (ONNX Runtime), .pte programs (ExecuTorch), .xml IRs (OpenVINO), "
        "edgeopt checkpoints / .pt2 programs (torch).",
    ),
    data: str = typer.Option(None, "--data", "-d", help="Dataset for accuracy, e.g. mnist5k (test split)."),
    threads: int = typer.Option(2, "--threads", "-t", help="Intra-op threads for every runtime."),
    runs: int = typer.Option(50, "--runs", "-n", help="Timed runs per artifact."),
    warmup: int = typer.Option(10, "--warmup", help="Untimed calls per artifact before timing."),
    batch_size: int = typer.Option(1, "--batch-size", "-b", help="Batch size of the timed input."),
    input_size: str = typer.Option(None, "--input-size", "-i", help="C,H,W for artifacts that record no input shape."),
    memory: bool = typer.Option(True, "--memory/--no-memory", help="Measure peak memory (fresh processes)."),
    device: str | None = DEVICE_OPTION,
    token_file: Path | None = TOKEN_FILE_OPTION,
    tls_pin: str | None = TLS_PIN_OPTION,
    per_layer: bool = typer.Option(False, "--per-layer", help="Where the time goes: each layer's time from the "
                                   "runtime's own tracer, beside MACs, bytes and a roofline estimate (.onnx, .pte)."),
    model: str | None = typer.Option(None, "--model", help="With --per-layer: the model the files were made from, so "
                              "kernels map onto its layer names and exact costs (default: the file's own graph)."),
    model_arg: list[str] = MODEL_ARG_OPTION,
    weights: Path = WEIGHTS_OPTION,
    top: int = typer.Option(25, "--top", min=1, help="With --per-layer: layers shown per file (all in --json)."),
    gate: bool = typer.Option(False, "--gate", help="Two files, parent then child: is the child measurably faster? "
                              "The latency ratio with a 90% interval over interleaved rounds (keep it or roll back)."),
    rounds: int = typer.Option(9, "--rounds", min=3, help="With --gate: interleaved rounds (one ratio each)."),
    runtime: str | None = typer.Option(None, "--runtime", help="What runs .onnx files: onnxruntime (default) or "
                                       "openvino. Other files run in their format's runtime."),
    precision: str = typer.Option("fp32", "--precision", help="OpenVINO's execution precision: fp32, or bf16 "
                                  "where the CPU has it (.xml files, or .onnx with --runtime openvino)."),
    trust_code: bool = TRUST_OPTION,
    as_json: bool = typer.Option(False, "--json", help="Print machine-readable JSON instead of a table."),
) -> None:
    """Measure artifacts where they run: latency, accuracy on the data, peak memory.

    Several artifacts are timed interleaved in rounds, each block bracketed by speed probes and
    redone if the machine was in a slow phase; the spread column is the min–max of round medians.
    With --device agent://HOST:PORT the same measurement runs on the device an edgeopt agent
    serves (docs/agent.md). With --per-layer each file is measured layer by layer instead; given an
    fp32 and an int8 file of one model, it also shows which layers int8 made slower.
    """
    from edgeopt.artifact import Artifact
    from edgeopt.runtime.transform import Bench

    _check_bench_options(device, token_file, tls_pin, per_layer, model, data)
    _check_runtime_options(runtime, precision, device is not None or per_layer or gate)
    config = make_config(Bench, threads=threads, runs=runs, warmup=warmup, batch_size=batch_size, memory=memory)
    files = [Artifact.from_file(path) for path in artifacts]
    shape = parse_input_size(input_size) if input_size is not None else None
    if gate:
        _gate(artifacts, threads=threads, rounds=rounds, trust_code=trust_code, as_json=as_json,
              others=(device, data, per_layer))
        return
    if per_layer:
        from edgeopt.cli.per_layer import per_layer_report

        per_layer_report(files, threads=threads, runs=runs, warmup=warmup, model=model, model_arg=model_arg,
                         weights=weights, trust_code=trust_code, input_shape=shape, top=top, as_json=as_json)
        return
    splits = load_data(data)
    if device is not None:
        from edgeopt.cli.agent_cmd import measure_on_device

        measured = measure_on_device(files, device, token_file, tls_pin, splits, threads=threads, runs=runs,
                                     warmup=warmup, batch_size=batch_size, input_shape=shape, memory=memory)
    else:
        _check_batch_memory(files, shape, splits, batch_size)
        measured = config.measure(files, splits, input_shape=shape, trust_code=trust_code, runtime=runtime,
                                  precision=precision)
    if as_json:
        print_json([art.measurements[-1].to_dict() for art in measured])
    else:
        console.print(_table(measured, data))


def _gate(artifacts: list[Path], *, threads: int, rounds: int, trust_code: bool, as_json: bool,
          others: tuple[str | None, str | None, bool]) -> None:
    """``bench --gate PARENT CHILD``: the child's latency against its parent's, with a verdict."""
    from edgeopt.runtime.gate import compare_files

    if len(artifacts) != 2:
        raise EdgeoptError(f"--gate compares two files (parent, then child), got {len(artifacts)}",
                           hint="e.g. edgeopt bench model.onnx model.int8.onnx --gate")
    if any(others):
        raise EdgeoptError("--gate times two files here, without data, --device or --per-layer",
                           hint="drop those options, or drop --gate")
    verdict = compare_files(artifacts[0], artifacts[1], threads=threads, rounds=rounds, trust_code=trust_code)
    if as_json:
        print_json({"parent": str(artifacts[0]), "child": str(artifacts[1]), **verdict.to_dict(),
                    "keep": verdict.keep})
        return
    action = "keep it" if verdict.keep else "roll it back"
    console.print(f"{artifacts[1]} against {artifacts[0]}: {verdict} — {action}", highlight=False)


def _check_bench_options(device: str | None, token_file: Path | None, tls_pin: str | None, per_layer: bool,
                         model: str | None, data: str | None) -> None:
    """Refuse combinations of options that cannot mean anything, before any file is opened."""
    if device is None and (token_file is not None or tls_pin is not None):
        raise EdgeoptError("--token-file and --tls-pin go with --device agent://HOST:PORT",
                           hint="add --device, or drop them to measure on this machine")
    if device is not None and not device.startswith("agent://"):
        raise EdgeoptError(f"--device takes an agent address agent://HOST:PORT, got {device!r}",
                           hint="start one on the device with `edgeopt agent serve` (docs/agent.md); for a "
                           "catalog device's estimates use `edgeopt fit` or `edgeopt devices`")
    if per_layer and device is not None:
        raise EdgeoptError("--per-layer measures on this machine; an agent measures whole models only",
                           hint="drop --device, or drop --per-layer")
    if per_layer and data is not None:
        raise EdgeoptError("--per-layer times layers and measures no accuracy", hint="drop --data")
    if model is not None and not per_layer:
        raise EdgeoptError("--model names the files' model for --per-layer", hint="add --per-layer, or drop --model")


def _check_runtime_options(runtime: str | None, precision: str, elsewhere: bool) -> None:
    """Refuse an unknown --runtime / --precision, or one given where this machine's bench does not run."""
    if runtime is not None and runtime not in RUNTIMES:
        raise EdgeoptError(f"unknown --runtime {runtime!r}",
                           hint=suggest(runtime, RUNTIMES) or f"use one of {RUNTIMES}")
    if precision not in PRECISIONS:
        raise EdgeoptError(f"unknown --precision {precision!r}", hint=f"use one of {', '.join(PRECISIONS)}")
    if elsewhere and (runtime is not None or precision != "fp32"):
        raise EdgeoptError("--runtime and --precision go with a plain bench on this machine",
                           hint="drop them with --device, --per-layer or --gate")


def _check_batch_memory(files: list[Artifact], shape: tuple[int, ...] | None, splits: DatasetSplits | None,
                        batch_size: int) -> None:
    """Refuse a batch whose timing input cannot be allocated, before any runtime is loaded.

    The timed input is drawn as float64 noise and cast to float32 (12 bytes a value) when the data
    does not provide it; the values per sample come from --input-size, the data, the artifact's
    record or an ONNX file's declared input.
    """
    from edgeopt.utils.memory import check_memory

    samples = [tuple(shape[1:])] if shape else []
    if splits is not None:
        samples.append(tuple(splits.input_shape(1)[1:]))
    samples += [tuple(art.input_shape[1:]) for art in files if art.input_shape]
    samples += [s for art in files if art.format == "onnx" and not art.input_shape
                for s in [_onnx_sample_shape(art.path)] if s]
    if not samples:
        return
    values = batch_size * max(math.prod(s) for s in samples)
    check_memory(values * 12, f"a timing batch of {batch_size:,} samples",
                 hint="use a smaller --batch-size")


def _onnx_sample_shape(path: str | Path) -> tuple[int, ...] | None:
    """The per-sample shape an ONNX file declares for its first input (None if not all fixed)."""
    import onnx

    try:
        graph = onnx.load(str(path), load_external_data=False).graph
        dims = graph.input[0].type.tensor_type.shape.dim[1:]
    except Exception:  # an unreadable file is reported by the runtime that opens it
        return None
    values = tuple(d.dim_value for d in dims)
    return values if values and all(v > 0 for v in values) else None


def _table(measured: tuple[Artifact, ...], data: str | None) -> Table:
    from edgeopt.utils.units import format_bytes

    first = measured[0].measurements[-1]
    table = Table(
        title="Benchmark",
        caption=f"{first.threads} threads, batch {first.batch_size}, {first.runs} timed runs each, "
        "interleaved in rounds with speed probes; spread = min–max of round medians. Peak memory: "
        "a fresh process that loads and runs the artifact once (+model: over the bare runtime).",
    )
    for column in (
        "artifact",
        "format",
        "runtime",
        "size",
        "median ms",
        "p90 ms",
        "spread ms",
        f"accuracy ({data})" if data else "accuracy",
        "peak memory",
        "+model",
    ):
        table.add_column(column, justify="left" if column in ("artifact", "format", "runtime") else "right")
    for art in measured:
        m = art.measurements[-1]
        spread = f"{m.latency_ms_spread[0]:.3f}–{m.latency_ms_spread[1]:.3f}" if m.latency_ms_spread else "-"
        table.add_row(
            str(art.path),
            art.format,
            m.runtime if m.execution_precision in (None, "fp32") else f"{m.runtime} ({m.execution_precision})",
            format_bytes(art.size_bytes),
            f"{m.latency_ms_median:.3f}",
            f"{m.latency_ms_p90:.3f}",
            spread,
            "-" if m.accuracy is None else f"{m.accuracy:.2%}",
            format_bytes(m.peak_memory_bytes) if m.peak_memory_bytes is not None else "-",
            format_bytes(m.artifact_memory_bytes) if m.artifact_memory_bytes is not None else "-",
        )
    return table


def _stem(model: str) -> str:
    """A file stem for a model source: the registry name, the factory's name or the file's stem."""
    if ":" in model and not Path(model).exists():
        return model.rsplit(":", 1)[1].split(".")[-1]
    return Path(model).stem
