"""Search spaces: the built-in ones, files, sampling and what lies outside a space."""

from __future__ import annotations

import random

import pytest

from edgeopt.errors import EdgeoptError
from edgeopt.latency import BUILTIN_SPACES, Arch, BlockConfig, build_model, get_space


@pytest.mark.parametrize("name", sorted(BUILTIN_SPACES))
def test_builtin_spaces_sample_inside_themselves(name):
    space = get_space(name)
    rng = random.Random(0)
    for _ in range(20):
        arch = space.sample(rng)
        assert space.problems(arch) == []
        assert Arch.model_validate_json(arch.to_json()) == arch


def test_a_sampled_architecture_builds_and_runs(tiny_space):
    import torch

    arch = tiny_space.sample(random.Random(3))
    model = build_model(arch, tiny_space).eval()
    assert model(torch.zeros(1, 3, 16, 16)).shape == (1, 4)


def test_what_lies_outside_the_space_is_named(tiny_space):
    arch = tiny_space.sample(random.Random(0))
    odd = arch.model_copy(update={"width": 0.75, "stages": (arch.stages[0], (BlockConfig(kernel=7, expansion=6),))})
    problems = tiny_space.problems(odd)
    assert any("width 0.75" in p for p in problems)
    assert any("kernel 7" in p for p in problems) and any("expansion 6" in p for p in problems)


def test_space_files_and_their_errors(tmp_path):
    good = tmp_path / "space.yaml"
    good.write_text("name: mine\nstages:\n  - {channels: 16, depths: [1, 2], stride: 2}\nwidths: [0.5]\n"
                    "resolutions: [64]\n")
    assert get_space(good).stages[0].channels == 16
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: mine\nstages:\n  - {channels: 16, depths: [1], stride: 3}\nwidths: [0.5]\n"
                   "resolutions: [64]\n")
    with pytest.raises(EdgeoptError, match=r"bad.yaml: field stages.0.stride"):
        get_space(bad)
    with pytest.raises(EdgeoptError, match="unknown search space 'mobilenet_v4'") as info:
        get_space("mobilenet_v4")
    assert "mobilenet_v" in (info.value.hint or "")
    with pytest.raises(EdgeoptError, match="does not exist"):
        get_space(tmp_path / "missing.yaml")
    listed = tmp_path / "list.yaml"
    listed.write_text("- 1\n- 2\n")
    with pytest.raises(EdgeoptError, match="a search space is a mapping"):
        get_space(listed)
