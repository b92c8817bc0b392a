"""CPU facts of this machine: normalized architecture, feature flags, int8 dot products, bf16.

These describe the machine edgeopt runs on. Choices that go into an artifact (7-bit weights,
bf16, thread counts) must come from the *target* the user names
(:func:`edgeopt.devices.resolve_target`), which falls back to these facts only when the target
is the host. :func:`needs_reduce_range` is the one rule both use.

The flags come from the ``flags`` (x86) or ``Features`` (Arm) lines of ``/proc/cpuinfo``; where
that file cannot be read (macOS, Windows) the flags are empty, and every feature reads as absent.

Example:
    >>> machine_arch() in ("x86_64", "arm64") or isinstance(machine_arch(), str)
    True
    >>> parse_cpu_flags("flags : fpu avx2 avx512_vnni\\n") >= {"avx2", "avx512_vnni"}
    True
    >>> needs_reduce_range("x86_64", int8_dot_product=False), needs_reduce_range("arm64", False)
    (True, False)
"""

from __future__ import annotations

import platform
from pathlib import Path

_CPUINFO = Path("/proc/cpuinfo")
_FLAG_KEYS = ("flags", "features")  # x86 "flags", Arm "Features"

X86_ARCHES = frozenset({"x86_64", "i386", "i686", "x86"})
_ALIASES = {"amd64": "x86_64", "x64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}

# x86: AVX-512 VNNI, AVX-VNNI, AMX int8; Arm: "asimddp" is Linux's name for SDOT/UDOT (FEAT_DotProd)
INT8_DOT_FLAGS = frozenset({"avx512_vnni", "avx_vnni", "amx_int8", "asimddp"})
# x86: AVX512_BF16, AMX_BF16; Arm: "bf16" is Linux's name for FEAT_BF16
BF16_FLAGS = frozenset({"avx512_bf16", "amx_bf16", "bf16"})


def machine_arch() -> str:
    """This machine's architecture: ``"x86_64"``, ``"arm64"``, or ``platform.machine()`` lowercased.

    ``AMD64`` (Windows) becomes ``x86_64``, ``aarch64`` (Linux) becomes ``arm64``.

    Example:
        >>> isinstance(machine_arch(), str)
        True
    """
    machine = platform.machine().lower()
    return _ALIASES.get(machine, machine)


def is_x86(arch: str) -> bool:
    """True for x86 architectures (64- or 32-bit) as :func:`machine_arch` names them.

    Example:
        >>> is_x86("x86_64"), is_x86("i686"), is_x86("arm64")
        (True, True, False)
    """
    return arch in X86_ARCHES


def _read_cpuinfo() -> str:
    """The text of ``/proc/cpuinfo``; ``""`` when it cannot be read."""
    try:
        return _CPUINFO.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def parse_cpu_flags(cpuinfo: str) -> frozenset[str]:
    """The feature flags named on the ``flags`` / ``Features`` lines of a ``/proc/cpuinfo`` text.

    Example:
        >>> sorted(parse_cpu_flags("processor : 0\\nFeatures : fp asimd asimddp\\n"))
        ['asimd', 'asimddp', 'fp']
    """
    flags: set[str] = set()
    for line in cpuinfo.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip().lower() in _FLAG_KEYS:
            flags.update(value.lower().split())
    return frozenset(flags)


def cpu_flags() -> frozenset[str]:
    """This machine's CPU feature flags (lowercase); empty when ``/proc/cpuinfo`` is unreadable.

    Example:
        >>> isinstance(cpu_flags(), frozenset)
        True
    """
    return parse_cpu_flags(_read_cpuinfo())


def has_int8_dot_product(flags: frozenset[str]) -> bool:
    """True if ``flags`` name an int8 dot product (x86 VNNI / AMX int8, Arm SDOT/UDOT).

    Example:
        >>> has_int8_dot_product(frozenset({"avx2"})), has_int8_dot_product(frozenset({"asimddp"}))
        (False, True)
    """
    return bool(flags & INT8_DOT_FLAGS)


def has_bf16(flags: frozenset[str]) -> bool:
    """True if ``flags`` name native bf16 arithmetic (x86 AVX512_BF16 / AMX_BF16, Arm FEAT_BF16).

    Example:
        >>> has_bf16(frozenset({"avx512_bf16"})), has_bf16(frozenset({"avx512f"}))
        (True, False)
    """
    return bool(flags & BF16_FLAGS)


def host_int8_dot_product() -> bool:
    """True if this machine's CPU has int8 dot-product instructions (see :func:`has_int8_dot_product`).

    Example:
        >>> isinstance(host_int8_dot_product(), bool)
        True
    """
    return has_int8_dot_product(cpu_flags())


def host_bf16() -> bool:
    """True if this machine's CPU has native bf16 arithmetic (see :func:`has_bf16`).

    Example:
        >>> isinstance(host_bf16(), bool)
        True
    """
    return has_bf16(cpu_flags())


def needs_reduce_range(arch: str, int8_dot_product: bool) -> bool:
    """True if ONNX Runtime int8 weights should use 7 bits (``reduce_range``) on this CPU.

    On x86 without VNNI/AMX, ONNX Runtime's u8×s8 kernels add pairs of products in int16
    (``vpmaddubsw``), which can saturate; 7-bit weights keep the sums in range. x86 with an int8
    dot product, and every other architecture, accumulate in int32. An x86 CPU whose flags are
    unknown counts as one without VNNI (the safe choice).

    Example:
        >>> needs_reduce_range("x86_64", False), needs_reduce_range("x86_64", True)
        (True, False)
        >>> needs_reduce_range("arm64", False)
        False
    """
    return is_x86(arch) and not int8_dot_product
