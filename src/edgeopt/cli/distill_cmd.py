"""``edgeopt distill``: train a student from a teacher checkpoint, save it, compare the two."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.table import Table

from edgeopt.cli.common import console, parse_model_args
from edgeopt.errors import EdgeoptError

if TYPE_CHECKING:
    from torch import nn

    from edgeopt.checkpoint import Checkpoint
    from edgeopt.data import DatasetSplits


def distill(
    teacher: Path = typer.Option(..., "--teacher", "-t", help="Teacher: an edgeopt checkpoint (.pt/.safetensors)."),
    student: str = typer.Option(
        ..., "--student", "-s", help="Student: a registry name (with -a options) or an edgeopt checkpoint."
    ),
    out: Path = typer.Option(..., "--out", "-o", help="Output directory (model.pt, distill.json)."),
    model_arg: list[str] = typer.Option(
        None, "--model-arg", "-a", help="Student option KEY=VALUE (repeatable), e.g. -a width_mult=0.25."
    ),
    data: str = typer.Option(None, "--data", "-d", help="Dataset name or path. Default: the teacher's dataset."),
    temperature: float = typer.Option(4.0, "--temperature", "-T", help="Softening temperature T (> 0)."),
    alpha: float = typer.Option(0.7, "--alpha", help="Weight of the teacher's soft targets in [0, 1]; 0 = labels only."),
    feature: list[str] = typer.Option(
        None, "--feature", "-f", help="Feature hint TEACHER_LAYER:STUDENT_LAYER (repeatable), e.g. features.6:features.6."
    ),
    feature_weight: float = typer.Option(1.0, "--feature-weight", help="Weight β of the feature MSE."),
    epochs: int = typer.Option(10, "--epochs", "-e", min=1, help="Training epochs."),
    batch_size: int = typer.Option(64, "--batch-size", min=1),
    lr: float = typer.Option(3e-3, "--lr", help="Peak learning rate (AdamW, cosine schedule)."),
    augment_shift: int = typer.Option(
        0, "--augment-shift", min=0, help="Random translation in pixels (0: off, and teacher outputs are cached)."
    ),
    seed: int = typer.Option(0, "--seed"),
) -> None:
    """Distill TEACHER into STUDENT on DATA; save the student and report both on the test split.

    Loss: α·T²·KL(teacher ‖ student, softened at T) + (1−α)·cross-entropy [+ β·feature MSE].
    """
    from edgeopt.distill import distill as run_distill
    from edgeopt.train import TrainConfig, evaluate

    teacher_ckpt = _load_teacher(teacher)
    splits = _load_data(data, teacher_ckpt)
    _check_input_size(teacher_ckpt.metadata, splits, f"teacher {teacher}")
    config = TrainConfig(epochs=epochs, batch_size=batch_size, lr=lr, augment_shift=augment_shift, seed=seed)
    student_model, name, kwargs, kept = _load_student(student, parse_model_args(model_arg), splits, seed)
    result = run_distill(student_model, teacher_ckpt.model, splits.train, splits.val, config,
                         temperature=temperature, alpha=alpha, features=feature or None,
                         feature_weight=feature_weight)
    rows = {role: _summary(model, source, evaluate(model, splits.test).accuracy, splits)
            for role, model, source in (("teacher", teacher_ckpt.model, str(teacher)),
                                        ("student", result.model, student))}
    _save(out, result, rows, name, kwargs, kept, splits, config)
    console.print(_table(rows, splits.name, result.temperature, result.alpha))
    console.print(f"checkpoint: {out / 'model.pt'}", highlight=False)


def _load_teacher(path: Path) -> Checkpoint:
    if not path.is_file():
        what = "is a directory, not a file" if path.is_dir() else "does not exist"
        raise EdgeoptError(f"teacher checkpoint {path} {what}",
                           hint="train one with 'edgeopt train MODEL -o DIR' and pass DIR/model.pt")
    return _read_checkpoint(path)


def _read_checkpoint(path: str | Path) -> Checkpoint:
    """Any edgeopt checkpoint, including a structurally pruned one (registry model resized)."""
    from edgeopt.checkpoint import load_checkpoint
    from edgeopt.prune.structured_checkpoint import is_pruned_checkpoint, load_pruned_checkpoint

    return load_pruned_checkpoint(path) if is_pruned_checkpoint(path) else load_checkpoint(path)


def _load_data(data: str | None, teacher: Checkpoint) -> DatasetSplits:
    from edgeopt.data import list_datasets, load_dataset

    if data is None:
        data = teacher.metadata.get("dataset")
        if data not in list_datasets():
            raise EdgeoptError("the teacher checkpoint does not name a bundled dataset",
                               hint="pass the data with --data NAME_OR_PATH")
    return load_dataset(data)


def _check_input_size(metadata: dict[str, Any], splits: DatasetSplits, what: str) -> None:
    """A model trained on one input size would run on another (global pooling) but mean nothing."""
    recorded = metadata.get("input_size")
    actual = list(splits.input_shape())
    if recorded is not None and list(recorded)[1:] != actual[1:]:
        shape = "×".join(map(str, list(recorded)[1:]))
        raise EdgeoptError(
            f"{what} was trained on {shape} inputs but dataset '{splits.name}' has "
            f"{'×'.join(map(str, actual[1:]))}",
            hint="distill on the data the teacher was trained on",
        )


def _load_student(
    source: str, options: dict[str, Any], splits: DatasetSplits, seed: int
) -> tuple[nn.Module, str | None, dict[str, Any], dict[str, Any]]:
    """The student model, the registry name and options that rebuild it, and metadata to keep."""
    from edgeopt.models import list_models, load_model
    from edgeopt.models.loading import CHECKPOINT_SUFFIXES
    from edgeopt.train import seed_everything

    if source not in list_models() and (Path(source).suffix in CHECKPOINT_SUFFIXES or Path(source).exists()):
        if options:
            raise EdgeoptError(f"student options {sorted(options)} do not apply to the saved model {source!r}",
                               hint="a checkpoint keeps the architecture it was saved with")
        if not Path(source).is_file():
            raise EdgeoptError(f"student checkpoint {source} does not exist", hint="check the path")
        ckpt = _read_checkpoint(source)
        _check_input_size(ckpt.metadata, splits, f"student {source}")
        # a pruned student's marker must survive, or its distilled checkpoint would not reload
        kept = {k: v for k, v in ckpt.metadata.items() if k == "structured_pruning"}
        return ckpt.model, ckpt.model_name, dict(ckpt.model_kwargs), kept
    from edgeopt.baseline import infer_model_kwargs

    kwargs = infer_model_kwargs(source, splits, options)
    seed_everything(seed)  # the student's initial weights, so a run is repeatable
    model = load_model(source, **kwargs)
    return model, source, kwargs, {}


def _summary(model: nn.Module, source: str, accuracy: float, splits: DatasetSplits) -> dict[str, Any]:
    from edgeopt.analysis import profile

    cost = profile(model, input_size=splits.input_shape())
    return {"source": source, "test_accuracy": accuracy, "params": cost.params, "macs": cost.macs}


def _save(out: Path, result: Any, rows: dict[str, Any], name: str | None, kwargs: dict[str, Any],
          kept: dict[str, Any], splits: DatasetSplits, config: Any) -> None:
    from edgeopt.checkpoint import save_checkpoint
    from edgeopt.utils import write_json_atomic

    metadata = {**kept, "dataset": splits.name, "input_size": list(splits.input_shape()),
                "test_accuracy": rows["student"]["test_accuracy"], "distilled_from": rows["teacher"]["source"]}
    save_checkpoint(out / "model.pt", result.model, model_name=name, model_kwargs=kwargs, metadata=metadata)
    write_json_atomic(out / "distill.json", {
        "teacher": rows["teacher"], "student": {**rows["student"], "model_name": name, "model_kwargs": kwargs},
        "dataset": splits.summary(), "config": config.model_dump(), "distill": result.to_dict(),
    })


def _table(rows: dict[str, dict[str, Any]], data: str, temperature: float, alpha: float) -> Table:
    from edgeopt.analysis import format_count

    table = Table(title="Distillation", caption=f"test split of {data}; T={temperature:g}, α={alpha:g}")
    for column in ("", "model", "params", "MACs", "test accuracy"):
        table.add_column(column, justify="left" if column in ("", "model") else "right")
    for role, row in rows.items():
        table.add_row(role, row["source"], format_count(row["params"]), format_count(row["macs"]),
                      f"{row['test_accuracy']:.2%}")
    return table
