"""Probe files and their measurement: a probe network written as the runtime's file, traced per layer.

A probe network (:mod:`edgeopt.latency.packing`) is written as the file the runtime runs —
ONNX straight from the modules (:mod:`edgeopt.latency.onnx_writer`; int8 through ONNX Runtime's
``quantize_static`` with edgeopt's options), ExecuTorch through edgeopt's own exporter and PT2E
flow — and measured with :func:`edgeopt.runtime.profile_layers`: traced runs in gated rounds
between speed probes, each kernel mapped to the probe's layers, each unit's figure the time of
its layer.

XNNPACK runs some depthwise convolutions (7×7 ones, at least) with its general IGEMM kernel, so
the per-layer profile's kind check (a depthwise layer must run a depthwise kernel) refuses the
ExecuTorch probe; since the kernels still come in the probe's order, one per MAC layer,
:func:`remap_ordered` maps them again with the depthwise layers the runtime ran as general
convolutions marked so, and only those.

Example:
    >>> make_probe_file(ProbeNet(space, 0.5, 160), (1, 3, 160, 160), "onnxruntime", "int8", Path("p.int8.onnx"))
    >>> figures, units, traced_ms = measure_probe(space, 0.5, 160, Path("p.int8.onnx"), 2, 5, 10)
"""

from __future__ import annotations

import statistics
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from edgeopt.errors import EdgeoptError
from edgeopt.latency.packing import ProbeNet, is_probe_scaffolding
from edgeopt.models.spaces import SearchSpace

if TYPE_CHECKING:
    from edgeopt.runtime.layer_map import LayerRow
    from edgeopt.runtime.layer_profile import LayerProfile


