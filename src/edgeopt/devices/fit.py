"""Does a model fit a device? Storage, RAM and (optionally) a latency budget, with margins.

Rules (docs/devices.md):

* storage: the weights (parameter bytes at the precision, or the real artifact's size when
  given) must fit the device's storage (flash on microcontrollers). Skipped (``n/a``) for
  devices without storage of their own.
* ram: weights + peak live activations (at the precision) must fit RAM.
* latency: the roofline latency estimate must be within the budget, if one is given.

A check passes when required <= available: exactly equal fits. The margin is available -
required (negative when it fails) and, in percent, margin / available x 100. The verdict fits
when every applicable check passes. Memory figures are counts; the latency is an estimate, and
the whole report is labelled one.

Example:
    >>> report = check_fit(p, get_device("stm32f407"), "int8")  # doctest: +SKIP
    >>> report.verdict, [c.name for c in report.checks if c.passed is False]  # doctest: +SKIP
    ('does not fit', ['ram'])
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from edgeopt.analysis.results import ModelProfile
from edgeopt.devices.latency import LatencyEstimate, estimate_latency
from edgeopt.devices.precision import check_precision
from edgeopt.devices.schema import Device
from edgeopt.devices.traffic import peak_activation_bytes, weight_bytes
from edgeopt.errors import EdgeoptError


@dataclass(frozen=True)
class FitCheck:
    """One requirement against one resource.

    Attributes:
        name: ``storage``, ``ram`` or ``latency``.
        unit: ``bytes`` or ``ms``.
        required: What the model needs.
        available: What the device offers (``None``: not applicable).
        passed: True if required <= available; ``None`` if not applicable.
        margin: available - required (``None`` if not applicable).
        margin_pct: margin / available x 100 (``None`` if not applicable).
        detail: What ``required`` is made of.
    """

    name: str
    unit: str
    required: float
    available: float | None
    passed: bool | None
    margin: float | None
    margin_pct: float | None
    detail: str = ""


@dataclass
class FitReport:
    """All checks for one model on one device at one precision (an estimate).

    Attributes:
        device: Device name.
        precision: Precision the bytes and latency are counted at.
        checks: The checks, in the order storage, ram, latency.
        latency: The roofline estimate used for the latency check (``None`` without a budget).
        kind: Always ``"estimate"``.
    """

    device: str
    precision: str
    checks: list[FitCheck] = field(default_factory=list)
    latency: LatencyEstimate | None = None
    kind: str = "estimate"

    @property
    def fits(self) -> bool:
        """True when no applicable check fails."""
        return all(check.passed is not False for check in self.checks)

    @property
    def verdict(self) -> str:
        """``"fits"`` or ``"does not fit"``."""
        return "fits" if self.fits else "does not fit"

    def __str__(self) -> str:
        failed = [c.name for c in self.checks if c.passed is False]
        why = f" ({', '.join(failed)} exceeded)" if failed else ""
        return f"estimate: {self.verdict} on {self.device} at {self.precision}{why}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form, labelled ``"kind": "estimate"``."""
        return {"kind": self.kind, "device": self.device, "precision": self.precision,
                "verdict": self.verdict, "fits": self.fits,
                "checks": [asdict(c) for c in self.checks],
                "latency": None if self.latency is None else self.latency.to_dict()}


def compare(name: str, unit: str, required: float, available: float | None,
            detail: str = "") -> FitCheck:
    """A check of ``required`` against ``available``; equal passes, ``None`` is not applicable.

    Example:
        >>> compare("ram", "bytes", 100, 100).passed
        True
    """
    if available is None:
        return FitCheck(name, unit, required, None, None, None, None, detail)
    margin = available - required
    return FitCheck(name, unit, required, available, required <= available, margin,
                    margin / available * 100, detail)


def check_fit(profile: ModelProfile, device: Device, precision: str = "fp32",
              latency_budget_ms: float | None = None,
              weights_bytes: int | None = None) -> FitReport:
    """Check storage, RAM and (optionally) latency of ``profile`` on ``device``.

    Args:
        profile: A :class:`ModelProfile`.
        device: The target device.
        precision: Precision to count weights, activations and latency at.
        latency_budget_ms: Maximum acceptable estimated latency, if any.
        weights_bytes: The real artifact size to check against storage (instead of the
            parameter bytes at the precision), e.g. an exported ``.onnx`` file.

    Raises:
        EdgeoptError: Unknown precision, a non-positive budget, a negative size, or (with a
            budget) no peak at the precision on this device.
    """
    check_precision(precision)
    _check_arguments(latency_budget_ms, weights_bytes)
    weights = weight_bytes(profile, precision) if weights_bytes is None else weights_bytes
    what = f"{precision} parameters" if weights_bytes is None else "artifact file"
    activations = peak_activation_bytes(profile, precision)
    checks = [
        compare("storage", "bytes", weights, device.storage_bytes, f"weights ({what})"),
        compare("ram", "bytes", weights + activations, device.ram_bytes,
                f"weights + peak activations ({activations:,} B)"),
    ]
    latency = None
    if latency_budget_ms is not None:
        latency = estimate_latency(profile, device, precision)
        checks.append(compare("latency", "ms", latency.total_ms, latency_budget_ms,
                              "roofline estimate vs budget"))
    return FitReport(device.name, precision, checks, latency)


def _check_arguments(latency_budget_ms: float | None, weights_bytes: int | None) -> None:
    if latency_budget_ms is not None and not latency_budget_ms > 0:
        raise EdgeoptError(f"latency budget must be positive, got {latency_budget_ms!r} ms",
                           hint="e.g. --latency-budget-ms 50")
    if weights_bytes is not None and weights_bytes < 0:
        raise EdgeoptError(f"weights_bytes must be >= 0, got {weights_bytes!r}")
