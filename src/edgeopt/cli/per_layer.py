"""``edgeopt bench FILE... --per-layer``: where each file's time goes, and which layers a variant slowed.

The bench command calls :func:`per_layer_report` when ``--per-layer`` is given. For each file it
prints the layers, slowest first: measured time per run, share of the layer sum, MACs, bytes and
the roofline estimate beside it, and the kernels that ran it; then the whole-model latency
measured in the same run and what the layers leave over (runtime overhead). Given several files
with layers of the same names (an fp32 and an int8 file of one model), it also prints, layer by
layer, how each file compares with the first: "which layer did int8 make slower".
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.table import Table

from edgeopt.cli.common import console, err_console, print_json

if TYPE_CHECKING:
    from edgeopt.artifact import Artifact
    from edgeopt.runtime.layer_profile import LayerProfile

DEFAULT_TOP = 25


def per_layer_report(
    files: list[Artifact],
    *,
    threads: int = 2,
    runs: int = 50,
    warmup: int = 10,
    rounds: int = 5,
    model: str | None = None,
    model_arg: list[str] | None = None,
    weights: Path | None = None,
    trust_code: bool = False,
    input_shape: tuple[int, ...] | None = None,
    device: str | None = None,
    top: int = DEFAULT_TOP,
    as_json: bool = False,
) -> list[LayerProfile]:
    """Measure each file per layer (see the module docstring) and print the tables or JSON.

    Args:
        files: ``.onnx`` / ``.pte`` artifacts.
        threads, runs, warmup, rounds: The measurement (``runs`` traced runs per file in all).
        model: The model the files were made from (a model source any command takes): kernels
            are mapped onto its layers; without it ONNX kernels map onto the file's own graph.
        model_arg, weights, trust_code: How to open ``model``.
        input_shape: Input shape for files that record none.
        device: A catalog device for the roofline estimates (default: this host, measured).
        top: Layers shown per file (all in JSON).
        as_json: Print JSON instead of tables.
    """
    from edgeopt.errors import EdgeoptError
    from edgeopt.latency.breakdown import file_input_shape, layer_breakdown

    bad = [str(a.path) for a in files if a.format not in ("onnx", "executorch")]
    if bad:
        raise EdgeoptError(f"--per-layer measures .onnx and .pte files; {bad[0]!r} is not one",
                           hint="export the model first (edgeopt export)")
    torch_model = None
    if model is not None:
        from edgeopt.cli.common import open_source

        # The model is built for the files' input (a digits model takes 1x8x8, not the 3x224x224 default).
        input_shape = input_shape or file_input_shape(files[0])
        size = ",".join(map(str, input_shape)) if input_shape else None
        opened = open_source(model, model_arg=model_arg, weights=weights, trust_code=trust_code, input_size=size)
        torch_model = opened.model
    per_round = max(1, -(-runs // rounds))
    profiles = [layer_breakdown(art, torch_model, input_size=input_shape, threads=threads, device=device,
                                rounds=rounds, runs_per_round=per_round, warmup=warmup) for art in files]
    if as_json:
        print_json([p.to_dict() for p in profiles])
        return profiles
    for profile in profiles:
        console.print(layer_table(profile, top))
        for line in summary_lines(profile):
            console.print(line, highlight=False)
        if profile.note:
            err_console.print(f"note: {profile.note}", highlight=False)
    if len(profiles) > 1:
        for other in profiles[1:]:
            comparison = compare_table(profiles[0], other, top)
            if comparison is not None:
                console.print(comparison)
    return profiles


def layer_table(profile: LayerProfile, top: int = DEFAULT_TOP) -> Table:
    """The layers of one profile, slowest first."""
    from edgeopt.latency.breakdown import breakdown_rows
    from edgeopt.utils.units import format_bytes, format_count

    title = (f"Where the time goes: {profile.artifact} "
             f"({profile.runtime}, {profile.precision}, {profile.threads} threads)")
    caption = ("Measured in the runtime by its own kernel tracer, mapped to the model's layers "
               f"({profile.mapping}); ms per run, median of gated rounds. Roofline: an estimate"
               + (f" for {profile.device}" if profile.device else "") + ".")
    table = Table(title=title, caption=caption)
    for column in ("layer", "ops", "ms", "share", "spread ms", "MACs", "bytes", "roofline ms", "kernels"):
        table.add_column(column, justify="left" if column in ("layer", "ops", "kernels") else "right")
    for row in breakdown_rows(profile, top):
        kernels = ", ".join(row["kernels"][:3]) + (f" +{len(row['kernels']) - 3}" if len(row["kernels"]) > 3 else "")
        table.add_row(
            row["layer"], row["ops"], f"{row['ms']:.4f}", f"{row['share']:.1%}",
            f"{row['spread_ms'][0]:.4f}–{row['spread_ms'][1]:.4f}",
            "-" if row["macs"] is None else format_count(row["macs"]),
            "-" if row["bytes"] is None else format_bytes(row["bytes"]),
            "-" if row["roofline_ms"] is None else f"{row['roofline_ms']:.4f}", kernels or "(fused)")
    hidden = len(profile.layers) - min(top, len(profile.layers))
    if hidden > 0:
        rest = sum(layer.ms for layer in profile.layers[top:])
        table.add_row(f"… {hidden} more layers", "", f"{rest:.4f}",
                      f"{rest / profile.layer_sum_ms:.1%}" if profile.layer_sum_ms else "-", "", "", "", "", "")
    return table


def summary_lines(profile: LayerProfile) -> list[str]:
    """The whole-model figure and what the layers leave over."""
    if not profile.traced:
        whole = "-" if profile.whole_model_ms is None else f"{profile.whole_model_ms:.4f} ms"
        return [f"whole model: {whole} (measured; no per-layer figures from this runtime build)"]
    lines = [f"layers: {profile.layer_sum_ms:.4f} ms in all"]
    if profile.whole_model_ms is not None:
        rest = profile.rest_ms or 0.0
        lines.append(f"whole model, untraced, same run: {profile.whole_model_ms:.4f} ms — the layers add up to "
                     f"{profile.coverage:.0%} of it; the rest ({rest:+.4f} ms) is runtime overhead outside kernels "
                     "(input/output binding, the delegate call)"
                     + (" net of the tracer's own cost" if rest < 0 else ""))
    if profile.tracer_cost_ms is not None:
        lines.append(f"ONNX Runtime's profiler lengthens every kernel it times: {profile.tracer_cost_ms:.4f} ms "
                     f"({profile.tracer_share:.0%} of the traced run's extra time, the share measured inside kernel "
                     "events on probe chains) is taken off the layer times")
    elif profile.traced_run_ms and profile.whole_model_ms and profile.traced_run_ms > 1.1 * profile.whole_model_ms:
        lines.append(f"the traced run took {profile.traced_run_ms:.4f} ms: the runtime's tracer slows kernels "
                     f"(×{profile.traced_run_ms / profile.whole_model_ms:.2f}), so layer times are upper bounds")
    layout = sum(layer.layout_ms for layer in profile.layers)
    if layout:
        lines.append(f"layout conversions and int8 (de)quantization the runtime added: {layout:.4f} ms "
                     f"({layout / profile.layer_sum_ms:.1%} of the layers)")
    return lines


def compare_table(base: LayerProfile, other: LayerProfile, top: int = DEFAULT_TOP) -> Table | None:
    """Layer by layer, ``other`` against ``base`` (None when they share no layer names)."""
    mine = {layer.name: layer for layer in base.layers}
    shared = [(mine[layer.name], layer) for layer in other.layers if layer.name in mine]
    if not shared:
        return None
    shared.sort(key=lambda pair: pair[0].ms - pair[1].ms)  # most slowed first
    table = Table(title=f"{Path(other.artifact).name} against {Path(base.artifact).name}, per layer",
                  caption="× = other ÷ base time; above 1× the layer got slower. Both measured per layer as above.")
    for column in ("layer", "base ms", "other ms", "×", "Δ ms"):
        table.add_column(column, justify="left" if column == "layer" else "right")
    for first, second in shared[:top]:
        ratio = second.ms / first.ms if first.ms else float("inf")
        style = "red" if ratio > 1.05 else "green" if ratio < 0.95 else ""
        table.add_row(first.name, f"{first.ms:.4f}", f"{second.ms:.4f}", f"[{style}]{ratio:.2f}×[/]" if style
                      else f"{ratio:.2f}×", f"{second.ms - first.ms:+.4f}")
    return table


def comparison_rows(base: LayerProfile, other: LayerProfile) -> list[dict[str, Any]]:
    """The comparison as plain rows (JSON, tests)."""
    mine = {layer.name: layer for layer in base.layers}
    return [{"layer": layer.name, "base_ms": mine[layer.name].ms, "other_ms": layer.ms}
            for layer in other.layers if layer.name in mine]
