"""``edgeopt diff``: the float model against its deployed int8 file, layer by layer, on real inputs."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.table import Table

from edgeopt.cli.common import (
    FORCE_OPTION,
    INPUT_SIZE_OPTION,
    MODEL_ARG_OPTION,
    MODEL_HELP,
    TRUST_OPTION,
    WEIGHTS_OPTION,
    check_output,
    console,
    example_input,
    load_data,
    open_source,
    print_json,
)
from edgeopt.errors import EdgeoptError, suggest

if TYPE_CHECKING:
    from edgeopt.quantize import LayerDiff

SPLITS = ("val", "test", "train")
ORDERS = ("worst", "exec")
_ARTIFACT_SUFFIXES = (".onnx", ".pte")


def diff(
    model: str = typer.Argument(..., help=MODEL_HELP + " The float model the int8 file was made from."),
    artifact: Path = typer.Argument(..., help="The int8 file: a QDQ .onnx (per layer) or a .pte (at its "
                                    "delegate's border)."),
    data: str = typer.Option(..., "--data", "-d", help="Dataset whose inputs both run on, e.g. mnist5k."),
    split: str = typer.Option("val", "--split", help="Which split's inputs: val, test or train."),
    samples: int = typer.Option(256, "--samples", "-n", min=1, help="Inputs compared (the split's first ones)."),
    threshold_db: float = typer.Option(10.0, "--threshold-db",
                                       help="Accumulated SQNR below which a layer has lost the signal."),
    order: str = typer.Option("worst", "--order", help="worst (lowest SQNR first) or exec (execution order)."),
    limit: int = typer.Option(None, "--limit", min=1, help="Show at most this many rows (the marked one always)."),
    output: Path = typer.Option(None, "--output", "-o", help="Also write the result as JSON to this file."),
    model_arg: list[str] = MODEL_ARG_OPTION,
    weights: Path = WEIGHTS_OPTION,
    input_size: str = INPUT_SIZE_OPTION,
    trust_code: bool = TRUST_OPTION,
    force: bool = FORCE_OPTION,
    as_json: bool = typer.Option(False, "--json", help="Print machine-readable JSON instead of a table."),
) -> None:
    """Run MODEL and ARTIFACT on the same inputs and show, per layer, where the int8 file departs.

    Per quantized tensor: the SQNR of the layer alone (its nodes cut out of the file and fed the
    float input), the SQNR accumulated from the input to it, the largest error and the share of
    values its quantizer clips. The first layer whose accumulated SQNR falls below the threshold
    is marked. ONNX files run in ONNX Runtime as deployed; a .pte is compared at its output (the
    XNNPACK delegate's border: ExecuTorch cannot see inside a delegate).
    """
    if split not in SPLITS:
        raise EdgeoptError(f"unknown split {split!r}", hint=suggest(split, SPLITS) or f"use one of {', '.join(SPLITS)}")
    if order not in ORDERS:
        raise EdgeoptError(f"unknown order {order!r}", hint=suggest(order, ORDERS) or f"use one of {', '.join(ORDERS)}")
    _check_artifact(artifact)
    if output is not None:
        check_output(output, force=force, inputs=(model, weights, artifact), directory=False)
    from edgeopt.quantize import diff as layer_diff

    splits = load_data(data)
    assert splits is not None  # --data is required
    opened = open_source(model, model_arg=model_arg, weights=weights, trust_code=trust_code, data=splits,
                         input_size=input_size)
    inputs = getattr(splits, split)
    result = layer_diff(opened.model, artifact, inputs, example_input=example_input(opened, splits),
                        max_samples=samples, threshold_db=threshold_db)
    record = {"model": model, "artifact": str(artifact), "data": splits.name, "split": split, **result.to_dict()}
    if output is not None:
        from edgeopt.utils import write_json_atomic

        write_json_atomic(output, record)
    if as_json:
        print_json(record)
        return
    console.print(diff_table(result, order, limit))
    console.print(result.summary(), highlight=False)
    if output is not None:
        console.print(f"Wrote {output}", highlight=False)


def _check_artifact(artifact: Path) -> None:
    """The artifact exists and is a file diff can read: refused before any model is opened."""
    if not str(artifact).strip():
        raise EdgeoptError("the artifact is empty", hint="pass the .onnx or .pte file `edgeopt quantize` wrote")
    if not artifact.exists():
        raise EdgeoptError(f"the artifact {str(artifact)!r} does not exist",
                           hint="pass the .onnx or .pte file `edgeopt quantize` wrote")
    if artifact.is_dir():
        raise EdgeoptError(f"the artifact {str(artifact)!r} is a directory",
                           hint="pass the file in it, e.g. model.int8.onnx")
    if artifact.suffix.lower() not in _ARTIFACT_SUFFIXES:
        raise EdgeoptError(f"diff compares a model with an int8 .onnx or .pte file, not {artifact.name!r}",
                           hint="pass the file `edgeopt quantize` wrote (OUT/model.int8.onnx)")


def diff_table(result: LayerDiff, order: str = "worst", limit: int | None = None) -> Table:
    """The rows as a table; with ``limit``, the first rows plus the marked one."""
    rows = result.table(order=order)
    if limit is not None and len(rows) > limit:
        marked = [row for row in rows[limit:] if row[-1]]
        rows = rows[:limit] + marked
    title = f"Float model vs int8 file ({result.runtime}, {result.scope}, {result.samples} inputs)"
    table = Table(title=title, caption=result.note)
    for column, justify in (("#", "right"), ("layer", "left"), ("op", "left"), ("SQNR alone dB", "right"),
                            ("SQNR accumulated dB", "right"), ("max error", "right"), ("saturated", "right"),
                            ("", "left")):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]  # rich's Literal
    for row in rows:
        table.add_row(*[_style(cell, row[-1]) for cell in row])
    return table


def _style(cell: str, marked: Any) -> str:
    from rich.markup import escape

    return f"[bold red]{escape(cell)}[/]" if marked and cell else escape(cell)
