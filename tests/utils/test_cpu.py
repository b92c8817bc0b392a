"""This machine's CPU facts, with /proc/cpuinfo and the architecture faked per test."""

import pytest

from edgeopt.quantize import onnx_static
from edgeopt.utils import cpu

X86_AVX2 = "processor\t: 0\nflags\t\t: fpu sse4_2 avx avx2 fma\nprocessor\t: 1\nflags\t\t: fpu sse4_2 avx avx2 fma\n"
X86_VNNI = "processor\t: 0\nflags\t\t: fpu avx2 avx512f avx512_vnni avx512_bf16 amx_int8\n"
ARM_A76 = "processor\t: 0\nFeatures\t: fp asimd evtstrm aes crc32 atomics fphp asimdhp asimdrdm asimddp\n"
ARM_V9 = "processor\t: 0\nFeatures\t: fp asimd asimddp sve2 i8mm bf16\n"


@pytest.fixture
def host(monkeypatch):
    """Fake this machine: ``host(machine, cpuinfo)``; cpuinfo None = unreadable."""

    def fake(machine: str, cpuinfo: str | None) -> None:
        monkeypatch.setattr(cpu.platform, "machine", lambda: machine)
        if cpuinfo is None:
            monkeypatch.setattr(cpu, "_CPUINFO", cpu.Path("/nonexistent/cpuinfo"))
        else:
            monkeypatch.setattr(cpu, "_read_cpuinfo", lambda: cpuinfo)
        onnx_static.host_needs_reduce_range.cache_clear()

    yield fake
    onnx_static.host_needs_reduce_range.cache_clear()


@pytest.mark.parametrize(("machine", "arch"), [("x86_64", "x86_64"), ("AMD64", "x86_64"),
                                                ("aarch64", "arm64"), ("arm64", "arm64"),
                                                ("armv7l", "armv7l"), ("RISCV64", "riscv64")])
def test_machine_arch_is_normalized(host, machine, arch):
    host(machine, "")
    assert cpu.machine_arch() == arch


def test_flags_from_x86_and_arm_lines():
    assert cpu.parse_cpu_flags(X86_AVX2) == {"fpu", "sse4_2", "avx", "avx2", "fma"}
    assert "asimddp" in cpu.parse_cpu_flags(ARM_A76)
    assert cpu.parse_cpu_flags("model name : flags avx512_vnni in a name\n") == frozenset()


def test_unreadable_cpuinfo_gives_no_flags(host):
    host("x86_64", None)
    assert cpu.cpu_flags() == frozenset()
    assert not cpu.host_int8_dot_product() and not cpu.host_bf16()


@pytest.mark.parametrize(("cpuinfo", "dot", "bf16"), [(X86_AVX2, False, False), (X86_VNNI, True, True),
                                                       (ARM_A76, True, False), (ARM_V9, True, True)])
def test_host_features(host, cpuinfo, dot, bf16):
    host("x86_64" if "flags" in cpuinfo else "aarch64", cpuinfo)
    assert (cpu.host_int8_dot_product(), cpu.host_bf16()) == (dot, bf16)


@pytest.mark.parametrize(("machine", "cpuinfo", "expected"), [
    ("x86_64", X86_AVX2, True),       # x86 without VNNI: u8×s8 kernels saturate int16 sums
    ("x86_64", X86_VNNI, False),
    ("x86_64", "flags : avx2 avx_vnni\n", False),
    ("AMD64", None, True),            # unknown x86: the safe choice
    ("i686", X86_AVX2, True),
    ("aarch64", ARM_A76, False),      # Arm accumulates in int32
    ("aarch64", None, False),
])
def test_host_needs_reduce_range_uses_the_cpu_facts(host, machine, cpuinfo, expected):
    host(machine, cpuinfo)
    assert onnx_static.host_needs_reduce_range() is expected
    assert cpu.needs_reduce_range(cpu.machine_arch(), cpu.host_int8_dot_product()) is expected


def test_public_through_utils():
    import edgeopt.utils as utils

    assert utils.machine_arch is cpu.machine_arch and utils.needs_reduce_range is cpu.needs_reduce_range
