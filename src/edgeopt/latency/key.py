"""What a latency table is only valid for: runtime and version, CPU model and flags, threads, precision.

A table measured on one CPU says little about another (DESIGN.md, "Machine facts": one machine
had AVX2 only, another AVX-512 VNNI and AMX, and the fastest int8 runtime differs between them),
nor about another runtime version (kernels change between releases) or thread count. So every
table carries a :class:`TableKey`, and using it where the key differs is refused unless the
caller says so explicitly; then every estimate carries the warning.

The CPU flags kept are those that pick kernels (vector widths and dot-product / matrix
extensions), so a microcode or a hypervisor flag does not invalidate a table.

Example:
    >>> key = current_key("onnxruntime", threads=2, precision="int8")
    >>> key.runtime_version, "avx512_vnni" in key.cpu_flags
    ('1.32.0', True)
"""

from __future__ import annotations

import hashlib
import platform
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from edgeopt.errors import EdgeoptError, suggest

RUNTIMES = ("onnxruntime", "executorch")
PRECISIONS = ("fp32", "int8")
# CPU features that decide which kernels a runtime picks (x86 and ARM names as /proc/cpuinfo has them).
KERNEL_FLAGS = frozenset({
    "sse4_1", "sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512vl", "avx512dq",
    "avx512_vnni", "avx_vnni", "avx512_bf16", "avx512_fp16", "amx_tile", "amx_int8", "amx_bf16",
    "avx_vnni_int8", "asimd", "asimddp", "asimdhp", "i8mm", "bf16", "sve", "sve2", "sme", "fphp",
})


class TableKey(BaseModel):
    """The conditions a table was measured under.

    Attributes:
        runtime: ``onnxruntime`` or ``executorch``.
        runtime_version: Its version.
        cpu: CPU model name.
        cpu_flags: The kernel-relevant CPU flags, sorted.
        threads: Intra-op threads.
        precision: ``fp32`` or ``int8``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    runtime: str = Field(pattern="^(onnxruntime|executorch)$")
    runtime_version: str
    cpu: str
    cpu_flags: tuple[str, ...] = ()
    threads: int = Field(ge=1, le=1024)
    precision: str = Field(pattern="^(fp32|int8)$")

    def digest(self) -> str:
        """A short hash of the key (part of a cached table's file name)."""
        return hashlib.sha256(self.model_dump_json().encode()).hexdigest()[:10]

    def describe(self) -> str:
        """``onnxruntime 1.32.0, int8, 2 threads, Intel Xeon ... (avx512_vnni, amx_int8, ...)``."""
        flags = ", ".join(f for f in self.cpu_flags
                          if "vnni" in f or "amx" in f or f in ("avx2", "avx512f", "asimddp", "i8mm"))
        return (f"{self.runtime} {self.runtime_version}, {self.precision}, {self.threads} thread"
                f"{'s' if self.threads != 1 else ''}, {self.cpu}" + (f" ({flags})" if flags else ""))

    def differences(self, other: TableKey) -> list[str]:
        """What differs between this key (the table's) and ``other`` (here), one phrase each."""
        found = []
        for name in ("runtime", "runtime_version", "cpu", "threads", "precision"):
            mine, theirs = getattr(self, name), getattr(other, name)
            if mine != theirs:
                found.append(f"{name.replace('_', ' ')} {mine} (table) vs {theirs} (here)")
        missing = sorted(set(self.cpu_flags) - set(other.cpu_flags))
        extra = sorted(set(other.cpu_flags) - set(self.cpu_flags))
        if missing or extra:
            changes = [*(f"-{f}" for f in missing), *(f"+{f}" for f in extra)]
            found.append("CPU flags differ (" + ", ".join(changes) + ")")
        return found


def check_runtime(runtime: str) -> str:
    """``runtime`` if known, else an :class:`EdgeoptError` with a suggestion."""
    if runtime not in RUNTIMES:
        raise EdgeoptError(f"unknown runtime {runtime!r}",
                           hint=suggest(runtime, RUNTIMES) or f"use {' or '.join(RUNTIMES)}")
    return runtime


def check_precision(precision: str) -> str:
    """``precision`` if known, else an :class:`EdgeoptError`."""
    if precision not in PRECISIONS:
        raise EdgeoptError(f"unknown precision {precision!r}", hint=f"use {' or '.join(PRECISIONS)}")
    return precision


def current_key(runtime: str, threads: int, precision: str) -> TableKey:
    """The key of this machine and installed runtime.

    Raises:
        EdgeoptError: an unknown runtime or precision, a runtime that is not installed.
    """
    check_runtime(runtime)
    check_precision(precision)
    cpu, flags = cpu_info()
    return TableKey(runtime=runtime, runtime_version=runtime_version(runtime), cpu=cpu, cpu_flags=flags,
                    threads=threads, precision=precision)


def runtime_version(runtime: str) -> str:
    """The installed version of ``runtime``."""
    if runtime == "onnxruntime":
        import onnxruntime

        return str(onnxruntime.__version__)
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("executorch")
    except PackageNotFoundError:
        raise EdgeoptError("the ExecuTorch runtime is not installed",
                           hint="pip install 'edgeopt[executorch]' (executorch==1.5.1)") from None


@lru_cache(maxsize=1)
def cpu_info() -> tuple[str, tuple[str, ...]]:
    """(CPU model name, kernel-relevant flags) from ``/proc/cpuinfo``, else from ``platform``."""
    model, flags = "", set()
    try:
        text = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        text = ""
    for line in text.splitlines():
        name, _, value = line.partition(":")
        name = name.strip().lower()
        if name in ("model name", "hardware", "cpu model") and not model:
            model = value.strip()
        elif name in ("flags", "features"):
            flags.update(value.split())
    model = model or platform.processor() or platform.machine() or "unknown CPU"
    return " ".join(model.split()), tuple(sorted(flags & KERNEL_FLAGS))
