"""Per-layer float fallback for speed: layers whose int8 kernels are slower than float stay float.

int8 is not faster everywhere: on small layers the quantize/dequantize around a kernel can cost
more than the arithmetic it saves, and some runtimes lack fast int8 kernels for some shapes.
For an ONNX Runtime int8 deployment, both the fp32 and the int8 files are profiled per layer in
the runtime itself (:func:`edgeopt.runtime.profile_layers`, kernels mapped to the model's
layers); every layer at least :data:`SLOWER_BY` slower in int8 is kept float in a new int8 file
(ONNX Runtime's ``nodes_to_exclude``), which then has to pass the same gate as any other step.

Example:
    >>> slower_in_int8(fp32_profile, int8_profile)
    ['classifier']
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgeopt.optimize.choices import Choice
from edgeopt.optimize.variants import RunContext, make_variant

if TYPE_CHECKING:
    from edgeopt.runtime.layer_profile import LayerProfile

SLOWER_BY = 1.1  # int8 layer time / fp32 layer time above which the layer stays float
MIN_LAYER_MS = 0.002  # layers faster than this in both files are timer noise, not a finding


def slower_in_int8(fp32: LayerProfile, int8: LayerProfile) -> list[str]:
    """Layers of ``int8`` slower than the same layer of ``fp32`` by :data:`SLOWER_BY` or more."""
    float_ms = {layer.name: layer.ms for layer in fp32.layers}
    return sorted(layer.name for layer in int8.layers
                  if layer.name in float_ms and max(layer.ms, float_ms[layer.name]) >= MIN_LAYER_MS
                  and layer.ms >= SLOWER_BY * float_ms[layer.name])


def fallback_row(row: dict[str, Any], context: RunContext) -> tuple[dict[str, Any] | None, str]:
    """A row for ``row``'s int8 file with its slower-in-int8 layers kept float, or None and why not.

    Only ONNX Runtime int8 rows qualify (its exporter takes a list of layers to leave float).
    The new file's accuracy is measured like every trial's; the caller gates its speed.
    """
    if row.get("runtime") != "onnxruntime" or row.get("precision") != "int8":
        return None, "per-layer fallback applies to ONNX Runtime int8 files"
    choice = Choice.from_dict(row["choice"])
    variant = make_variant(choice, context)
    fp32_path = variant.file("fp32", "onnxruntime", context)
    fp32, int8 = (_profile(path, variant.model, context, int(row["threads"])) for path in (fp32_path, row["file"]))
    if not fp32.traced or not int8.traced:
        return None, f"the runtime could not trace kernels: {fp32.note or int8.note}"
    slow = slower_in_int8(fp32, int8)
    if not slow:
        return None, "no layer is slower in int8 than in fp32"
    calibration = str(row.get("calibration") or "minmax")
    path = _fallback_file(variant.model, variant.directory, calibration, slow, context)
    from edgeopt.optimize.deployments import Deployment, accuracies, open_deployment

    runner = open_deployment(str(path), Deployment("onnxruntime", "int8", int(row["threads"]), calibration))
    accuracy = accuracies(runner, context)
    new = {**row, "file": str(path), "size_bytes": path.stat().st_size, "accuracy_val": accuracy[0],
           "accuracy_test": accuracy[1], "float_layers": slow,
           "pipeline": f"{row['pipeline']}, {len(slow)} layer{'s' if len(slow) > 1 else ''} float"}
    return new, f"{len(slow)} layer(s) slower in int8: {', '.join(slow[:5])}{'…' if len(slow) > 5 else ''}"


def _profile(path: Any, model: Any, context: RunContext, threads: int) -> LayerProfile:
    from edgeopt.analysis import profile
    from edgeopt.optimize.deployments import timing_input
    from edgeopt.runtime.layer_map import rows_from_profile
    from edgeopt.runtime.layer_profile import profile_layers

    rows = rows_from_profile(profile(model, context.splits.input_shape(1)))
    return profile_layers(path, rows, threads=threads, input=timing_input(context), whole_model=False)


def _fallback_file(model: Any, directory: Path, calibration: str, layers: list[str], context: RunContext) -> Path:
    from edgeopt.optimize.variants import calibration_samples
    from edgeopt.quantize.onnx_static import quantize_onnx_static

    path = directory / f"model.int8-{calibration}-fallback.onnx"
    quantize_onnx_static(model, calibration_samples(context), path, calibration=calibration, exclude=layers,
                         example_input=context.example, reduce_range=context.target.reduce_range)
    return path
