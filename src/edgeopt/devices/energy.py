"""Energy estimate per inference: arithmetic and memory traffic priced by Horowitz (ISSCC 2014).

Two figures, both estimates:

* **Operation energies** (device-independent): MACs x (multiply + add energy at the precision)
  plus bytes moved (weights + input + output activations, as in the roofline) priced as DRAM
  accesses of 32-bit words. Every byte is priced as DRAM, so the memory part is an upper bound:
  caches and on-chip SRAM (all of a microcontroller's memory) cost 10-100x less per access.
* **Device power**: the catalog's typical power x the roofline latency estimate.

Example:
    >>> e = estimate_energy(p, get_device("raspberry-pi-4"), "int8")  # doctest: +SKIP
    >>> print(e)  # doctest: +SKIP
    estimate: 0.36 mJ per inference (compute 0.07 mJ + memory 0.29 mJ, Horowitz 45 nm) ...
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from edgeopt.analysis.results import ModelProfile
from edgeopt.devices.latency import estimate_latency
from edgeopt.devices.precision import check_precision
from edgeopt.devices.schema import Device
from edgeopt.devices.traffic import layer_traffic

HOROWITZ_2014 = ("M. Horowitz, 'Computing's energy problem (and what we can do about it)', "
                 "IEEE ISSCC 2014, pp. 10-14; 45 nm process, 0.9 V")

# Energy per operation in picojoules, 45 nm (Horowitz 2014, its table of rough energy costs per
# operation at 45 nm, 0.9 V).
# The int8 add is the 8-bit add; real int8 kernels accumulate in 32 bits (0.1 pJ in the same
# table), so the int8 compute figure is a lower bound.
OP_ENERGY_PJ: dict[str, dict[str, float]] = {
    "fp32": {"mult": 3.7, "add": 0.9},   # 32-bit float multiply, add
    "fp16": {"mult": 1.1, "add": 0.4},   # 16-bit float multiply, add
    "int8": {"mult": 0.2, "add": 0.03},  # 8-bit integer multiply, add
}
# DRAM access per 32-bit word. Horowitz gives 1.3-2.6 nJ per 64-bit DRAM access; 640 pJ per
# 32-bit word is the per-word form of its low end, as tabulated from the same source by
# Han et al., 'Learning both Weights and Connections for Efficient Neural Networks', NIPS 2015,
# Table 1.
DRAM_PJ_PER_WORD = 640.0
WORD_BYTES = 4
_PJ_TO_MJ = 1e-9


@dataclass
class EnergyEstimate:
    """Energy of one forward pass (the profile's batch) on a device at a precision.

    Attributes:
        device: Device name.
        precision: ``fp32``, ``fp16`` or ``int8``.
        macs: Multiply-adds priced.
        bytes_moved: Memory traffic priced as DRAM words.
        mac_pj: Energy of one MAC at the precision (multiply + add), pJ.
        dram_pj_per_word: Energy of one 32-bit DRAM word, pJ.
        compute_mj: MACs x mac_pj, in mJ.
        memory_mj: bytes_moved / 4 x dram_pj_per_word, in mJ.
        latency_ms: The roofline latency estimate used for the device-power figure.
        typical_power_w: The device's typical power (``None`` if the catalog has none).
        device_power_mj: typical_power_w x latency_ms (``None`` without a power figure).
        source: The citation of the per-operation energies.
        kind: Always ``"estimate"``.
    """

    device: str
    precision: str
    macs: int
    bytes_moved: int
    mac_pj: float
    dram_pj_per_word: float
    compute_mj: float
    memory_mj: float
    latency_ms: float
    typical_power_w: float | None
    device_power_mj: float | None
    source: str = HOROWITZ_2014
    kind: str = "estimate"

    @property
    def total_mj(self) -> float:
        """Compute + memory energy, in mJ."""
        return self.compute_mj + self.memory_mj

    def __str__(self) -> str:
        power = ("" if self.device_power_mj is None else
                 f"; device power x latency: {self.device_power_mj:.4g} mJ")
        return (f"estimate: {self.total_mj:.4g} mJ per inference (compute {self.compute_mj:.4g} mJ"
                f" + memory {self.memory_mj:.4g} mJ, Horowitz 45 nm){power}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form, labelled ``"kind": "estimate"``."""
        return {**asdict(self), "total_mj": self.total_mj}


def mac_energy_pj(precision: str) -> float:
    """Energy of one multiply plus one add at ``precision``, in pJ (fp32: 3.7 + 0.9 = 4.6)."""
    energies = OP_ENERGY_PJ[check_precision(precision)]
    return energies["mult"] + energies["add"]


def estimate_energy(profile: ModelProfile, device: Device,
                    precision: str = "fp32") -> EnergyEstimate:
    """Energy estimate of one forward pass of ``profile`` on ``device`` at ``precision``.

    Args:
        profile: A :class:`ModelProfile`.
        device: The target device (for its typical power and roofline latency).
        precision: ``fp32``, ``fp16`` or ``int8``.

    Returns:
        Compute and memory energy from Horowitz's 45 nm figures, and typical power x latency.

    Raises:
        EdgeoptError: Unknown precision, or the device has no peak at it.

    Example:
        >>> # 1e6 MACs x 4.6 pJ = 0.0046 mJ
        >>> round(estimate_energy(p, dev, "fp32").compute_mj, 6)  # doctest: +SKIP
        0.0046
    """
    latency = estimate_latency(profile, device, precision)
    moved = sum(t.bytes_moved for t in layer_traffic(profile, precision))
    mac_pj = mac_energy_pj(precision)
    power = device.typical_power_w
    return EnergyEstimate(
        device=device.name, precision=precision, macs=profile.macs, bytes_moved=moved,
        mac_pj=mac_pj, dram_pj_per_word=DRAM_PJ_PER_WORD,
        compute_mj=profile.macs * mac_pj * _PJ_TO_MJ,
        memory_mj=moved / WORD_BYTES * DRAM_PJ_PER_WORD * _PJ_TO_MJ,
        latency_ms=latency.total_ms, typical_power_w=power,
        device_power_mj=None if power is None else power * latency.total_ms)
