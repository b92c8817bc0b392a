"""``edgeopt prune``: structured (smaller, faster) or magnitude (sparse) pruning, fine-tuned, measured."""

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

METHODS = ("structured", "magnitude")
DENSE_NOTE = (
    "Unstructured sparsity: the file compresses, but dense runtimes (ONNX Runtime, "
    "ExecuTorch) still multiply every zero, so the model runs no faster. Use "
    "--method structured for speed."
)


def prune(
    model: str = typer.Argument(..., help=MODEL_HELP),
    method: str = typer.Option(
        "structured", "--method", "-m", help="structured (remove channels) or magnitude (zero weights)."
    ),
    ratio: float = typer.Option(
        0.5, "--ratio", "-r", help="Fraction of channels (structured) or weights (magnitude) to remove, in (0, 1)."
    ),
    importance: str = typer.Option(
        "l1", "--importance", help="Structured: l1, l2, bn_scale or taylor (scored on 256 training images)."
    ),
    scope: str = typer.Option(
        None, "--scope", help="Structured: uniform (default) or global. Magnitude: global (default) or layer."
    ),
    round_to: int = typer.Option(None, "--round-to", help="Structured: keep channel counts multiples of this (8, 16)."),
    exclude: list[str] = typer.Option(None, "--exclude", help="Module to leave whole (repeatable)."),
    finetune_epochs: int = typer.Option(
        2, "--finetune-epochs", "-e", min=0, help="Fine-tuning epochs per round (0: none)."
    ),
    rounds: int = typer.Option(1, "--rounds", min=1, help="Prune → fine-tune rounds (magnitude: gradual steps)."),
    lr: float = typer.Option(1e-3, "--lr", help="Fine-tuning learning rate (AdamW, cosine)."),
    data: str = typer.Option("mnist5k", "--data", "-d", help="Dataset: fine-tuning (train/val) and accuracy (test)."),
    out: Path = typer.Option(..., "--out", "-o", help="Output directory (model.pt, prune.*.json)."),
    model_arg: list[str] = MODEL_ARG_OPTION,
    weights: Path = WEIGHTS_OPTION,
    trust_code: bool = TRUST_OPTION,
    force: bool = FORCE_OPTION,
    threads: int = typer.Option(2, "--threads", "-t", min=1, help="Threads for the latency comparison."),
    latency: bool = typer.Option(
        True, "--latency/--no-latency", help="Structured: time both models in ONNX Runtime, side by side."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print machine-readable JSON instead of a table."),
) -> None:
    """Prune MODEL, fine-tune it on DATA, save the pruned checkpoint, compare before and after."""
    if method not in METHODS:
        raise EdgeoptError(
            f"unknown pruning method {method!r}", hint=suggest(method, METHODS) or f"use one of {METHODS}"
        )
    from edgeopt.cli.transform_run import run_transform, show
    from edgeopt.prune import MagnitudePrune, StructuredPrune
    from edgeopt.train import TrainConfig

    fine_tune = make_config(TrainConfig, epochs=finetune_epochs, lr=lr, progress=False, seed=0) if finetune_epochs \
        else None
    config: StructuredPrune | MagnitudePrune
    if method == "structured":
        config = make_config(
            StructuredPrune,
            ratio=ratio,
            importance=importance,
            scope=scope or "uniform",
            round_to=round_to,
            exclude=exclude or None,
            rounds=rounds,
            fine_tune=fine_tune,
        )
    else:
        config = make_config(
            MagnitudePrune,
            sparsity=ratio,
            scope=scope or "global",
            exclude=exclude or None,
            fine_tune=fine_tune,
            schedule="gradual" if rounds > 1 else "oneshot",
            pruning_steps=rounds,
        )
    check_output(out, force=force, inputs=(model, weights), directory=True)
    splits = load_data(data)
    opened = open_source(model, model_arg=model_arg, weights=weights, trust_code=trust_code, data=splits)
    applied = run_transform(
        config,
        opened,
        out,
        data=splits,
        threads=threads,
        latency="onnx" if latency and method == "structured" else None,
    )
    show(
        applied,
        as_json,
        title=f"Pruning ({method}, ratio {ratio}, {finetune_epochs} fine-tuning epoch(s) × {rounds} round(s))",
    )
    if method == "magnitude" and not as_json:
        from edgeopt.cli.common import console

        console.print(DENSE_NOTE)
