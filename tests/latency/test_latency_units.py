"""Units: the keys computed from an architecture equal those of the built model's profile, and a probe
network (with the derived SE-pool entries) covers every unit of every architecture of its space."""

from __future__ import annotations

import random

import pytest

from edgeopt.analysis import profile
from edgeopt.latency import arch_units, build_model, get_space, profile_units
from edgeopt.latency.packing import ProbeNet, is_probe_scaffolding


def _profiled_keys(arch, space):
    model = build_model(arch, space).eval()
    return [(u.name, u.key, u.macs, u.bytes)
            for u in profile_units(model, profile(model, (1, space.in_chans, arch.resolution, arch.resolution)))]


def test_arch_units_equal_the_models_profile_units(tiny_space):
    rng = random.Random(0)
    for _ in range(6):
        arch = tiny_space.sample(rng)
        from_arch = [(u.name, u.key, u.macs, u.bytes) for u in arch_units(arch, tiny_space)]
        assert from_arch == _profiled_keys(arch, tiny_space)


@pytest.mark.parametrize("name", ["mobilenet_v2", "mobilenet_v3"])
def test_arch_units_equal_profile_units_on_builtin_spaces(name):
    space = get_space(name)
    arch = space.sample(random.Random(1), resolution=128)
    assert [(u.name, u.key, u.macs, u.bytes) for u in arch_units(arch, space)] == _profiled_keys(arch, space)


def test_the_probe_holds_every_unit_but_the_derived_ones(tiny_space):
    net = ProbeNet(tiny_space, 1.0, 16).eval()
    probed = {u.key for u in profile_units(net, profile(net, (1, 3, 16, 16))) if not is_probe_scaffolding(u.name)}
    rng = random.Random(0)
    for _ in range(30):
        for unit in arch_units(tiny_space.sample(rng), tiny_space):
            # a depthwise unit followed by the SE pool is derived (its plain twin + the pool's cost)
            assert unit.key in probed or (unit.key.endswith(",pool") and unit.key[: -len(",pool")] in probed)