def make_probe_file(net: torch.nn.Module, input_shape: tuple[int, ...], runtime: str, precision: str,
                    path: Path) -> None:
    """Write a probe network as the runtime's file at ``path`` (atomically)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    net = net.eval()
    example = torch.randn(input_shape, generator=torch.Generator().manual_seed(0))
    if runtime == "onnxruntime":
        from edgeopt.latency.onnx_writer import write_onnx

        if precision == "fp32":
            write_onnx(net, input_shape, path)
            return
        with tempfile.TemporaryDirectory(prefix="edgeopt-probe-") as tmp:
            fp32 = Path(tmp) / "probe.onnx"
            write_onnx(net, input_shape, fp32)
            quantize_onnx_file(fp32, path, calibration_batch(input_shape, 8).numpy())
        return
    if precision == "fp32":
        from edgeopt.export.executorch_export import export_executorch

        export_executorch(net, example, path, check=False)
        return
    from edgeopt.quantize.pt2e import ptq_executorch

    ptq_executorch(net, calibration_batch(input_shape, 4), path, example_input=example, check=False)


def quantize_onnx_file(fp32: Path, path: Path, samples: np.ndarray) -> None:
    """Static int8 QDQ with the options of :func:`edgeopt.quantize.onnx_static.quantize_onnx_static`
    (per-channel int8 weights, uint8 activations, reduce-range decided for this host, min-max
    ranges), for a file that is already ONNX."""
    import onnx
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    from edgeopt.quantize.calibration import BatchReader
    from edgeopt.quantize.onnx_prepare import quiet_ort
    from edgeopt.quantize.onnx_static import ACTIVATION_TYPES, QuantOptions, strip_debug_info
    from edgeopt.utils import atomic_path

    options = QuantOptions()
    with tempfile.TemporaryDirectory(prefix="edgeopt-probe-q-") as tmp, quiet_ort():
        pre, raw = Path(tmp) / "pre.onnx", Path(tmp) / "int8.onnx"
        quant_pre_process(str(fp32), str(pre))
        quantize_static(str(pre), str(raw), BatchReader(samples, "input", batch_size=1),
                        quant_format=QuantFormat.QDQ, per_channel=options.per_channel,
                        reduce_range=options.resolved_reduce_range(),
                        activation_type=ACTIVATION_TYPES[options.activation_type], weight_type=QuantType.QInt8,
                        calibrate_method=CalibrationMethod.MinMax)
        proto = strip_debug_info(onnx.load(str(raw)))
        with atomic_path(path) as out:
            onnx.save(proto, str(out))


def calibration_batch(input_shape: tuple[int, ...], count: int) -> torch.Tensor:
    """``count`` seeded noise images of this shape (calibration; latency does not depend on values)."""
    return torch.randn((count, *input_shape[1:]), generator=torch.Generator().manual_seed(1))


def measure_probe(space: SearchSpace, width: float, resolution: int, artifact: Path, threads: int, rounds: int,
                  runs_per_round: int) -> tuple[dict[str, float], dict[str, list[Any]], float]:
    """One pass over a probe file: unit key → ms (median over the key's duplicates), unit facts,
    and the traced run's median time."""
    from edgeopt.analysis import profile
    from edgeopt.latency.units import profile_units
    from edgeopt.runtime.layer_map import rows_from_profile
    from edgeopt.runtime.layer_profile import profile_layers

    net = ProbeNet(space, width, resolution).eval()
    shape = (1, space.in_chans, resolution, resolution)
    model_profile = profile(net, shape)
    units = [u for u in profile_units(net, model_profile) if not is_probe_scaffolding(u.name)]
    rows = rows_from_profile(model_profile)
    measured = profile_layers(artifact, rows, threads=threads, rounds=rounds, runs_per_round=runs_per_round,
                              whole_model=False)
    if not measured.traced:
        raise EdgeoptError(f"cannot build a table: {measured.note}", hint="use a runtime build that traces kernels")
    times = unit_times(measured, rows)
    by_key: dict[str, list[float]] = {}
    for unit in units:
        by_key.setdefault(unit.key, []).append(times.get(unit.name, 0.0))
    figures = {k: float(statistics.median(v)) for k, v in by_key.items()}
    facts = {u.key: [u.kind, u.macs, u.bytes] for u in units}
    return figures, facts, float(measured.traced_run_ms or 0.0)


def unit_times(measured: LayerProfile, rows: list[LayerRow]) -> dict[str, float]:
    """Layer name → measured ms; ordered traces refused for kernel kinds are mapped again
    (:func:`remap_ordered`).

    Raises:
        EdgeoptError: the kernels cannot be mapped to the probe's layers.
    """
    if not measured.note:
        return {layer.name: layer.ms for layer in measured.layers}
    remapped = remap_ordered(measured, rows) if measured.format == "executorch" else None
    if remapped is None:
        raise EdgeoptError(f"the probe's kernels could not be mapped to its units: {measured.note}",
                           hint="this runtime fuses or orders the probe differently; please report it")
    return remapped


def remap_ordered(measured: LayerProfile, rows: list[LayerRow]) -> dict[str, float] | None:
    """Layer name → ms from kernels listed in execution order, where the only obstacle was that
    the runtime ran depthwise layers with a general convolution kernel (None otherwise)."""
    from edgeopt.runtime.layer_map import map_ordered_kernels, op_class

    kernels = [(k.name, k.op) for k in measured.kernels]
    if any(k.kind == "delegate" for k in measured.kernels):
        return None
    mac_rows = [i for i, r in enumerate(rows) if r.is_mac]
    mac_kinds = [op_class(op) for _, op in kernels if op_class(op) in ("mac", "dwmac")]
    if len(mac_rows) != len(mac_kinds):
        return None
    fixed = list(rows)
    for index, kind in zip(mac_rows, mac_kinds, strict=True):
        row = rows[index]
        if row.depthwise and kind == "mac":  # a depthwise layer run as a general convolution
            fixed[index] = replace(row, depthwise=False)
        elif row.depthwise != (kind == "dwmac"):
            return None  # a general layer run as a depthwise kernel: the order is not the probe's
    mapping = map_ordered_kernels(kernels, fixed)
    if mapping.note:
        return None
    ms = {k.name: k.ms for k in measured.kernels}
    times: dict[str, float] = {}
    for name, row_name in mapping.kernel_rows.items():
        layer = mapping.segments.get(row_name, row_name)
        times[layer] = times.get(layer, 0.0) + ms[name]
    return times
