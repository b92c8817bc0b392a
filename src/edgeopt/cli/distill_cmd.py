"""``edgeopt distill``: train a student from a teacher, save it, compare the two."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from edgeopt.cli.common import (
    FORCE_OPTION,
    MODEL_ARG_OPTION,
    TRUST_OPTION,
    check_output,
    console,
    make_config,
    open_source,
)
from edgeopt.errors import EdgeoptError

if TYPE_CHECKING:
    from torch import nn

    from edgeopt.data import DatasetSplits


def distill(
    teacher: Path = typer.Option(..., "--teacher", "-t", help="Teacher: a model file (an edgeopt checkpoint or .pt2)."),
    student: str = typer.Option(
        ..., "--student", "-s", help="Student: a registry name or module:factory (with -a options), or a model file."
    ),
    out: Path = typer.Option(..., "--out", "-o", help="Output directory (model.pt, distill.json)."),
    model_arg: list[str] = MODEL_ARG_OPTION,
    data: str = typer.Option(None, "--data", "-d", help="Dataset name or path. Default: the teacher's dataset."),
    temperature: float = typer.Option(4.0, "--temperature", "-T", help="Softening temperature T (> 0)."),
    alpha: float = typer.Option(
        0.7, "--alpha", help="Weight of the teacher's soft targets in [0, 1]; 0 = labels only."
    ),
    feature: list[str] = typer.Option(
        None,
        "--feature",
        "-f",
        help="Feature hint TEACHER_LAYER:STUDENT_LAYER (repeatable), e.g. features.6:features.6.",
    ),
    feature_weight: float = typer.Option(1.0, "--feature-weight", help="Weight β of the feature MSE."),
    epochs: int = typer.Option(10, "--epochs", "-e", min=1, help="Training epochs."),
    batch_size: int = typer.Option(64, "--batch-size", min=1),
    lr: float = typer.Option(3e-3, "--lr", help="Peak learning rate (AdamW, cosine schedule)."),
    augment_shift: int = typer.Option(
        0, "--augment-shift", min=0, help="Random translation in pixels (0: off, and teacher outputs are cached)."
    ),
    seed: int = typer.Option(0, "--seed"),
    trust_code: bool = TRUST_OPTION,
    force: bool = FORCE_OPTION,
    as_json: bool = typer.Option(False, "--json", help="Print machine-readable JSON instead of a table."),
) -> None:
    """Distill TEACHER into STUDENT on DATA; save the student and report both on the test split.

    Loss: α·T²·KL(teacher ‖ student, softened at T) + (1−α)·cross-entropy [+ β·feature MSE].
    """
    from edgeopt.cli.transform_run import run_transform, show
    from edgeopt.data import load_dataset
    from edgeopt.distill import Distill
    from edgeopt.loading import check_input_size, open_model
    from edgeopt.train import TrainConfig, seed_everything

    train = make_config(
        TrainConfig, epochs=epochs, batch_size=batch_size, lr=lr, augment_shift=augment_shift, seed=seed
    )
    config = make_config(
        Distill,
        teacher=str(teacher),
        temperature=temperature,
        alpha=alpha,
        features=feature or None,
        feature_weight=feature_weight,
        train=train,
    )
    check_output(out, force=force, inputs=(teacher, student), directory=True)
    try:
        teacher_model = open_model(teacher, trust_code=trust_code)
    except EdgeoptError as exc:
        raise EdgeoptError(f"teacher: {exc.message}", hint=exc.hint) from exc
    from edgeopt.data import list_datasets

    dataset = data or teacher_model.metadata.get("dataset")
    if not isinstance(dataset, str) or (not data and dataset not in list_datasets()):
        raise EdgeoptError(
            "the teacher does not name a bundled dataset it was trained on",
            hint="pass the data with --data NAME_OR_PATH",
        )
    splits = load_dataset(dataset)
    splits.check_split_sizes(val=True)
    check_input_size(teacher_model, splits)  # a teacher made for other inputs means nothing here
    seed_everything(seed)  # the student's initial weights, so a run is repeatable
    opened = open_source(student, model_arg=model_arg, trust_code=trust_code, data=splits)
    teacher_row = _summary(teacher_model.model, str(teacher), splits)
    applied = run_transform(
        config,
        opened,
        out,
        data=splits,
        resolve=lambda _: teacher_model.model,
        extra={"teacher": teacher_row, "dataset": splits.summary()},
    )
    show(applied, as_json, title=f"Distillation (T={temperature:g}, α={alpha:g}; test split of {splits.name})")
    if not as_json:
        console.print(
            f"teacher {teacher}: {teacher_row['params']:,} params, test accuracy {teacher_row['test_accuracy']:.2%}",
            highlight=False,
        )


def _summary(model: nn.Module, source: str, splits: DatasetSplits) -> dict[str, Any]:
    from edgeopt.analysis import profile
    from edgeopt.train import evaluate

    cost = profile(model, input_size=splits.input_shape())
    return {
        "source": source,
        "params": cost.params,
        "macs": cost.macs,
        "test_accuracy": evaluate(model, splits.test).accuracy,
    }
