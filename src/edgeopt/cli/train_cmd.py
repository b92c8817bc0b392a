"""``edgeopt train``: train a baseline on a dataset and save a checkpoint."""

from __future__ import annotations

from pathlib import Path

import typer

from edgeopt.cli.common import console, parse_model_args


def train(
    model: str = typer.Argument(..., help="Registry name or package.module:factory (see 'edgeopt models')."),
    data: str = typer.Option("mnist5k", "--data", "-d", help="Bundled dataset name or a path (see 'edgeopt datasets')."),
    epochs: int = typer.Option(10, "--epochs", "-e", min=1, help="Training epochs."),
    out: Path = typer.Option(..., "--out", "-o", help="Output directory (model.pt, train.json)."),
    model_arg: list[str] = typer.Option(None, "--model-arg", "-a", help="Model option KEY=VALUE (repeatable)."),
    batch_size: int = typer.Option(64, "--batch-size", min=1),
    lr: float = typer.Option(3e-3, "--lr", help="Peak learning rate (AdamW, cosine schedule)."),
    augment_shift: int = typer.Option(0, "--augment-shift", min=0, help="Random translation in pixels, e.g. 2 for 28×28 digits (0: off)."),
    seed: int = typer.Option(0, "--seed"),
) -> None:
    """Train MODEL on DATA, report test accuracy and save an edgeopt checkpoint.

    The number of classes and input channels are taken from the data unless given with -a.
    """
    from edgeopt.train import TrainConfig
    from edgeopt.baseline import train_baseline

    config = TrainConfig(epochs=epochs, batch_size=batch_size, lr=lr, augment_shift=augment_shift, seed=seed)
    result = train_baseline(model, data, out, config=config, model_kwargs=parse_model_args(model_arg))
    console.print(
        f"test accuracy [bold]{result.test_accuracy:.2%}[/] (best val {result.train.best_val_acc:.2%}, "
        f"epoch {result.train.best_epoch}) in {result.train.seconds:.0f} s"
    )
    console.print(f"checkpoint: {result.checkpoint}")
