"""Target devices: a catalog with a source for every figure, and estimates against it.

Everything computed here is an ESTIMATE (roofline latency, Horowitz energy, fit margins from
counted bytes) and is labelled so (``kind = "estimate"``); measured latency comes from
``edgeopt.runtime`` on a real artifact.

Example:
    >>> from edgeopt.analysis import profile
    >>> from edgeopt.devices import get_device, estimate_latency, check_fit
    >>> p = profile(model, (1, 3, 224, 224))  # doctest: +SKIP
    >>> print(estimate_latency(p, get_device("raspberry-pi-4"), "int8"))  # doctest: +SKIP
    >>> print(check_fit(p, get_device("stm32h743"), "int8"))  # doctest: +SKIP
"""

from edgeopt.devices.catalog import builtin_devices, get_device, load_catalog, read_device_file
from edgeopt.devices.chart import plot_resources
from edgeopt.devices.energy import EnergyEstimate, estimate_energy
from edgeopt.devices.fit import FitCheck, FitReport, check_fit
from edgeopt.devices.host import measure_host
from edgeopt.devices.latency import LatencyEstimate, LayerLatency, estimate_latency
from edgeopt.devices.onnx_cost import onnx_profile
from edgeopt.devices.schema import CATEGORIES, PRECISIONS, Device, PeakOps

__all__ = [
    "CATEGORIES",
    "PRECISIONS",
    "Device",
    "EnergyEstimate",
    "FitCheck",
    "FitReport",
    "LatencyEstimate",
    "LayerLatency",
    "PeakOps",
    "builtin_devices",
    "check_fit",
    "estimate_energy",
    "estimate_latency",
    "get_device",
    "load_catalog",
    "measure_host",
    "onnx_profile",
    "plot_resources",
    "read_device_file",
]
