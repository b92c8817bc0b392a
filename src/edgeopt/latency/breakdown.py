"""Where the time goes: the measured per-layer profile beside each layer's MACs, bytes and roofline.

:func:`edgeopt.runtime.profile_layers` measures and maps (it sits low, beside the runners);
this module adds what the device models know about each layer (they sit above the runtimes):

* MACs and bytes moved (weights + inputs + outputs at the artifact's precision), from the model's
  exact profile (:func:`edgeopt.analysis.profile`) when the model is given, else from the ONNX
  file's own graph (:func:`edgeopt.devices.onnx_cost.onnx_profile`); a ``.pte`` alone has none;
* the roofline estimate per layer (:func:`edgeopt.devices.estimate_latency`) on a catalog device,
  or on this host measured as a device (the default) — an estimate, labelled so.

Example:
    >>> p = layer_breakdown("model.int8.onnx", model, input_size=(1, 3, 160, 160))
    >>> [(l.name, round(l.ms, 3), l.macs) for l in p.layers[:1]]
    [('features.1.conv.0.0', 0.041, 3276800)]
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from edgeopt.artifact import Artifact
from edgeopt.errors import EdgeoptError
from edgeopt.runtime.layer_map import rows_from_profile
from edgeopt.runtime.layer_profile import LayerProfile, profile_layers

if TYPE_CHECKING:
    from torch import nn

    from edgeopt.analysis.results import ModelProfile
    from edgeopt.devices.schema import Device


def layer_breakdown(
    artifact: Artifact | str | os.PathLike[str],
    model: nn.Module | None = None,
    *,
    input_size: Sequence[int] | None = None,
    threads: int = 2,
    device: str | Device | None = None,
    rounds: int = 5,
    runs_per_round: int = 20,
    warmup: int = 10,
) -> LayerProfile:
    """Measure a file per layer and add MACs, bytes and the roofline estimate to every layer.

    Args:
        artifact: The ``.onnx`` or ``.pte`` file.
        model: The model it was made from, to map kernels onto its layers (module paths) and cost
            them exactly; without it ONNX files are mapped onto their own graph.
        input_size: The input shape (batch first); default: the file's own.
        threads: Runtime threads.
        device: A catalog device name (or :class:`Device`) for the roofline; default: this host,
            measured as a device (a timed matmul and copy, about a second).
        rounds, runs_per_round, warmup: The measurement (see :func:`profile_layers`).

    Raises:
        EdgeoptError: a missing or unreadable file, an input size that does not fit the model.
    """
    art = artifact if isinstance(artifact, Artifact) else Artifact.from_file(artifact)
    cost = _cost_profile(art, model, input_size)
    rows = rows_from_profile(cost) if model is not None and cost is not None else None
    measured = profile_layers(art, rows, threads=threads, rounds=rounds, runs_per_round=runs_per_round,
                              warmup=warmup, input_shape=input_size)
    if cost is None or not measured.traced:
        if measured.traced and not measured.note:
            measured.note = "no MACs or bytes: give the model the .pte was made from"
        return measured
    return _with_costs(measured, cost, _device(device), model is None)


def _cost_profile(art: Artifact, model: nn.Module | None, input_size: Sequence[int] | None) -> ModelProfile | None:
    shape = tuple(input_size) if input_size is not None else art.input_shape
    if model is not None:
        from edgeopt.analysis import profile

        if shape is None:
            shape = file_input_shape(art)
        if shape is None:
            raise EdgeoptError(f"cannot tell the input size of {str(art.path)!r}", hint="pass --input-size C,H,W")
        return profile(model, (1, *shape[1:]))
    if art.format == "onnx":
        from edgeopt.devices.onnx_cost import onnx_profile

        return onnx_profile(art.path, (1, *shape[1:]) if shape else None)
    return None


def file_input_shape(art: Artifact) -> tuple[int, ...] | None:
    """The input shape the file records or declares (None when its dimensions are not all fixed)."""
    if art.input_shape:
        return tuple(art.input_shape)
    from edgeopt.runtime.benchmark import open_runner

    runner = open_runner(art, 1)
    try:
        shape = runner.example_shape(1)
    finally:
        getattr(runner, "close", lambda: None)()
    return tuple(shape) if shape and all(isinstance(d, int) and d > 0 for d in shape) else None


def _device(device: str | Device | None) -> Device:
    if device is None:
        from edgeopt.devices.host import measure_host

        return measure_host()
    if isinstance(device, str):
        from edgeopt.devices import get_device

        return get_device(device)
    return device


def _with_costs(measured: LayerProfile, cost: ModelProfile, device: Device, graph_rows: bool) -> LayerProfile:
    """Add MACs, bytes and roofline ms to each layer (summing the profile rows it covers)."""
    from edgeopt.devices.latency import estimate_latency
    from edgeopt.devices.traffic import layer_traffic

    precision = measured.precision if measured.precision in device.supported_precisions() else "fp32"
    estimate = estimate_latency(cost, device, precision)
    traffic = {t.name: t for t in layer_traffic(cost, precision)}
    roof = {r.name: r for r in estimate.layers}
    # Graph rows are named by module path for MAC nodes and by node key otherwise; the ONNX
    # costing names every row by node key: translate through the profile's node → row map.
    by_row: dict[str, list[str]] = {}
    if graph_rows:
        for node, row in measured.node_rows.items():
            by_row.setdefault(row, []).append(node)
    layers = []
    for layer in measured.layers:
        names = {n for row in layer.rows for n in (by_row.get(row, [row]) if graph_rows else [row])}
        macs = sum(cost_row.macs for cost_row in cost.layers if cost_row.name in names)
        nbytes = sum(traffic[n].bytes_moved for n in names if n in traffic)
        ms = sum(roof[n].ms for n in names if n in roof)
        layers.append(replace(layer, macs=int(macs), bytes=int(nbytes), roofline_ms=float(ms)))
    note = measured.note
    if precision != measured.precision:
        missing = f"roofline at {precision}: {device.name} has no {measured.precision} peak"
        note = "; ".join(filter(None, [note, missing]))
    return replace(measured, layers=layers, device=f"{device.name} ({precision}, estimate)", note=note)


def breakdown_rows(profile: LayerProfile, limit: int | None = None) -> list[dict[str, Any]]:
    """The layers as plain rows (slowest first): what the CLI table and the HTML section show."""
    total = profile.layer_sum_ms
    rows = []
    for layer in profile.layers[:limit]:
        rows.append({"layer": layer.name, "ops": "+".join(dict.fromkeys(layer.op_types)), "ms": layer.ms,
                     "share": layer.ms / total if total else 0.0, "spread_ms": layer.spread_ms,
                     "macs": layer.macs, "bytes": layer.bytes, "roofline_ms": layer.roofline_ms,
                     "layout_ms": layer.layout_ms, "kernels": list(layer.kernels)})
    return rows
