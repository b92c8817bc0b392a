"""The target a file is built for: its CPU facts decide every CPU-dependent artifact choice.

An artifact runs on the target the user names, not on the machine that builds it. So 7-bit
weights (ONNX Runtime's ``reduce_range``), whether bf16 execution is offered and the thread
counts tried come from :class:`Target`: the catalog's ``cpu`` block for a named device, this
machine's own facts (:mod:`edgeopt.utils.cpu`) for ``host``. :meth:`Target.to_dict` records
the facts, the choices and their reasons for an artifact's metadata.

Example:
    >>> pi = resolve_target("raspberry-pi-4")
    >>> pi.reduce_range, pi.bf16, pi.thread_counts(host_cores=2)
    (False, False, [1, 2])
    >>> pi.reduce_range_reason
    'arm64: ONNX Runtime accumulates int8 products in int32 (no int16 saturation), so weights keep 8 bits'
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from edgeopt.devices.catalog import PathLike, load_catalog
from edgeopt.devices.schema import Device
from edgeopt.errors import EdgeoptError, suggest
from edgeopt.utils.cpu import cpu_flags, has_bf16, has_int8_dot_product, is_x86, machine_arch, needs_reduce_range

HOST = "host"
CPU_RUNTIMES = "ONNX Runtime, OpenVINO, ExecuTorch"


@dataclass(frozen=True)
class Target:
    """A CPU that an artifact is built for.

    Attributes:
        name: ``"host"`` or the catalog name (``"raspberry-pi-4"``).
        display_name: Human-readable; for the host it says it is this machine.
        is_host: True when the facts were read from this machine.
        arch: ``"x86_64"``, ``"arm64"``, ... (as :func:`edgeopt.utils.machine_arch` names them).
        cores: CPU cores the runtimes may use.
        int8_dot_product: x86 VNNI / AMX int8, or Arm SDOT/UDOT.
        bf16: Native bf16 arithmetic (x86 AVX512_BF16 / AMX_BF16, Arm FEAT_BF16).
        source: Where the facts come from (the catalog's citation, or this machine's cpuinfo).

    Example:
        >>> t = Target("toy", "Toy", False, "x86_64", 4, int8_dot_product=False, bf16=False)
        >>> t.reduce_range, t.thread_counts(2)
        (True, [1, 2])
    """

    name: str
    display_name: str
    is_host: bool
    arch: str
    cores: int
    int8_dot_product: bool
    bf16: bool
    source: str = ""

    @property
    def reduce_range(self) -> bool:
        """True when ONNX Runtime int8 weights must use 7 bits on this target (x86 without VNNI)."""
        return needs_reduce_range(self.arch, self.int8_dot_product)

    @property
    def reduce_range_reason(self) -> str:
        """Why :attr:`reduce_range` is what it is, in one sentence for reports and metadata.

        Example:
            >>> Target("t", "T", False, "x86_64", 4, False, False).reduce_range_reason
            "x86 without VNNI: ONNX Runtime's u8×s8 kernels can saturate int16 sums, so weights use 7 bits"
        """
        if self.reduce_range:
            return ("x86 without VNNI: ONNX Runtime's u8×s8 kernels can saturate int16 sums, "
                    "so weights use 7 bits")
        if is_x86(self.arch):
            return "x86 with VNNI/AMX: int8 dot products accumulate in int32, so weights keep 8 bits"
        if self.int8_dot_product:
            return f"{self.arch}: int8 dot products (SDOT/UDOT) accumulate in int32, so weights keep 8 bits"
        return (f"{self.arch}: ONNX Runtime accumulates int8 products in int32 (no int16 "
                "saturation), so weights keep 8 bits")

    @property
    def bf16_reason(self) -> str:
        """Why bf16 execution is or is not offered on this target, in one sentence.

        Example:
            >>> Target("t", "T", False, "arm64", 4, True, False).bf16_reason
            'arm64 without native bf16 arithmetic: bf16 would be emulated, so it is not offered'
        """
        if self.bf16:
            how = "AVX512_BF16/AMX_BF16" if is_x86(self.arch) else "the BF16 extension"
            return f"{self.arch} with {how}: bf16 execution is offered"
        return f"{self.arch} without native bf16 arithmetic: bf16 would be emulated, so it is not offered"

    def thread_counts(self, host_cores: int) -> list[int]:
        """The thread counts to try: 1 and ``min(target cores, host cores)``, distinct and sorted.

        ``host_cores`` are those of the machine that measures; a count above either would time
        threads that cannot run in parallel.

        Example:
            >>> Target("t", "T", False, "arm64", 4, True, False).thread_counts(host_cores=2)
            [1, 2]
            >>> Target("t", "T", False, "arm64", 1, True, False).thread_counts(host_cores=8)
            [1]
        """
        return sorted({1, max(1, min(self.cores, host_cores))})

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON data for an artifact's metadata: the facts, the choices and their reasons.

        Example:
            >>> Target("t", "T", False, "arm64", 4, True, False).to_dict()["reduce_range"]
            False
        """
        return {"name": self.name, "display_name": self.display_name, "is_host": self.is_host,
                "arch": self.arch, "cores": self.cores, "int8_dot_product": self.int8_dot_product,
                "bf16": self.bf16, "source": self.source, "reduce_range": self.reduce_range,
                "reduce_range_reason": self.reduce_range_reason, "bf16_reason": self.bf16_reason}


