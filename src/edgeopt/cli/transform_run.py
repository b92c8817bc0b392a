"""What every transforming command does: apply the config, save, compare before and after.

``prune``, ``fuse``, ``distill``, ``quantize``, ``train`` and ``export`` parse their options into
a transform config and call :func:`run_transform`: the same :func:`edgeopt.transform.apply` a
recipe step calls, so one config gives one model whichever way it was invoked. It writes
``OUT/model.pt`` (the new model with its lineage, so every later command reads it), the files the
transform made, and ``OUT/<type>.json``; then prints one before/after table: parameters, MACs,
weight bytes, test accuracy, every file made, and (``--latency``) the latency of both models
measured side by side in ONNX Runtime or ExecuTorch.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.table import Table
from torch import nn

from edgeopt.checkpoint import Checkpoint, save_checkpoint
from edgeopt.cli.common import console, example_input, print_json
from edgeopt.data import DatasetSplits
from edgeopt.transform import Inputs, Result, Transform, apply
from edgeopt.utils.units import format_bytes, format_count

CHECKPOINT_NAME = "model.pt"


@dataclass
class Applied:
    """A transform applied by a command: the result, and the checkpoint of the new model."""

    transform: Transform
    before: Checkpoint
    result: Result
    checkpoint: Path | None = None
    rows: dict[str, dict[str, Any]] = field(default_factory=dict)
    input_size: tuple[int, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def model(self) -> nn.Module:
        """The model after the transform (the input's when the transform made files only)."""
        return self.result.model if self.result.model is not None else self.before.model


def run_transform(transform: Transform, opened: Checkpoint, out_dir: Path | None, *, data: DatasetSplits | None,
                  resolve: Any = None, name: str = "model", latency: str | None = None, threads: int = 2,
                  checkpoint: Path | None = None, extra: dict[str, Any] | None = None) -> Applied:
    """Apply ``transform`` to ``opened``, save what it made into ``out_dir``, measure both sides.

    Args:
        transform: The validated config.
        opened: The input model with its lineage (:func:`edgeopt.cli.common.open_source`).
        out_dir: Where the checkpoint, the files and the JSON record go (None: nothing is saved).
        data: The data (fine-tuning, calibration, accuracy), or None.
        resolve: Loads models other options name (a distillation teacher).
        name: Stem of the files the transform writes.
        latency: ``onnx`` or ``executorch``: also time before and after in that runtime.
        threads: Threads for the latency comparison.
        checkpoint: Where the new model goes instead of ``out_dir/model.pt`` (no JSON record then).
        extra: More figures for the JSON record (e.g. the teacher's).
    """
    example = example_input(opened, data)
    inputs = Inputs(example=example, data=data, out_dir=out_dir, name=name, resolve=resolve)
    result = apply(transform, opened.model, inputs)
    applied = Applied(transform, opened, result, input_size=tuple(example.shape), extra=dict(extra or {}))
    applied.rows = compare(applied, example, data, latency, threads)
    target = checkpoint or (out_dir / CHECKPOINT_NAME if out_dir is not None else None)
    if result.model is not None and opened.lineage is not None and target is not None:
        metadata = {**result.metrics, "dataset": data.name if data else None,
                    "test_accuracy": applied.rows["after"].get("test_accuracy")}
        applied.checkpoint = save_checkpoint(target, result.model, opened.lineage.then(transform, result),
                                             metadata=metadata, input_size=tuple(example.shape))
    if out_dir is not None and checkpoint is None:
        from edgeopt.utils import write_json_atomic

        write_json_atomic(out_dir / f"{transform.type}.json", record(applied))
    return applied


def compare(applied: Applied, example: Any, data: DatasetSplits | None, latency: str | None,
            threads: int) -> dict[str, dict[str, Any]]:
    """Figures of the model before and after: costs, accuracy, and (optionally) measured latency."""
    from edgeopt.analysis import profile
    from edgeopt.train import evaluate

    rows: dict[str, dict[str, Any]] = {}
    for side, model in (("before", applied.before.model), ("after", applied.model)):
        cost = profile(model, example_input=example)
        rows[side] = {"params": cost.params, "macs": cost.macs, "param_bytes": cost.param_bytes}
        if data is not None:
            rows[side]["test_accuracy"] = evaluate(model, data.test).accuracy
    # Figures the transform measured itself (on its int8 file, of its zeros) replace or add to these.
    rows["after"].update({k: v for k, v in applied.result.metrics.items() if k in _KEYS and v is not None})
    if latency:
        _latency(applied, example, data, latency, threads, rows)
    return rows


def _latency(applied: Applied, example: Any, data: DatasetSplits | None, fmt: str, threads: int,
             rows: dict[str, dict[str, Any]]) -> None:
    """Both sides as files of one format, measured interleaved in one bench run (DESIGN.md)."""
    from edgeopt.export.transform import Export
    from edgeopt.runtime.transform import Bench

    made = [a for a in applied.result.artifacts if a.format == fmt]
    with tempfile.TemporaryDirectory(prefix="edgeopt-compare-") as tmp:
        export = Export.model_validate({"formats": [fmt]})  # fmt is checked by the validation
        files = [export.apply(applied.before.model, Inputs(example=example, out_dir=Path(tmp), name="before"))
                 .artifacts[0]]
        if made:
            files.append(made[0])
        else:
            files.append(export.apply(applied.model, Inputs(example=example, out_dir=Path(tmp), name="after"))
                         .artifacts[0])
        measured = Bench(threads=threads, memory=False, runs=60, rounds=3).measure(files, data)
    for side, art in zip(("before", "after"), measured, strict=True):
        m = art.measurements[-1]
        rows[side].update(latency_ms=m.latency_ms_median, latency_spread_ms=m.latency_ms_spread,
                          file_bytes=art.size_bytes, file_accuracy=m.accuracy, runtime=m.runtime)


def record(applied: Applied) -> dict[str, Any]:
    """What the command writes to ``OUT/<type>.json`` and prints with ``--json``."""
    return {"transform": applied.transform.config(), "input": str(applied.before.path or ""),
            "input_size": list(applied.input_size),
            "checkpoint": str(applied.checkpoint) if applied.checkpoint else None,
            "lineage": applied.before.lineage.then(applied.transform, applied.result).summary()
            if applied.before.lineage else None,
            "before": applied.rows.get("before"), "after": applied.rows.get("after"),
            "artifacts": [a.to_dict() for a in applied.result.artifacts],
            "metrics": applied.result.metrics, "report": applied.result.report, **applied.extra}


def show(applied: Applied, as_json: bool = False, title: str | None = None) -> None:
    """Print the before/after table and the files written (or the JSON record)."""
    if as_json:
        print_json(record(applied))
        return
    console.print(comparison_table(applied, title))
    files = [str(a.path) for a in applied.result.artifacts]
    if applied.checkpoint:
        files.insert(0, str(applied.checkpoint))
    if files:
        console.print(f"Wrote {', '.join(files)}", highlight=False)


def comparison_table(applied: Applied, title: str | None = None) -> Table:
    """One table for every transform: each figure before, after, and after ÷ before."""
    before, after = applied.rows["before"], applied.rows["after"]
    table = Table(title=title or applied.transform.type,
                  caption="latency and 'on file' accuracy: measured on the files, side by side" if
                  "latency_ms" in after else None)
    for column in ("", "before", "after", "after / before"):
        table.add_column(column, justify="left" if not column else "right")
    for label, key, fmt in _ROWS:
        if after.get(key) is None:
            continue
        old = before.get(key)
        ratio = f"{after[key] / old:.3f}" if old else ""
        table.add_row(label if key != "latency_ms" else f"{label} ({after['runtime']})",
                      "" if old is None else fmt(old), fmt(after[key]), ratio)
    for art in applied.result.artifacts:
        table.add_row(f"file ({art.format}, {art.precision})", "", f"{Path(art.path).name} "
                      f"{format_bytes(art.size_bytes)}", "")
    return table


_ROWS = (
    ("params", "params", format_count),
    ("MACs", "macs", format_count),
    ("weights", "param_bytes", format_bytes),
    ("test accuracy", "test_accuracy", lambda v: f"{v:.2%}"),
    ("file size", "file_bytes", format_bytes),
    ("accuracy on file", "file_accuracy", lambda v: f"{v:.2%}"),
    ("latency ms, median", "latency_ms", lambda v: f"{v:.3f}"),
    ("sparsity", "sparsity", lambda v: f"{v:.1%}"),
    ("weights compressed", "compressed_bytes", format_bytes),
)
_KEYS = {key for _, key, _ in _ROWS}
