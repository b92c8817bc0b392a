"""What the device is: CPU model and flags, cores, memory, board, OS and runtime versions.

Read from the operating system without importing any runtime (versions come from the installed
packages' metadata), so the agent can describe itself the moment it starts. Figures the system
does not expose are left out rather than guessed. On Linux (a Raspberry Pi, a Jetson, Android's
Termux) ``/proc/cpuinfo`` names the CPU (``model name`` on x86, ``Hardware``/``CPU part`` on
ARM) and its flags (``flags`` on x86, ``Features`` on ARM: ``asimd``, ``asimddp``…, which decide
what int8 kernels can use), ``/proc/device-tree/model`` the board, ``/proc/meminfo`` the memory
and ``cpufreq`` the clock limits and governor (a board on ``powersave`` is slower).

Example:
    >>> d = describe_device()
    >>> d["machine"], d["cores"]["logical"], d["runtimes"]["onnxruntime"]
    ('aarch64', 4, '1.20.1')
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import importlib.util
import os
import platform
from pathlib import Path
from typing import Any

from edgeopt.version import __version__

_RUNTIME_PACKAGES = ("onnxruntime", "executorch", "torch", "numpy", "openvino")


def describe_device() -> dict[str, Any]:
    """A JSON-ready description of this machine (see the module docstring)."""
    cpuinfo = _cpuinfo()
    first = cpuinfo[0] if cpuinfo else {}
    model = first.get("model name") or first.get("Hardware") or first.get("Processor") or platform.processor()
    flags = (first.get("flags") or first.get("Features") or "").split()
    physical = {(c.get("physical id"), c.get("core id")) for c in cpuinfo if "core id" in c}
    described: dict[str, Any] = {
        "hostname": platform.node(),
        "machine": platform.machine(),
        "system": platform.system(),
        "os": platform.platform(),
        "python": platform.python_version(),
        "edgeopt": __version__,
        "cpu": {"model": model or None, "flags": sorted(set(flags))},
        "cores": {"logical": os.cpu_count(), "usable": _usable_cores(), "physical": len(physical) or None},
        "memory_bytes": _memory_bytes(),
        "runtimes": {name: _version(name) for name in _RUNTIME_PACKAGES},
    }
    board = _read("/proc/device-tree/model")  # "Raspberry Pi 5 Model B Rev 1.0", a Jetson's name
    if board:
        described["board"] = board
    for key in ("CPU implementer", "CPU part"):  # ARM: which core design (0xd0b: Cortex-A76)
        if first.get(key):
            described["cpu"][key.split()[1]] = first[key]
    freq = _cpufreq()
    if freq:
        described["cpufreq"] = freq
    return described


def runtime_available(name: str) -> bool:
    """Whether a runtime's Python package can be imported here (checked without importing it).

    ExecuTorch's Python runtime needs torch as well.
    """
    needs = {"onnxruntime": ("onnxruntime",), "executorch": ("executorch", "torch")}.get(name, (name,))
    return all(_findable(module) for module in needs)


def _findable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # ValueError: the module is blocked (sys.modules[name] is None)
        return False


def _version(package: str) -> str | None:
    if not _findable(package):
        return None
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def _cpuinfo() -> list[dict[str, str]]:
    text = _read("/proc/cpuinfo") or ""
    blocks: list[dict[str, str]] = []
    shared: dict[str, str] = {}  # ARM lists Hardware/Model once, after the per-core blocks
    for block in text.strip().split("\n\n"):
        entry = {}
        for line in block.splitlines():
            key, sep, value = line.partition(":")
            if sep:
                entry[key.strip()] = value.strip()
        if "processor" in entry and entry["processor"].isdigit():
            blocks.append(entry)
        else:
            shared.update(entry)
    return [{**shared, **b} for b in blocks] or ([shared] if shared else [])


def _usable_cores() -> int | None:
    with contextlib.suppress(AttributeError, OSError):
        return len(os.sched_getaffinity(0))
    return os.cpu_count()


def _memory_bytes() -> int | None:
    for line in (_read("/proc/meminfo") or "").splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) * 1024
    with contextlib.suppress(ValueError, OSError, AttributeError):
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return None


def _cpufreq() -> dict[str, Any]:
    base = Path("/sys/devices/system/cpu/cpu0/cpufreq")
    out: dict[str, Any] = {}
    for key, name in (("min_mhz", "cpuinfo_min_freq"), ("max_mhz", "cpuinfo_max_freq")):
        value = _read(base / name)
        if value and value.strip().isdigit():
            out[key] = int(value) // 1000
    governor = _read(base / "scaling_governor")
    if governor:
        out["governor"] = governor.strip()
    return out


def _read(path: str | Path) -> str | None:
    try:
        return Path(path).read_text(encoding="utf-8", errors="replace").rstrip("\x00\n")
    except OSError:
        return None
