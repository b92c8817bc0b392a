"""``edgeopt quantize``: int8 a model (PTQ, QAT or dynamic) and compare it with fp32, measured."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from edgeopt.cli.common import console, parse_model_args, print_json
from edgeopt.errors import EdgeoptError, suggest

METHODS = ("ptq", "qat", "dynamic")
SUFFIX = {"onnxruntime": ".onnx", "executorch": ".pte"}


def quantize(
    model: str = typer.Argument(..., help="Registry name, package.module:factory, .pt2 program or checkpoint."),
    data: str = typer.Option("mnist5k", "--data", "-d", help="Dataset: calibration from train, accuracy on test."),
    backend: str = typer.Option("onnxruntime", "--backend", "-b", help="onnxruntime (.onnx) or executorch (.pte)."),
    method: str = typer.Option("ptq", "--method", "-m", help="ptq, qat or dynamic."),
    calibration: str = typer.Option("minmax", "--calibration", "-c", help="minmax, percentile, entropy or mse."),
    max_drop: float = typer.Option(None, "--max-drop", help="Accuracy budget in points; keeps sensitive layers float."),
    calibration_size: int = typer.Option(256, "--calibration-size", "-n", help="Calibration samples (train split)."),
    epochs: int = typer.Option(2, "--epochs", help="QAT fine-tuning epochs."),
    output: Path = typer.Option(Path("quantized"), "--output", "-o", help="Output folder."),
    model_arg: list[str] = typer.Option(None, "--model-arg", "-a", help="Model option KEY=VALUE (repeatable)."),
    threads: int = typer.Option(2, "--threads", "-t", help="ONNX Runtime threads for the latency column."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Quantize a model to int8 and print fp32 vs int8: size, accuracy on the artifact, latency.

    Accuracy of the int8 model is measured on the written artifact in its runtime. Writes
    OUTPUT/model.fp32.onnx, OUTPUT/model.int8.onnx (or .pte) and OUTPUT/quantize.json.
    """
    _check_choice("method", method, METHODS)
    import torch

    from edgeopt.data import calibration_subset, load_dataset
    from edgeopt.export import export_onnx
    from edgeopt.models.loading import load_model_with_metadata
    from edgeopt.quantize.api import check_backend
    from edgeopt.quantize.calibration import check_method

    check_backend(backend)
    check_method(calibration)
    splits = load_dataset(data)
    kwargs = {"num_classes": splits.num_classes, "in_chans": splits.in_chans, **parse_model_args(model_arg)}
    net, _ = load_model_with_metadata(model, **_registry_kwargs(model, kwargs))
    example = torch.zeros(splits.input_shape(1))
    fp32 = export_onnx(net, example, output / "model.fp32.onnx")
    result = _run(method, net, splits, backend, calibration, max_drop,
                  calibration_subset(splits.train, calibration_size), example,
                  output / f"model.int8{SUFFIX[backend]}", epochs)
    rows = _rows(fp32, result, splits, threads)
    from edgeopt.utils.atomic import write_json_atomic

    write_json_atomic(output / "quantize.json", {"result": result.to_dict(), "rows": rows})
    if as_json:
        print_json({"result": result.to_dict(), "rows": rows})
    else:
        console.print(_table(rows, data, result))


def _check_choice(what: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise EdgeoptError(f"unknown {what} {value!r}", hint=suggest(value, choices) or f"use one of {choices}")


def _registry_kwargs(model: str, kwargs: dict[str, Any]) -> dict[str, Any]:
    """Data-derived model options only for registry names (a checkpoint knows its own)."""
    from edgeopt.models import list_models

    return kwargs if model in list_models() else {k: v for k, v in kwargs.items()
                                                  if k not in ("num_classes", "in_chans")}


def _run(method: str, net: Any, splits: Any, backend: str, calibration: str, max_drop: float | None,
         calib: Any, example: Any, path: Path, epochs: int) -> Any:
    from edgeopt import quantize

    if method == "ptq":
        return quantize.ptq(net, calib, backend=backend, path=path, calibration=calibration,
                            example_input=example, eval_data=splits.test, max_drop=max_drop)
    if method == "qat":
        from edgeopt.train import TrainConfig

        return quantize.qat(net, splits.train, splits.val, TrainConfig(epochs=epochs, progress=False),
                            backend=backend, path=path, eval_data=splits.test)
    if backend != "onnxruntime":
        raise EdgeoptError("dynamic int8 is built for ONNX Runtime", hint="use --backend onnxruntime")
    from edgeopt.quantize.api import ort_accuracy
    from edgeopt.quantize.result import QuantizationResult

    art = quantize.dynamic(net, path, example_input=example)
    return QuantizationResult(art, backend, "dynamic", float_accuracy=None,
                              int8_accuracy=ort_accuracy(art.path, splits.test))


def _rows(fp32: Any, result: Any, splits: Any, threads: int) -> list[dict[str, Any]]:
    from edgeopt.quantize.api import ort_accuracy
    from edgeopt.runtime import interleaved_latency, open_runner

    runners = {"fp32": open_runner(fp32, threads), "int8": open_runner(result.artifact, threads)}
    batch = splits.test.tensors[0][:1].numpy()
    latency = interleaved_latency(runners, batch, rounds=3, runs_per_round=20)
    fp32_acc = result.float_accuracy if result.float_accuracy is not None else ort_accuracy(fp32.path, splits.test)
    return [
        {"variant": "fp32", "file": str(fp32.path), "size_bytes": fp32.size_bytes, "accuracy": fp32_acc,
         "latency_ms": latency["fp32"].median_ms, "latency_spread_ms": list(latency["fp32"].spread_ms),
         "float_layers": None},
        {"variant": "int8", "file": str(result.artifact.path), "size_bytes": result.artifact.size_bytes,
         "accuracy": result.int8_accuracy, "latency_ms": latency["int8"].median_ms,
         "latency_spread_ms": list(latency["int8"].spread_ms), "float_layers": list(result.float_layers)},
    ]


def _table(rows: list[dict[str, Any]], data: str, result: Any) -> Table:
    from edgeopt.analysis import format_bytes

    fp32, int8 = rows
    drop = None if fp32["accuracy"] is None or int8["accuracy"] is None else 100 * (fp32["accuracy"] - int8["accuracy"])
    table = Table(title=f"Quantization ({result.method}, {result.backend}"
                  + (f", {result.calibration} calibration" if result.calibration else "") + ")",
                  caption=f"accuracy on the {data} test split, measured on each artifact in its runtime; "
                  "latency: batch 1, interleaved rounds with speed probes (spread = min–max of round medians)")
    for column in ("", "file", "size", "accuracy", "drop (points)", "latency ms", "spread ms", "float layers"):
        table.add_column(column, justify="left" if column in ("", "file", "float layers") else "right")
    for row in rows:
        table.add_row(
            row["variant"], Path(row["file"]).name, format_bytes(row["size_bytes"]),
            "-" if row["accuracy"] is None else f"{row['accuracy']:.2%}",
            "" if row is fp32 or drop is None else f"{drop:+.2f}".replace("+", ""),
            f"{row['latency_ms']:.3f}", "{:.3f}–{:.3f}".format(*row["latency_spread_ms"]),
            "" if row["float_layers"] is None else (", ".join(row["float_layers"]) or "none (all int8)"),
        )
    table.add_row("ratio", "", f"{fp32['size_bytes'] / int8['size_bytes']:.2f}× smaller", "", "",
                  f"{fp32['latency_ms'] / int8['latency_ms']:.2f}× faster", "", "")
    return table
