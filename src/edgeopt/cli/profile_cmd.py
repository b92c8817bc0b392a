"""``edgeopt profile``: parameters, multiply-adds and activation memory, per layer and in total."""

from __future__ import annotations

from pathlib import Path

import typer

from edgeopt.cli.common import (
    INPUT_SIZE_OPTION,
    MODEL_ARG_OPTION,
    MODEL_HELP,
    TRUST_OPTION,
    WEIGHTS_OPTION,
    console,
    print_json,
    profile_source,
)
from edgeopt.errors import EdgeoptError

# The paper's worked example (Howard et al. 2017, section 3.1 / Table 3): a 14×14×512 map,
# 3×3 kernels, 512 output channels.
PAPER_LAYER = "512,512,3,14"


def profile(
    model: str = typer.Argument(None, help=MODEL_HELP + " Or an exported .onnx file."),
    input_size: str = INPUT_SIZE_OPTION,
    model_arg: list[str] = MODEL_ARG_OPTION,
    weights: Path = WEIGHTS_OPTION,
    trust_code: bool = TRUST_OPTION,
    as_json: bool = typer.Option(False, "--json", help="Print machine-readable JSON instead of tables."),
    max_rows: int = typer.Option(60, "--max-rows", min=0, help="Rows of the per-layer table to show (0: all)."),
    compare_conv: bool = typer.Option(
        False, "--compare-conv", help="Compare a standard conv with a depthwise separable one (no MODEL)."
    ),
    layer: str = typer.Option(
        PAPER_LAYER, "--layer", help="For --compare-conv: IN,OUT,KERNEL,SIZE[,STRIDE]."
    ),
) -> None:
    """Profile a model: per-layer params, MACs (multiply-adds) and activation memory, and totals.

    A MAC is one multiply plus one accumulate in a conv, linear or matmul (the MobileNet paper's
    mult-adds); see docs/profiling.md. Peak activation memory is the largest sum of live tensors
    over the execution order.
    """
    if compare_conv:
        _compare(layer, as_json)
        return
    if model is None:
        raise EdgeoptError("missing MODEL", hint="e.g. edgeopt profile mobilenet_v1, or --compare-conv")
    from edgeopt.analysis import format_profile_table

    result, _ = profile_source(model, input_size=input_size, model_arg=model_arg, weights=weights,
                               trust_code=trust_code)
    if as_json:
        print_json({"model": model, **result.to_dict()})
    else:
        console.print(format_profile_table(result, max_rows=max_rows or None))


def _compare(layer: str, as_json: bool) -> None:
    from edgeopt.analysis import compare_conv, format_comparison_table

    try:
        dims = [int(v) for v in layer.split(",")]
        if len(dims) not in (4, 5) or min(dims) <= 0:
            raise ValueError
    except ValueError:
        raise EdgeoptError(
            f"layer {layer!r} is not IN,OUT,KERNEL,SIZE[,STRIDE]", hint=f"e.g. --layer {PAPER_LAYER}"
        ) from None
    in_ch, out_ch, kernel, size, *rest = dims
    result = compare_conv(in_ch, out_ch, kernel, size, size, stride=rest[0] if rest else 1)
    if as_json:
        print_json(result.to_dict())
    else:
        console.print(format_comparison_table(result))
