"""Targets: the named device's CPU facts decide reduce_range, bf16 and threads, not the host's."""

import json

import pytest
import yaml

from edgeopt.devices import CpuFacts, Target, builtin_devices, resolve_target, target as target_module
from edgeopt.errors import EdgeoptError
from edgeopt.utils import cpu

X86_AVX2 = "flags\t\t: fpu sse4_2 avx avx2 fma\n"
X86_VNNI = "flags\t\t: fpu avx2 avx512f avx512_vnni\n"
ARM_A76 = "Features\t: fp asimd asimddp\n"


@pytest.fixture
def host(monkeypatch):
    """Fake this machine: ``host(machine, cpuinfo, cores)``."""

    def fake(machine: str, cpuinfo: str, cores: int = 2) -> None:
        monkeypatch.setattr(cpu.platform, "machine", lambda: machine)
        monkeypatch.setattr(cpu, "_read_cpuinfo", lambda: cpuinfo)
        monkeypatch.setattr(target_module.os, "cpu_count", lambda: cores)

    return fake


@pytest.mark.parametrize(("machine", "cpuinfo", "reduce_range", "arch"), [
    ("x86_64", X86_AVX2, True, "x86_64"),
    ("x86_64", X86_VNNI, False, "x86_64"),
    ("aarch64", ARM_A76, False, "arm64"),
])
def test_host_target_reads_this_machine(host, machine, cpuinfo, reduce_range, arch):
    host(machine, cpuinfo, cores=6)
    for name in (None, "host"):
        target = resolve_target(name)
        assert target.is_host and target.name == "host" and "host" in target.display_name
        assert (target.arch, target.cores, target.reduce_range) == (arch, 6, reduce_range)


def test_x86_without_vnni_reason_says_7_bits(host):
    host("x86_64", X86_AVX2)
    target = resolve_target("host")
    assert "without VNNI" in target.reduce_range_reason and "7 bits" in target.reduce_range_reason
    assert not target.bf16 and "not offered" in target.bf16_reason


@pytest.mark.parametrize("cpuinfo", [X86_AVX2, X86_VNNI])
def test_catalog_target_decides_regardless_of_the_host(host, cpuinfo):
    host("x86_64", cpuinfo, cores=2)
    pi4 = resolve_target("raspberry-pi-4")
    assert not pi4.is_host and (pi4.arch, pi4.cores, pi4.int8_dot_product, pi4.bf16) == ("arm64", 4, False, False)
    assert pi4.reduce_range is False and "8 bits" in pi4.reduce_range_reason
    assert pi4.thread_counts(host_cores=2) == [1, 2]


def test_catalog_facts_of_the_cpu_devices():
    facts = {name: resolve_target(name) for name in
             ("raspberry-pi-5", "jetson-nano", "jetson-orin-nano", "snapdragon-8-gen-2", "amd-epyc-9654")}
    assert {n: (t.arch, t.cores, t.int8_dot_product, t.bf16) for n, t in facts.items()} == {
        "raspberry-pi-5": ("arm64", 4, True, False), "jetson-nano": ("arm64", 4, False, False),
        "jetson-orin-nano": ("arm64", 6, True, False), "snapdragon-8-gen-2": ("arm64", 8, True, True),
        "amd-epyc-9654": ("x86_64", 96, True, True)}
    epyc = facts["amd-epyc-9654"]
    assert not epyc.reduce_range and "offered" in epyc.bf16_reason and "not" not in epyc.bf16_reason
    assert epyc.thread_counts(host_cores=2) == [1, 2] and epyc.thread_counts(host_cores=128) == [1, 96]
    assert all(t.source for t in facts.values())


def test_an_x86_target_without_vnni_needs_reduce_range_even_on_an_arm_host(host):
    host("aarch64", ARM_A76)
    old = Target("old-pc", "Old PC", False, "x86_64", 4, int8_dot_product=False, bf16=False)
    assert old.reduce_range and resolve_target("host").reduce_range is False


def test_thread_counts_are_distinct_and_sorted():
    single = Target("mcu-ish", "One core", False, "arm64", 1, True, False)
    assert single.thread_counts(host_cores=8) == [1]
    assert Target("t", "T", False, "arm64", 4, True, False).thread_counts(host_cores=1) == [1]
    assert Target("t", "T", False, "arm64", 4, True, False).thread_counts(host_cores=16) == [1, 4]


@pytest.mark.parametrize("name", ["stm32h743", "esp32-s3", "nvidia-a100", "coral-usb-accelerator"])
def test_devices_without_cpu_facts_are_refused_in_one_line(name):
    with pytest.raises(EdgeoptError) as raised:
        resolve_target(name)
    error = raised.value
    assert "\n" not in str(error) and name in error.message
    assert "runs no CPU runtime" in error.message and "ONNX Runtime" in error.message
    assert error.hint is not None and "raspberry-pi-4" in error.hint and name not in error.hint


def test_unknown_name_is_refused_with_a_suggestion():
    with pytest.raises(EdgeoptError) as raised:
        resolve_target("raspbery-pi-4")
    assert "\n" not in str(raised.value) and "unknown target 'raspbery-pi-4'" in raised.value.message
    assert "'raspberry-pi-4'" in (raised.value.hint or "")
    with pytest.raises(EdgeoptError, match="edgeopt devices"):
        resolve_target("no-such-thing-at-all")


def test_to_dict_round_trips_through_json(host):
    host("x86_64", X86_AVX2)
    for name in ("host", "raspberry-pi-5", "amd-epyc-9654"):
        target = resolve_target(name)
        data = json.loads(json.dumps(target.to_dict()))
        assert data == target.to_dict()
        assert Target(**{k: data[k] for k in Target.__dataclass_fields__}) == target
        assert data["reduce_range"] == target.reduce_range and data["reduce_range_reason"]
        assert data["bf16_reason"] == target.bf16_reason
    assert resolve_target("host").to_dict()["reduce_range"] is True


def test_a_users_device_file_can_be_a_target(tmp_path, device_data):
    data = device_data(name="my-x86-box", cpu={"arch": "x86_64", "cores": 8, "int8_dot_product": False,
                                                "bf16": False})
    data["sources"]["cpu"] = "my box's /proc/cpuinfo"
    file = tmp_path / "mine.yaml"
    file.write_text(yaml.safe_dump(data))
    target = resolve_target("my-x86-box", [file])
    assert target.reduce_range and target.cores == 8 and target.source == "my box's /proc/cpuinfo"


def test_cpu_block_needs_a_source_and_valid_facts(make_device):
    facts = {"arch": "arm64", "cores": 4, "int8_dot_product": True, "bf16": False}
    with pytest.raises(ValueError, match="no source for 'cpu'"):
        make_device(cpu=facts)
    with pytest.raises(ValueError, match="cores"):
        make_device(cpu={**facts, "cores": 0})
    with pytest.raises(ValueError, match="arch"):
        make_device(cpu={**facts, "arch": "sparc"})
    assert CpuFacts(**facts).cores == 4


def test_only_cpu_devices_have_cpu_facts():
    with_cpu = {d.name for d in builtin_devices() if d.cpu is not None}
    assert with_cpu == {"raspberry-pi-4", "raspberry-pi-5", "jetson-nano", "jetson-orin-nano",
                        "snapdragon-8-gen-2", "amd-epyc-9654"}
    assert all(d.sources["cpu"].strip() for d in builtin_devices() if d.cpu is not None)
