"""``edgeopt quantize``: int8 a model (PTQ, QAT or dynamic) and compare it with fp32, measured."""

from __future__ import annotations

from pathlib import Path

import typer

from edgeopt.cli.common import (
    FORCE_OPTION,
    MODEL_ARG_OPTION,
    MODEL_HELP,
    TRUST_OPTION,
    WEIGHTS_OPTION,
    check_output,
    load_data,
    make_config,
    open_source,
)
from edgeopt.errors import EdgeoptError, suggest

METHODS = ("ptq", "qat", "dynamic")
BACKENDS = ("onnxruntime", "executorch")


def quantize(
    model: str = typer.Argument(..., help=MODEL_HELP),
    data: str = typer.Option("mnist5k", "--data", "-d", help="Dataset: calibration from train, accuracy on test."),
    backend: str = typer.Option("onnxruntime", "--backend", "-b", help="onnxruntime (.onnx) or executorch (.pte)."),
    method: str = typer.Option("ptq", "--method", "-m", help="ptq, qat or dynamic."),
    calibration: str = typer.Option("minmax", "--calibration", "-c", help="minmax, percentile, entropy or mse."),
    max_drop: float = typer.Option(None, "--max-drop", help="Accuracy budget in points; keeps sensitive layers float."),
    calibration_size: int = typer.Option(256, "--calibration-size", "-n", help="Calibration samples (train split)."),
    epochs: int = typer.Option(2, "--epochs", help="QAT fine-tuning epochs."),
    output: Path = typer.Option(Path("quantized"), "--output", "-o", help="Output folder."),
    model_arg: list[str] = MODEL_ARG_OPTION,
    weights: Path = WEIGHTS_OPTION,
    trust_code: bool = TRUST_OPTION,
    force: bool = FORCE_OPTION,
    threads: int = typer.Option(2, "--threads", "-t", min=1, help="Threads for the latency comparison."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Quantize a model to int8 and print fp32 vs int8: size, accuracy on the file, latency.

    The int8 accuracy is measured on the written file in its runtime; fp32 and int8 files are
    timed side by side. Writes OUTPUT/model.int8.onnx (or .int8.pte) and OUTPUT/quantize.*.json.
    """
    if method not in METHODS:
        raise EdgeoptError(f"unknown method {method!r}", hint=suggest(method, METHODS) or f"use one of {METHODS}")
    if backend not in BACKENDS:
        raise EdgeoptError(
            f"unknown backend {backend!r}", hint=suggest(backend, BACKENDS) or f"use one of {BACKENDS}"
        )
    from edgeopt.artifact import format_for_runtime
    from edgeopt.cli.transform_run import run_transform, show
    from edgeopt.quantize import DynamicQuant, Ptq, Qat
    from edgeopt.quantize.calibration import check_method
    from edgeopt.train import TrainConfig
    from edgeopt.transform import Transform

    check_method(calibration)
    config: Transform
    if method == "ptq":
        config = make_config(
            Ptq, backend=backend, calibration=calibration, calibration_samples=calibration_size, max_drop=max_drop
        )
    elif method == "qat":
        config = make_config(
            Qat,
            backend=backend,
            calibration_samples=calibration_size,
            train=make_config(TrainConfig, epochs=epochs, lr=1e-4, progress=False),
        )
    else:
        config = make_config(DynamicQuant, backend=backend)
    check_output(output, force=force, inputs=(model, weights), directory=True)
    splits = load_data(data)
    opened = open_source(model, model_arg=model_arg, weights=weights, trust_code=trust_code, data=splits)
    applied = run_transform(config, opened, output, data=splits, latency=format_for_runtime(backend), threads=threads)
    show(
        applied,
        as_json,
        title=f"Quantization ({method}, {backend}" + (f", {calibration} calibration)" if method == "ptq" else ")"),
    )
    kept = applied.result.report["quantization"].get("float_layers")
    if kept and not as_json:
        from edgeopt.cli.common import console

        console.print(f"kept in float to stay within --max-drop: {', '.join(kept)}", highlight=False)
