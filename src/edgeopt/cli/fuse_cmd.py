"""``edgeopt fuse``: fold BatchNorm into the conv/linear layers before it, and show what changed."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.table import Table

from edgeopt.artifact import CHECKPOINT_SUFFIXES, PROGRAM_SUFFIX
from edgeopt.cli.common import (
    FORCE_OPTION,
    INPUT_SIZE_OPTION,
    MODEL_ARG_OPTION,
    MODEL_HELP,
    TRUST_OPTION,
    WEIGHTS_OPTION,
    check_output,
    console,
    open_source,
)
from edgeopt.errors import EdgeoptError

if TYPE_CHECKING:
    from torch import Tensor, nn


def fuse(
    model: str = typer.Argument(..., help=MODEL_HELP),
    model_arg: list[str] = MODEL_ARG_OPTION,
    weights: Path = WEIGHTS_OPTION,
    input_size: str = INPUT_SIZE_OPTION,
    output: Path = typer.Option(
        None, "--output", "-o",
        help="Save the fused model: .pt/.safetensors (an edgeopt checkpoint every command reads) or .pt2 "
        "(a torch.export program).",
    ),
    trust_code: bool = TRUST_OPTION,
    force: bool = FORCE_OPTION,
    as_json: bool = typer.Option(False, "--json", help="Print machine-readable JSON instead of tables."),
) -> None:
    """Fold every BatchNorm into the conv or linear layer before it (torch.fx), checked against
    the original model.

    Prints each fusion, params and MACs before and after, and the self-check error (outputs of
    the fused and the original model in eval mode, relative to the output's scale).
    """
    if output is not None and output.suffix not in (*CHECKPOINT_SUFFIXES, PROGRAM_SUFFIX):
        raise EdgeoptError(f"don't know how to save {output.name!r}",
                           hint="use .pt or .safetensors (edgeopt checkpoint) or .pt2 (torch.export)")
    from edgeopt.cli.transform_run import run_transform, show
    from edgeopt.fuse import Fuse

    if output is not None:
        check_output(output, force=force, inputs=(model, weights), directory=False)
    opened = open_source(model, model_arg=model_arg, weights=weights, trust_code=trust_code, input_size=input_size)
    as_checkpoint = output is not None and output.suffix != PROGRAM_SUFFIX
    applied = run_transform(Fuse(), opened, None, data=None, checkpoint=output if as_checkpoint else None)
    if output is not None and not as_checkpoint:
        from edgeopt.cli.common import example_input

        _save_program(output, applied.model, example_input(opened))
    report = applied.result.report["fusion"]
    if as_json:
        show(applied, as_json=True)
        return
    _print_fusions(report)
    show(applied, title="Fusion")
    console.print(f"Summary: folded {len(report['fused'])} BatchNorm layers, {report['batchnorm_after']} left; "
                  f"self-check max rel error {report['max_rel_error']:.2g} over {report['checked_samples']} samples",
                  highlight=False)
    if output is not None and not as_checkpoint:
        console.print(f"Wrote [bold]{output}[/]", highlight=False)


def _save_program(output: Path, fused: nn.Module, example: Tensor) -> Path:
    import torch

    from edgeopt.utils import atomic_path

    # Export at batch 2 so the batch dimension stays dynamic (torch.export specialises 0 and 1).
    batch = torch.export.Dim("batch", min=1)
    program = torch.export.export(fused, (example[:1].expand(2, *example.shape[1:]).clone(),),
                                  dynamic_shapes=({0: batch},))
    with atomic_path(output) as tmp:
        torch.export.save(program, str(tmp))
    return output


def _print_fusions(report: dict[str, Any]) -> None:
    table = Table(title=f"Fusions ({len(report['fused'])})", title_justify="left")
    for column in ("#", "pattern", "modules (folded into the first)"):
        table.add_column(column)
    for i, fusion in enumerate(report["fused"], 1):
        table.add_row(str(i), fusion["pattern"], " → ".join(fusion["modules"]))
    console.print(table)
    if report["skipped"]:
        skipped = Table(title=f"Left unfused ({len(report['skipped'])})", title_justify="left")
        for column in ("pattern", "modules", "why"):
            skipped.add_column(column)
        for item in report["skipped"]:
            skipped.add_row(item["pattern"], " → ".join(item["modules"]), item["reason"])
        console.print(skipped)
