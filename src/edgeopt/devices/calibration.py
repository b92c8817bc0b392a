"""How far to trust the roofline: estimate vs measured latency of a real artifact on this host.

The host is measured (:func:`edgeopt.devices.measure_host`: a timed matmul for peak FLOP/s, a
timed copy for bandwidth), the same roofline that estimates a catalog device estimates the host,
and the ratio estimated ÷ measured says how optimistic the model is here. A ratio of 0.3 means
the real runtime took about 3× the estimate; expect a similar gap on a device of the same kind.

Example:
    >>> cal = calibrate_on_host(profile(model, (1, 1, 28, 28)), measured_ms=0.41)  # doctest: +SKIP
    >>> print(cal)  # doctest: +SKIP
    estimate 0.12 ms vs measured 0.41 ms on this host: ratio 0.29 (estimate)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from edgeopt.analysis.results import ModelProfile
from edgeopt.devices.host import measure_host
from edgeopt.devices.latency import estimate_latency
from edgeopt.devices.schema import Device
from edgeopt.errors import EdgeoptError


@dataclass(frozen=True)
class HostCalibration:
    """The host's roofline estimate for a model beside the measured latency of its artifact."""

    device: str
    precision: str
    estimated_ms: float
    measured_ms: float

    @property
    def ratio(self) -> float:
        """Estimated ÷ measured latency (below 1: the estimate is optimistic)."""
        return self.estimated_ms / self.measured_ms

    def estimate_dict(self) -> dict[str, Any]:
        """The estimate as results.json stores it beside an artifact's measurements."""
        return {"device": self.device, "precision": self.precision,
                "latency_ms": self.estimated_ms, "kind": "estimate"}

    def __str__(self) -> str:
        return (f"estimate {self.estimated_ms:.3g} ms vs measured {self.measured_ms:.3g} ms on "
                f"{self.device}: ratio {self.ratio:.2f} (estimate)")


def calibrate_on_host(profile: ModelProfile, measured_ms: float, precision: str = "fp32",
                      host: Device | None = None) -> HostCalibration:
    """Compare the roofline estimate on this host with a latency measured on it.

    Args:
        profile: The model's profile (same batch as the measurement).
        measured_ms: Median latency of the model's artifact measured on this host.
        precision: The artifact's precision.
        host: A host device from :func:`measure_host` (measured now when omitted).

    Raises:
        EdgeoptError: ``measured_ms`` is not positive.
    """
    if not measured_ms > 0:
        raise EdgeoptError(f"measured latency must be positive, got {measured_ms}")
    host = host or measure_host()
    estimate = estimate_latency(profile, host, precision)
    return HostCalibration(host.name, precision, estimate.total_ms, measured_ms)
