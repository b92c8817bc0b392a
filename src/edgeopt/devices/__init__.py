"""Target devices: a catalog with a source for every figure, and estimates against it.

Everything computed here is an ESTIMATE (roofline latency, Horowitz energy, fit margins from
counted bytes) and is labelled so (``kind = "estimate"``); measured latency comes from
``edgeopt.runtime`` on a real artifact.

Example:
    >>> from edgeopt.analysis import profile
    >>> from edgeopt.devices import get_device, estimate_latency, check_fit, resolve_target
    >>> p = profile(model, (1, 3, 224, 224))  # doctest: +SKIP
    >>> print(estimate_latency(p, get_device("raspberry-pi-4"), "int8"))  # doctest: +SKIP
    >>> print(check_fit(p, get_device("stm32h743"), "int8"))  # doctest: +SKIP
    >>> resolve_target("raspberry-pi-4").reduce_range  # the target's CPU decides, not the host's
    False
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from edgeopt.utils.lazy import lazy_exports

# public name -> module that defines it
_EXPORTS: dict[str, str] = {
    "builtin_devices": "edgeopt.devices.catalog",
    "get_device": "edgeopt.devices.catalog",
    "load_catalog": "edgeopt.devices.catalog",
    "read_device_file": "edgeopt.devices.catalog",
    "plot_resources": "edgeopt.devices.chart",
    "EnergyEstimate": "edgeopt.devices.energy",
    "estimate_energy": "edgeopt.devices.energy",
    "check_fit": "edgeopt.devices.fit",
    "FitCheck": "edgeopt.devices.fit",
    "FitReport": "edgeopt.devices.fit",
    "measure_host": "edgeopt.devices.host",
    "estimate_latency": "edgeopt.devices.latency",
    "LatencyEstimate": "edgeopt.devices.latency",
    "LayerLatency": "edgeopt.devices.latency",
    "onnx_profile": "edgeopt.devices.onnx_cost",
    "CATEGORIES": "edgeopt.devices.schema",
    "CpuFacts": "edgeopt.devices.schema",
    "Device": "edgeopt.devices.schema",
    "PeakOps": "edgeopt.devices.schema",
    "PRECISIONS": "edgeopt.devices.schema",
    "Target": "edgeopt.devices.target",
    "resolve_target": "edgeopt.devices.target",
}

__all__ = [
    "CATEGORIES",
    "PRECISIONS",
    "CpuFacts",
    "Device",
    "EnergyEstimate",
    "FitCheck",
    "FitReport",
    "LatencyEstimate",
    "LayerLatency",
    "PeakOps",
    "Target",
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
    "resolve_target",
]

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())

if TYPE_CHECKING:  # for type checkers and IDEs; not executed at run time
    from edgeopt.devices.catalog import (
        builtin_devices as builtin_devices,
        get_device as get_device,
        load_catalog as load_catalog,
        read_device_file as read_device_file,
    )
    from edgeopt.devices.chart import plot_resources as plot_resources
    from edgeopt.devices.energy import EnergyEstimate as EnergyEstimate, estimate_energy as estimate_energy
    from edgeopt.devices.fit import FitCheck as FitCheck, FitReport as FitReport, check_fit as check_fit
    from edgeopt.devices.host import measure_host as measure_host
    from edgeopt.devices.latency import (
        LatencyEstimate as LatencyEstimate,
        LayerLatency as LayerLatency,
        estimate_latency as estimate_latency,
    )
    from edgeopt.devices.onnx_cost import onnx_profile as onnx_profile
    from edgeopt.devices.schema import (
        CATEGORIES as CATEGORIES,
        PRECISIONS as PRECISIONS,
        CpuFacts as CpuFacts,
        Device as Device,
        PeakOps as PeakOps,
    )
    from edgeopt.devices.target import Target as Target, resolve_target as resolve_target