def host_target() -> Target:
    """This machine as a target: :mod:`edgeopt.utils.cpu` facts and ``os.cpu_count()`` cores.

    Example:
        >>> host_target().is_host
        True
    """
    arch, flags, cores = machine_arch(), cpu_flags(), os.cpu_count() or 1
    source = ("this machine: /proc/cpuinfo flags" if flags
              else "this machine: no CPU flags readable, so no dot product or bf16 assumed")
    return Target(name=HOST, display_name=f"this machine (host: {arch}, {cores} cores)", is_host=True,
                  arch=arch, cores=cores, int8_dot_product=has_int8_dot_product(flags),
                  bf16=has_bf16(flags), source=source)


def device_target(device: Device, catalog: Iterable[Device] | None = None) -> Target:
    """The target for a catalog device that has a ``cpu`` block.

    Args:
        device: The device.
        catalog: The devices the error's hint lists those with CPU facts from (default: the
            shipped catalog).

    Raises:
        EdgeoptError: The device has no ``cpu`` block (a microcontroller, GPU or accelerator).

    Example:
        >>> from edgeopt.devices import get_device
        >>> device_target(get_device("raspberry-pi-5")).int8_dot_product
        True
    """
    if device.cpu is None:
        pool = load_catalog() if catalog is None else catalog
        names = ", ".join(d.name for d in pool if d.cpu is not None)
        raise EdgeoptError(f"device {device.name!r} runs no CPU runtime edgeopt optimizes for "
                           f"({CPU_RUNTIMES})", hint=f"targets with CPU facts: {names} or 'host'")
    cpu = device.cpu
    return Target(name=device.name, display_name=device.display_name, is_host=False, arch=cpu.arch,
                  cores=cpu.cores, int8_dot_product=cpu.int8_dot_product, bf16=cpu.bf16,
                  source=" ".join(device.sources.get("cpu", "").split()))


def resolve_target(name: str | None, extra_files: Sequence[PathLike] = ()) -> Target:
    """The target called ``name``: ``None`` or ``"host"`` for this machine, else a catalog device.

    Args:
        name: ``None``, ``"host"``, or a device name from the catalog (``edgeopt devices``).
        extra_files: The user's device files, as for :func:`edgeopt.devices.load_catalog`.

    Raises:
        EdgeoptError: Unknown name (the hint names the closest), or a device without CPU facts
            (the hint names the devices that have them).

    Example:
        >>> resolve_target("amd-epyc-9654").to_dict()["bf16"]
        True
        >>> resolve_target(None).is_host
        True
    """
    if name is None or name == HOST:
        return host_target()
    devices = {d.name: d for d in load_catalog(extra_files)}
    if name not in devices:
        hint = suggest(name, [*devices, HOST]) or "see `edgeopt devices` for the names, or use 'host'"
        raise EdgeoptError(f"unknown target {name!r}", hint=hint)
    return device_target(devices[name], devices.values())
