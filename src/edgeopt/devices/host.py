"""Measure this machine as a catalog device, to calibrate estimates against measured latency.

fp32 peak: the best of a few timed square matmuls in torch at the current thread count.
Bandwidth: the best of a few timed copies of a large tensor (bytes read + written per second).
RAM: ``os.sysconf`` (``/proc/meminfo`` as a fallback). Storage: free space where models are
written (``shutil.disk_usage``). Power is not measured (no portable way), so it is ``None``.
The whole measurement takes well under 2 s.

Example:
    >>> host = measure_host()  # doctest: +SKIP
    >>> host.peak_gops.fp32, host.memory_bandwidth_gbs  # doctest: +SKIP
    (61.3, 9.8)
"""

from __future__ import annotations

import os
import platform
import shutil
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import torch

from edgeopt.devices.schema import Device, PeakOps


def _best_seconds(run: Callable[[], object], repeats: int) -> float:
    """Fastest of ``repeats`` timed runs after one warm-up (noise only ever slows a run)."""
    run()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best


def measure_matmul_gflops(size: int = 1024, repeats: int = 3) -> float:
    """fp32 GFLOP/s of a ``size`` x ``size`` matmul (2 x size^3 FLOPs) at torch's thread count."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    out = torch.empty(size, size)
    seconds = _best_seconds(lambda: torch.matmul(a, b, out=out), repeats)
    return 2 * size**3 / seconds / 1e9


def measure_copy_gbs(mib: int = 64, repeats: int = 5) -> float:
    """GB/s of copying a ``mib`` MiB fp32 tensor, counting the bytes read and written."""
    src = torch.ones(mib * 2**20 // 4)
    dst = torch.empty_like(src)
    seconds = _best_seconds(lambda: dst.copy_(src), repeats)
    return 2 * src.numel() * 4 / seconds / 1e9


def total_ram_bytes() -> int:
    """Physical memory in bytes (``os.sysconf``, else ``/proc/meminfo``)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    raise OSError("cannot read the amount of RAM on this host")


def measure_host(storage_path: str | os.PathLike[str] = ".") -> Device:
    """This machine as a :class:`Device` named ``host``, with measured figures.

    Args:
        storage_path: Where models would be stored; its file system's free space is the
            storage figure.

    Returns:
        A device of category ``host`` whose sources say when and how each figure was measured.
    """
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    threads = torch.get_num_threads()
    gflops, gbs = measure_matmul_gflops(), measure_copy_gbs()
    free = shutil.disk_usage(storage_path).free
    measured = f"measured on this host at {when}"
    return Device(
        name="host", display_name=f"this host ({platform.machine()}, {threads} torch threads)",
        category="host", peak_gops=PeakOps(fp32=round(gflops, 2)),
        memory_bandwidth_gbs=round(gbs, 2), ram_bytes=total_ram_bytes(),
        storage_bytes=max(free, 1), typical_power_w=None,
        notes="Measured, not published: a timed matmul and copy at this moment (noisy).",
        sources={
            "peak_gops.fp32": f"{measured}: best of 3 timed 1024x1024 fp32 torch.matmul, "
                              f"2 x 1024^3 FLOP each, {threads} threads",
            "memory_bandwidth_gbs": f"{measured}: best of 5 timed copies of a 64 MiB fp32 "
                                    "tensor, bytes read + written",
            "ram_bytes": f"{measured}: os.sysconf page size x physical pages",
            "storage_bytes": f"{measured}: free space of {os.path.abspath(storage_path)} "
                             "(shutil.disk_usage)",
        })
