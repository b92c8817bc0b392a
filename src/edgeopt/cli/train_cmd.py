"""``edgeopt train``: train a model on a dataset and save a checkpoint every command reads."""

from __future__ import annotations

from pathlib import Path

import typer

from edgeopt.cli.common import (
    FORCE_OPTION,
    MODEL_ARG_OPTION,
    TRUST_OPTION,
    WEIGHTS_OPTION,
    check_output,
    console,
    load_data,
    make_config,
    open_source,
)


def train(
    model: str = typer.Argument(
        ..., help="Registry name or package.module:factory (see 'edgeopt models'), or a model file to train further."
    ),
    data: str = typer.Option(
        "mnist5k", "--data", "-d", help="Bundled dataset name or a path (see 'edgeopt datasets')."
    ),
    epochs: int = typer.Option(10, "--epochs", "-e", min=1, help="Training epochs."),
    out: Path = typer.Option(..., "--out", "-o", help="Output directory (model.pt, train.json)."),
    model_arg: list[str] = MODEL_ARG_OPTION,
    weights: Path = WEIGHTS_OPTION,
    batch_size: int = typer.Option(64, "--batch-size", min=1),
    lr: float = typer.Option(3e-3, "--lr", help="Peak learning rate (AdamW, cosine schedule)."),
    augment_shift: int = typer.Option(
        0, "--augment-shift", min=0, help="Random translation in pixels, e.g. 2 for 28×28 digits (0: off)."
    ),
    seed: int = typer.Option(0, "--seed"),
    trust_code: bool = TRUST_OPTION,
    force: bool = FORCE_OPTION,
) -> None:
    """Train MODEL on DATA, report test accuracy and save an edgeopt checkpoint.

    The number of classes and input channels are taken from the data unless given with -a.
    """
    from edgeopt.cli.transform_run import run_transform
    from edgeopt.train import Train, TrainConfig, seed_everything

    config = make_config(
        TrainConfig, epochs=epochs, batch_size=batch_size, lr=lr, augment_shift=augment_shift, seed=seed
    )
    check_output(out, force=force, inputs=(model, weights), directory=True)
    splits = load_data(data)
    assert splits is not None
    seed_everything(seed)  # the initial weights too, so a run is repeatable
    opened = open_source(model, model_arg=model_arg, weights=weights, trust_code=trust_code, data=splits)
    applied = run_transform(Train(train=config), opened, out, data=splits)
    history = applied.result.report["train"]
    console.print(
        f"test accuracy [bold]{applied.rows['after']['test_accuracy']:.2%}[/] (best val "
        f"{history['best_val_acc']:.2%}, epoch {history['best_epoch']}) in {history['seconds']:.0f} s"
    )
    console.print(f"checkpoint: {applied.checkpoint}", highlight=False)
