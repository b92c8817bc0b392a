"""``edgeopt prune``: structured (smaller, faster) or magnitude (sparse) pruning, fine-tuned, measured."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.table import Table

from edgeopt.cli.common import console, parse_model_args, print_json
from edgeopt.errors import EdgeoptError, suggest

if TYPE_CHECKING:
    from torch import Tensor, nn

METHODS = ("structured", "magnitude")
DENSE_NOTE = ("Unstructured sparsity: the file compresses, but dense runtimes (ONNX Runtime, "
              "ExecuTorch) still multiply every zero, so the model runs no faster. Use "
              "--method structured for speed.")


def prune(
    model: str = typer.Argument(..., help="Registry name, package.module:factory or an edgeopt checkpoint."),
    method: str = typer.Option("structured", "--method", "-m", help="structured (remove channels) or magnitude (zero weights)."),
    ratio: float = typer.Option(0.5, "--ratio", "-r", help="Fraction of channels (structured) or weights (magnitude) to remove, in [0, 1)."),
    importance: str = typer.Option("l1", "--importance", help="Structured: l1, l2, bn_scale or taylor."),
    scope: str = typer.Option(None, "--scope", help="Structured: uniform (default) or global. Magnitude: global (default) or layer."),
    round_to: int = typer.Option(None, "--round-to", help="Structured: keep channel counts multiples of this (8, 16)."),
    exclude: list[str] = typer.Option(None, "--exclude", help="Module to leave whole (repeatable)."),
    finetune_epochs: int = typer.Option(2, "--finetune-epochs", "-e", min=0, help="Fine-tuning epochs per round (0: none)."),
    rounds: int = typer.Option(1, "--rounds", min=1, help="Prune → fine-tune rounds (magnitude: gradual steps)."),
    lr: float = typer.Option(1e-3, "--lr", help="Fine-tuning learning rate (AdamW, cosine)."),
    data: str = typer.Option("mnist5k", "--data", "-d", help="Dataset: fine-tuning (train/val) and accuracy (test)."),
    out: Path = typer.Option(..., "--out", "-o", help="Output directory (model.pt, model.onnx, prune.json)."),
    model_arg: list[str] = typer.Option(None, "--model-arg", "-a", help="Model option KEY=VALUE (repeatable)."),
    threads: int = typer.Option(2, "--threads", "-t", help="ONNX Runtime threads for the latency comparison."),
    latency: bool = typer.Option(True, "--latency/--no-latency", help="Structured: time both ONNX files in ONNX Runtime."),
    latency_rounds: int = typer.Option(5, "--latency-rounds", min=1, help="Interleaved timing rounds (20 runs each)."),
    as_json: bool = typer.Option(False, "--json", help="Print machine-readable JSON instead of a table."),
) -> None:
    """Prune MODEL, fine-tune it on DATA, save a checkpoint and an ONNX file, compare before/after."""
    if method not in METHODS:
        raise EdgeoptError(f"unknown pruning method {method!r}", hint=suggest(method, METHODS) or f"use one of {METHODS}")
    import torch

    from edgeopt.data import load_dataset

    splits = load_dataset(data)
    net, source = _load(model, parse_model_args(model_arg), splits)
    example = splits.test.tensors[0][:1].clone()
    from edgeopt.train import TrainConfig

    config = TrainConfig(epochs=max(1, finetune_epochs), lr=lr, progress=False, seed=0)
    torch.manual_seed(0)
    runner = _structured if method == "structured" else _magnitude
    result = runner(net, example, splits, config, finetune_epochs, rounds, ratio, importance, scope,
                    round_to, exclude or [], source, out, threads, latency and latency_rounds)
    from edgeopt.utils import write_json_atomic

    write_json_atomic(out / "prune.json", result)
    if as_json:
        print_json(result)
    else:
        _print(result)


def _load(model: str, kwargs: dict[str, Any], splits: Any) -> tuple[nn.Module, dict[str, Any]]:
    from edgeopt.baseline import infer_model_kwargs
    from edgeopt.models import list_models
    from edgeopt.models.loading import load_model_with_metadata
    from edgeopt.prune.structured_checkpoint import is_pruned_checkpoint, load_pruned_checkpoint

    path = Path(model)
    if path.is_file() and is_pruned_checkpoint(path):
        ckpt = load_pruned_checkpoint(path)
        return ckpt.model, {"name": ckpt.model_name, "kwargs": ckpt.model_kwargs}
    if path.is_file():
        from edgeopt.checkpoint import load_checkpoint

        ckpt = load_checkpoint(path)
        return ckpt.model, {"name": ckpt.model_name, "kwargs": ckpt.model_kwargs}
    if model in list_models():
        kwargs = infer_model_kwargs(model, splits, kwargs)
    net, _ = load_model_with_metadata(model, **kwargs)
    return net, {"name": model if model in list_models() else None, "kwargs": kwargs}


def _structured(net, example, splits, config, epochs, rounds, ratio, importance, scope, round_to,
                exclude, source, out, threads, latency_rounds) -> dict[str, Any]:
    from edgeopt.prune.iterative import iterative_structured
    from edgeopt.prune.structured import structured_with_report

    if epochs > 0:
        small, history = iterative_structured(net, ratio, example, splits.train, splits.val, config,
                                              rounds=rounds, importance=importance, scope=scope or "uniform",
                                              round_to=round_to, exclude=exclude)
        history = [{k: v for k, v in row.items() if k != "fit"} for row in history]
    else:
        small, _ = structured_with_report(net, ratio, example, importance, scope=scope or "uniform",
                                          round_to=round_to, exclude=exclude, data=splits.train)
        from edgeopt.prune.bn_recalibration import recalibrate_batchnorm

        recalibrate_batchnorm(small, splits.train)
        history = []
    before, after = _measure(net, example, splits), _measure(small, example, splits)
    files = _save(small, source, example, out, {"ratio": ratio, "importance": importance,
                                                "scope": scope or "uniform", "round_to": round_to})
    with tempfile.TemporaryDirectory() as tmp:
        from edgeopt.export import export_onnx

        before_onnx = export_onnx(net, example, Path(tmp) / "before.onnx")
        before["onnx_bytes"], after["onnx_bytes"] = before_onnx.size_bytes, files["onnx_bytes"]
        if latency_rounds:
            before["ort_ms"], after["ort_ms"] = _latency(before_onnx.path, Path(files["onnx"]), example,
                                                         threads, latency_rounds)
    return {"method": "structured", "ratio": ratio, "importance": importance, "round_to": round_to,
            "finetune_epochs": epochs, "rounds": rounds, "before": before, "after": after,
            "history": history, "files": files}


def _magnitude(net, example, splits, config, epochs, rounds, ratio, importance, scope, round_to,
               exclude, source, out, threads, latency) -> dict[str, Any]:
    from edgeopt.prune import finalize, gradual_magnitude, magnitude, sparsity_report

    kwargs = {"scope": scope or "global", **({"exclude": exclude} if exclude else {})}
    if epochs > 0:
        sparse, history = gradual_magnitude(net, splits.train, splits.val, final_sparsity=ratio,
                                            steps=rounds, config=config, **kwargs)
    else:
        sparse, history = magnitude(net, sparsity=ratio, **kwargs), []
    final = finalize(sparse)
    report = sparsity_report(final)
    before, after = _measure(net, example, splits), _measure(final, example, splits)
    files = _save(final, source, example, out, None)
    after.update(sparsity=report.total_sparsity, dense_bytes=report.dense_bytes,
                 compressed_bytes=report.compressed_bytes, onnx_bytes=files["onnx_bytes"])
    return {"method": "magnitude", "ratio": ratio, "finetune_epochs": epochs, "rounds": rounds,
            "before": before, "after": after, "history": history, "files": files, "note": DENSE_NOTE}


def _measure(model: nn.Module, example: Tensor, splits: Any) -> dict[str, Any]:
    from edgeopt.analysis import profile
    from edgeopt.train import evaluate

    cost = profile(model, example_input=example)
    return {"params": cost.params, "macs": cost.macs, "param_bytes": cost.param_bytes,
            "test_accuracy": evaluate(model, splits.test).accuracy}


def _save(model: nn.Module, source: dict[str, Any], example: Tensor, out: Path,
          pruning: dict[str, Any] | None) -> dict[str, Any]:
    from edgeopt.checkpoint import save_checkpoint
    from edgeopt.export import export_onnx

    out.mkdir(parents=True, exist_ok=True)
    metadata = {"input_size": list(example.shape)}
    files: dict[str, Any] = {}
    if source["name"]:
        if pruning is not None:
            from edgeopt.prune.structured_checkpoint import save_pruned_checkpoint

            save_pruned_checkpoint(out / "model.pt", model, model_name=source["name"],
                                   model_kwargs=source["kwargs"], report=pruning, metadata=metadata)
        else:
            save_checkpoint(out / "model.pt", model, model_name=source["name"],
                            model_kwargs=source["kwargs"], metadata=metadata)
        files["checkpoint"] = str(out / "model.pt")
    artifact = export_onnx(model, example, out / "model.onnx")
    files.update(onnx=str(artifact.path), onnx_bytes=artifact.size_bytes)
    return files


def _latency(before_path: Path, after_path: Path, example: Tensor, threads: int,
             rounds: int) -> tuple[dict, dict]:
    """ORT latency of both files, interleaved in rounds with speed probes (DESIGN.md)."""
    from edgeopt.runtime import OnnxRuntimeRunner, interleaved_latency

    runners = {"before": OnnxRuntimeRunner(before_path, threads), "after": OnnxRuntimeRunner(after_path, threads)}
    stats = interleaved_latency(runners, example.numpy(), rounds=rounds, runs_per_round=20)
    return tuple({"median_ms": stats[k].median_ms, "spread_ms": list(stats[k].spread_ms)}  # type: ignore[return-value]
                 for k in ("before", "after"))


def _print(result: dict[str, Any]) -> None:
    from edgeopt.analysis.tables import format_bytes, format_count

    before, after = result["before"], result["after"]
    table = Table(title=f"Pruning ({result['method']}, ratio {result['ratio']}, "
                        f"{result['finetune_epochs']} fine-tuning epoch(s) × {result['rounds']} round(s))")
    for column in ("", "before", "after", "after / before"):
        table.add_column(column, justify="left" if not column else "right")

    def row(label: str, key: str, fmt) -> None:
        if key in before and key in after:
            ratio = after[key] / before[key] if before[key] else float("nan")
            table.add_row(label, fmt(before[key]), fmt(after[key]), f"{ratio:.3f}")

    row("params", "params", format_count)
    row("MACs", "macs", format_count)
    row("ONNX size", "onnx_bytes", format_bytes)
    row("test accuracy", "test_accuracy", lambda v: f"{v:.2%}")
    if "ort_ms" in after:
        b, a = before["ort_ms"], after["ort_ms"]
        table.add_row("ORT latency ms (median)", f"{b['median_ms']:.3f}", f"{a['median_ms']:.3f}",
                      f"{a['median_ms'] / b['median_ms']:.3f}")
    if result["method"] == "magnitude":
        table.add_row("sparsity", "0", f"{after['sparsity']:.1%}", "")
        table.add_row("weights dense / compressed", "", f"{format_bytes(after['dense_bytes'])} / "
                      f"{format_bytes(after['compressed_bytes'])}", "")
    console.print(table)
    if result["method"] == "magnitude":
        console.print(result["note"])
    console.print(f"Wrote {', '.join(str(v) for k, v in result['files'].items() if k != 'onnx_bytes')}",
                  highlight=False)
