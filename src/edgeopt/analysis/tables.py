"""Rich tables for profiles and conv comparisons, with readable numbers.

Example:
    >>> from rich.console import Console
    >>> Console().print(format_profile_table(profile(model), max_rows=20))  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

from rich.table import Table

from edgeopt.analysis.conv_compare import ConvComparison
from edgeopt.analysis.results import ModelProfile
from edgeopt.utils.units import format_bytes, format_count

# format_bytes / format_count are defined once in edgeopt.utils.units (the HTML report uses them
# too); named here because callers know them as analysis helpers.
__all__ = ["format_bytes", "format_comparison_table", "format_count", "format_profile_table", "format_shape"]


def format_shape(shape: Any) -> str:
    """``(1, 32, 112, 112)`` -> ``'1×32×112×112'``; several outputs are comma-separated."""
    if shape and isinstance(shape[0], (tuple, list)):
        return ", ".join(format_shape(s) for s in shape)
    return "×".join(str(d) for d in shape) if shape else "scalar"


def _caption(p: ModelProfile) -> str:
    return (f"Total: {format_count(p.macs)} MACs ({p.macs:,}) · {format_count(p.params)} params "
            f"({format_bytes(p.param_bytes)}) · peak activations "
            f"{format_bytes(p.peak_activation_bytes)} at {p.peak_layer} · "
            f"input {format_shape(p.input_size)} · traced with {p.method}")


def format_profile_table(profile: ModelProfile, max_rows: int | None = None) -> Table:
    """One row per executed op: name, op, output shape, params, MACs, activation memory.

    Args:
        profile: The profile to show.
        max_rows: Show only the first ``max_rows`` rows, then a line counting the rest.

    Returns:
        A :class:`rich.table.Table` whose caption gives the totals.
    """
    table = Table(title="Model profile", caption=_caption(profile), caption_justify="left")
    table.add_column("#", justify="right", style="dim")
    table.add_column("layer")
    table.add_column("op")
    table.add_column("output")
    for column in ("params", "MACs", "activation"):
        table.add_column(column, justify="right")
    shown = profile.layers if max_rows is None else profile.layers[:max(max_rows, 0)]
    for i, layer in enumerate(shown):
        memory = format_bytes(layer.activation_bytes) + (" (alias)" if layer.alias else "")
        table.add_row(str(i), layer.name, layer.op_type, format_shape(layer.output_shape),
                      format_count(layer.params) if layer.params else "",
                      format_count(layer.macs) if layer.macs else "", memory)
    hidden = len(profile.layers) - len(shown)
    if hidden > 0:
        table.add_row("…", f"{hidden} more rows", "", "", "", "", "")
    return table


def format_comparison_table(cmp: ConvComparison) -> Table:
    """Standard conv against depthwise separable conv: MACs and params, and their ratio."""
    k, n = cmp.kernel, cmp.out_ch
    exact = "exactly equal" if cmp.exact_match else "not equal"
    table = Table(
        title=(f"{cmp.in_ch}→{cmp.out_ch} channels, {k}×{k} kernel, {cmp.height}×{cmp.width} "
               f"input, stride {cmp.stride}"),
        caption=(f"separable / standard MACs = {cmp.ratio:.4f}; paper 1/N + 1/k² = 1/{n} + "
                 f"1/{k * k} = {cmp.paper_ratio:.4f} ({exact})"),
        caption_justify="left")
    table.add_column("conv")
    table.add_column("MACs", justify="right")
    table.add_column("params", justify="right")
    rows = [(f"standard {k}×{k}", cmp.standard_macs, cmp.standard_params),
            (f"  depthwise {k}×{k}", cmp.depthwise_macs, cmp.in_ch * k * k),
            ("  pointwise 1×1", cmp.pointwise_macs, cmp.in_ch * cmp.out_ch),
            ("depthwise separable", cmp.separable_macs, cmp.separable_params)]
    for label, macs, params in rows:
        table.add_row(label, f"{format_count(macs)} ({macs:,})", f"{params:,}")
    return table
