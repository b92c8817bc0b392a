"""``edgeopt fuse``: fold BatchNorm into the conv/linear layers before it, and show what changed."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.table import Table

from edgeopt.cli.common import console, parse_input_size, parse_model_args, print_json
from edgeopt.errors import EdgeoptError

if TYPE_CHECKING:
    from torch import Tensor, nn

    from edgeopt.analysis import ModelProfile
    from edgeopt.fuse import FusionReport

CHECKPOINT_SUFFIXES = (".pt", ".pth", ".safetensors")


def fuse(
    model: str = typer.Argument(
        ..., help="Registry name, package.module:factory, a .pt2 program or an edgeopt checkpoint."
    ),
    model_arg: list[str] = typer.Option(
        None, "--model-arg", "-a", help="Model option KEY=VALUE (repeatable), e.g. -a width_mult=0.5."
    ),
    weights: Path = typer.Option(None, "--weights", "-w", help="State dict (.pt/.safetensors) to load."),
    input_size: str = typer.Option(
        None, "--input-size", "-i", help="C,H,W (or N,C,H,W). Default: the checkpoint's, else 3,224,224."
    ),
    output: Path = typer.Option(
        None, "--output", "-o",
        help="Save the fused model: .pt/.safetensors (edgeopt checkpoint; registry models and "
        "checkpoints) or .pt2 (torch.export program; any model).",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print machine-readable JSON instead of tables."),
) -> None:
    """Fold every BatchNorm into the conv or linear layer before it (torch.fx), checked against
    the original model.

    Prints each fusion, params and MACs before and after, and the self-check error (outputs of
    the fused and the original model in eval mode, relative to the output's scale).
    """
    if output is not None and output.suffix not in (*CHECKPOINT_SUFFIXES, ".pt2"):
        raise EdgeoptError(f"don't know how to save {output.name!r}",
                           hint="use .pt or .safetensors (edgeopt checkpoint) or .pt2 (torch.export)")
    import torch

    from edgeopt.analysis import profile as run_profile
    from edgeopt.fuse import fuse_with_report

    net, source = _load(model, weights, parse_model_args(model_arg))
    saved_size = source["metadata"].get("input_size", (1, 3, 224, 224))
    size = parse_input_size(input_size) if input_size else tuple(saved_size)
    example = torch.randn(size, generator=torch.Generator().manual_seed(0))
    fused, report = fuse_with_report(net, example)
    before, after = run_profile(net, example_input=example), run_profile(fused, example_input=example)
    written = _save(output, fused, report, source, example) if output else None
    if as_json:
        print_json({"model": model, "input_size": list(size), "before": _costs(before),
                    "after": _costs(after), "report": report.to_dict(),
                    "output": str(written) if written else None})
        return
    _print_tables(report, before, after)
    if written:
        console.print(f"Wrote [bold]{written}[/]", highlight=False)


def _load(model: str, weights: Path | None, kwargs: dict[str, Any]) -> tuple[nn.Module, dict[str, Any]]:
    """The model, and what rebuilds it: registry name and arguments, checkpoint metadata."""
    from edgeopt.models import list_models
    from edgeopt.models.loading import load_model_with_metadata, load_weights

    path = Path(model)
    if path.suffix in CHECKPOINT_SUFFIXES and path.is_file() and not kwargs:
        from edgeopt.checkpoint import load_checkpoint
        from edgeopt.fuse.checkpoint import FUSED_KEY, is_fused_checkpoint, load_fused_checkpoint

        ckpt = load_fused_checkpoint(path) if is_fused_checkpoint(path) else load_checkpoint(path)
        if weights is not None:
            load_weights(ckpt.model, weights)
        metadata = {k: v for k, v in ckpt.metadata.items() if k != FUSED_KEY}
        return ckpt.model, {"name": ckpt.model_name, "kwargs": ckpt.model_kwargs, "metadata": metadata}
    net, metadata = load_model_with_metadata(model, weights=weights, **kwargs)
    name = model if model in list_models() else None
    return net, {"name": name, "kwargs": kwargs, "metadata": metadata}


def _save(output: Path, fused: nn.Module, report: FusionReport, source: dict[str, Any],
          example: Tensor) -> Path:
    if output.suffix == ".pt2":
        return _save_program(output, fused, example)
    if not source["name"]:
        raise EdgeoptError(
            "only registry models and edgeopt checkpoints can be saved as a fused checkpoint "
            "(it is rebuilt from the registry on load)",
            hint=f"save it as a torch.export program instead: -o {output.with_suffix('.pt2')}",
        )
    from edgeopt.fuse import save_fused_checkpoint

    return save_fused_checkpoint(output, fused, model_name=source["name"], model_kwargs=source["kwargs"],
                                 input_size=tuple(example.shape), report=report,
                                 metadata=source["metadata"])


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


def _costs(p: ModelProfile) -> dict[str, int]:
    return {"params": p.params, "macs": p.macs, "param_bytes": p.param_bytes}


def _print_tables(report: FusionReport, before: ModelProfile, after: ModelProfile) -> None:
    from edgeopt.analysis.tables import format_bytes, format_count

    table = Table(title=f"Fusions ({len(report.fused)})", title_justify="left")
    for column in ("#", "pattern", "modules (folded into the first)"):
        table.add_column(column)
    for i, fusion in enumerate(report.fused, 1):
        table.add_row(str(i), fusion.pattern, " → ".join(fusion.modules))
    console.print(table)
    if report.skipped:
        skipped = Table(title=f"Left unfused ({len(report.skipped)})", title_justify="left")
        for column in ("pattern", "modules", "why"):
            skipped.add_column(column)
        for item in report.skipped:
            skipped.add_row(item.pattern, " → ".join(item.modules), item.reason)
        console.print(skipped)
    costs = Table(title="Cost", title_justify="left")
    for column in ("", "params", "MACs", "param bytes", "BatchNorm layers"):
        costs.add_column(column, justify="right")
    costs.add_row("before", format_count(before.params), format_count(before.macs),
                  format_bytes(before.param_bytes), str(report.batchnorm_before))
    costs.add_row("after", format_count(after.params), format_count(after.macs),
                  format_bytes(after.param_bytes), str(report.batchnorm_after))
    console.print(costs)
    console.print(f"Summary: {report.summary()}", highlight=False)
