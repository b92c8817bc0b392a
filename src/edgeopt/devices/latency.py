"""Roofline latency estimate: per layer, the slower of compute and memory traffic, summed.

For each profile row, time = max(ops / peak ops per second, bytes moved / bandwidth), where
ops = 2 x MACs (device peaks are quoted in FLOP/s, which count a multiply-add as two) and
bytes moved = weights + input activations + output activations at the precision's element
size (see :mod:`edgeopt.devices.traffic`). The total is the sum over rows, for the batch of the
profile. It assumes every layer reaches the device's peak and nothing overlaps, caches or
fuses, so it is an ESTIMATE: a lower bound on what a real runtime achieves, useful to compare
devices and precisions, never a measurement.

Example:
    >>> p = profile(model, (1, 3, 224, 224))  # doctest: +SKIP
    >>> est = estimate_latency(p, get_device("raspberry-pi-4"))  # doctest: +SKIP
    >>> print(est)  # doctest: +SKIP
    estimate: 11.85 ms on raspberry-pi-4 at fp32 (roofline; 62% of the time memory-bound)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from edgeopt.analysis.results import ModelProfile
from edgeopt.devices.precision import peak_ops_per_second
from edgeopt.devices.schema import Device
from edgeopt.devices.traffic import layer_traffic


@dataclass(frozen=True)
class LayerLatency:
    """One row of the roofline estimate.

    Attributes:
        name: Row name from the profile.
        op_type: Row op type.
        ops: Operations (2 per MAC).
        bytes_moved: Weights + inputs + outputs at the precision.
        compute_ms: ops / peak.
        memory_ms: bytes_moved / bandwidth.
        ms: The larger of the two.
        bound: ``"compute"`` or ``"memory"``: which of them set ``ms`` (ties: compute).
    """

    name: str
    op_type: str
    ops: int
    bytes_moved: int
    compute_ms: float
    memory_ms: float
    ms: float
    bound: str


@dataclass
class LatencyEstimate:
    """Roofline latency of a model on a device at a precision (an estimate, never measured).

    Attributes:
        device: Device name.
        precision: ``fp32``, ``fp16`` or ``int8``.
        peak_gops: The device's peak used, G(FL)OP/s.
        bandwidth_gbs: The device's bandwidth used, GB/s.
        total_ms: Sum of the rows' times.
        compute_bound_ms: Time in compute-bound rows.
        memory_bound_ms: Time in memory-bound rows.
        layers: One :class:`LayerLatency` per profile row.
        kind: Always ``"estimate"``.
    """

    device: str
    precision: str
    peak_gops: float
    bandwidth_gbs: float
    total_ms: float
    compute_bound_ms: float
    memory_bound_ms: float
    layers: list[LayerLatency] = field(default_factory=list)
    kind: str = "estimate"

    @property
    def bound(self) -> str:
        """``"memory"`` if memory-bound rows take most of the time, else ``"compute"``."""
        return "memory" if self.memory_bound_ms > self.compute_bound_ms else "compute"

    @property
    def ridge_ops_per_byte(self) -> float:
        """Arithmetic intensity above which a layer is compute-bound on this device."""
        return self.peak_gops / self.bandwidth_gbs

    def __str__(self) -> str:
        share = self.memory_bound_ms / self.total_ms * 100 if self.total_ms else 0.0
        return (f"estimate: {self.total_ms:.4g} ms on {self.device} at {self.precision} "
                f"(roofline; {share:.0f}% of the time memory-bound)")

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form, labelled ``"kind": "estimate"``."""
        data = asdict(self)
        data["bound"] = self.bound
        data["ridge_ops_per_byte"] = self.ridge_ops_per_byte
        return data


def estimate_latency(profile: ModelProfile, device: Device,
                     precision: str = "fp32") -> LatencyEstimate:
    """Roofline latency estimate of ``profile`` on ``device`` at ``precision``.

    Args:
        profile: A :class:`ModelProfile` (from ``edgeopt.analysis.profiler`` or ONNX costing).
        device: The target device.
        precision: ``fp32``, ``fp16`` or ``int8``; every tensor counted at its element size.

    Returns:
        Per-row times and the total in ms, labelled ``kind = "estimate"``.

    Raises:
        EdgeoptError: Unknown precision, or the device has no peak at it (the hint lists the
            supported ones).

    Example:
        >>> estimate_latency(p, get_device("jetson-nano"), "fp16").total_ms  # doctest: +SKIP
        1.93...
    """
    peak = peak_ops_per_second(device, precision)
    bandwidth = device.memory_bandwidth_gbs * 1e9
    rows = []
    for t in layer_traffic(profile, precision):
        compute_ms = t.ops / peak * 1e3
        memory_ms = t.bytes_moved / bandwidth * 1e3
        bound = "compute" if compute_ms >= memory_ms else "memory"
        rows.append(LayerLatency(t.name, t.op_type, t.ops, t.bytes_moved, compute_ms, memory_ms,
                                 max(compute_ms, memory_ms), bound))
    return LatencyEstimate(
        device=device.name, precision=precision, peak_gops=peak / 1e9,
        bandwidth_gbs=device.memory_bandwidth_gbs, total_ms=sum(r.ms for r in rows),
        compute_bound_ms=sum(r.ms for r in rows if r.bound == "compute"),
        memory_bound_ms=sum(r.ms for r in rows if r.bound == "memory"), layers=rows)
