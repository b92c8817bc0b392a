"""Numeric precisions: their element sizes, and a device's peak at one of them.

Example:
    >>> element_bytes("fp16")
    2
"""

from __future__ import annotations

from edgeopt.devices.schema import PRECISIONS, Device
from edgeopt.errors import EdgeoptError, suggest

# Every tensor (weights and activations) is counted at the precision's element size.
ELEMENT_BYTES = {"fp32": 4, "fp16": 2, "int8": 1}


def check_precision(precision: str) -> str:
    """Return ``precision`` if it is one of fp32, fp16, int8; else raise EdgeoptError."""
    if precision not in PRECISIONS:
        hint = suggest(precision, PRECISIONS) or f"use one of {', '.join(PRECISIONS)}"
        raise EdgeoptError(f"unknown precision {precision!r}", hint=hint)
    return precision


def element_bytes(precision: str) -> int:
    """Bytes per element at ``precision`` (fp32 4, fp16 2, int8 1)."""
    return ELEMENT_BYTES[check_precision(precision)]


def peak_ops_per_second(device: Device, precision: str) -> float:
    """The device's peak at ``precision`` in operations per second (1 MAC = 2 operations).

    Raises:
        EdgeoptError: The catalog has no peak for that precision on this device.

    Example:
        >>> peak_ops_per_second(get_device("raspberry-pi-4"), "fp32")  # doctest: +SKIP
        96000000000.0
    """
    gops = device.peak_gops.at(check_precision(precision))
    if gops is None:
        supported = ", ".join(device.supported_precisions())
        raise EdgeoptError(
            f"device {device.name!r} has no {precision} peak (unsupported or not published)",
            hint=f"use --precision {device.supported_precisions()[0]}; supported: {supported}")
    return gops * 1e9
