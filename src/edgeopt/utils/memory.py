"""How much memory this machine has left, and refusing work that cannot fit, before allocating it.

Only *lower bounds* of what a job needs are compared with the memory available (``MemAvailable``,
capped by a cgroup limit), so a job that could run is never refused; one that cannot gets a
one-line error that says both figures instead of a traceback from the allocator or the OOM killer.

Example:
    >>> check_input_memory((1, 3, 1_000_000, 1_000_000))
    Traceback (most recent call last):
    ...
    edgeopt.errors.EdgeoptError: an input of size 1×3×1000000×1000000 needs at least 10.91 TiB ...
"""

from __future__ import annotations

import math
from pathlib import Path

from edgeopt.errors import EdgeoptError
from edgeopt.utils.units import format_bytes

FLOAT32_BYTES = 4



def available_memory() -> int | None:
    """Bytes of memory this process can still use: ``MemAvailable``, capped by a cgroup's limit.

    None when the platform says neither (the checks are then skipped).
    """
    figures: list[int] = []
    meminfo = _read_meminfo()
    if meminfo is not None:
        figures.append(meminfo)
    cgroup = _cgroup_room()
    if cgroup is not None:
        figures.append(cgroup)
    if not figures:
        try:
            import os

            figures.append(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES"))
        except (AttributeError, ValueError, OSError):
            return None
    return max(min(figures), 0)


def _read_meminfo() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text(encoding="ascii").splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def _cgroup_room() -> int | None:
    """Limit minus usage of this process's cgroup (v2, else v1); None without a limit."""
    pairs = (("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
             ("/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/memory/memory.usage_in_bytes"))
    for limit_file, usage_file in pairs:
        try:
            limit_text = Path(limit_file).read_text(encoding="ascii").strip()
            if limit_text == "max":
                return None
            limit, usage = int(limit_text), int(Path(usage_file).read_text(encoding="ascii").strip())
        except (OSError, ValueError):
            continue
        if limit >= 2**60:  # cgroup v1 writes a huge number for "no limit"
            return None
        return limit - usage
    return None


def check_memory(needed: int, what: str, hint: str) -> None:
    """Raise if ``needed`` bytes (a lower bound) exceed the memory available.

    Args:
        needed: Bytes the work needs at least.
        what: What needs them, completing "``what`` needs at least N of memory".
        hint: How to need less.

    Raises:
        EdgeoptError: Naming both figures.
    """
    available = available_memory()
    if available is not None and needed > available:
        raise EdgeoptError(f"{what} needs at least {format_bytes(needed)} of memory, but this machine has "
                           f"{format_bytes(available)} available", hint=hint)


def tensor_bytes(shape: tuple[int, ...], itemsize: int = FLOAT32_BYTES) -> int:
    """Bytes of a dense tensor of ``shape`` (float32 by default)."""
    return math.prod(shape) * itemsize


def check_input_memory(shape: tuple[int, ...], what: str = "an input") -> None:
    """Refuse an input tensor (float32) bigger than the memory available."""
    shown = "×".join(map(str, shape))
    check_memory(tensor_bytes(shape), f"{what} of size {shown}",
                 hint="use a smaller input size (C,H,W), e.g. 3,224,224")
