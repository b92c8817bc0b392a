"""Architectures ↔ Optuna parameters, and the Pareto front."""

from __future__ import annotations

import random

import optuna
import pytest

from edgeopt.models.spaces import SearchSpace, get_space
from edgeopt.search.front import dominated_by, hypervolume_2d, pareto_indices
from edgeopt.search.params import arch_from_params, arch_key, arch_params, suggest_arch


@pytest.mark.parametrize("name", ["mnist", "mobilenet_v2"])
def test_suggested_arch_lies_in_space_and_round_trips(name: str) -> None:
    space = get_space(name)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=3))
    for _ in range(5):
        trial = study.ask()
        arch = suggest_arch(trial, space)
        assert space.problems(arch) == []
        assert arch_from_params(space, trial.params) == arch
        study.tell(trial, 0.0)


def test_arch_params_give_back_the_arch(tiny_space: SearchSpace) -> None:
    space = tiny_space
    for seed in range(10):
        arch = space.sample(random.Random(seed))
        assert arch_from_params(space, arch_params(space, arch)) == arch


def test_arch_key_ignores_unused_blocks_but_not_used_ones(tiny_space: SearchSpace) -> None:
    space = tiny_space
    arch = space.smallest()
    params = arch_params(space, arch)
    unused = dict(params, **{"s1.b1.kernel": 5})  # depth of stage 1 is 1: block 1 unused
    used = dict(params, **{"s1.b0.kernel": 5})
    assert arch_key(arch_from_params(space, unused)) == arch_key(arch)
    assert arch_key(arch_from_params(space, used)) != arch_key(arch)


def test_pareto_front_and_hypervolume() -> None:
    points = [(90.0, 2.0), (95.0, 3.0), (89.0, 2.5), (95.0, 3.0), (80.0, 1.0)]
    directions = ["maximize", "minimize"]
    assert pareto_indices(points, directions) == [0, 1, 4]
    assert dominated_by((89.0, 2.5), [points[i] for i in (0, 1, 4)], directions)
    assert not dominated_by((99.0, 5.0), [points[i] for i in (0, 1, 4)], directions)
    # Rectangles against the reference (0 %, 4 ms): 80×3 + 10×1 + 5×... computed by hand.
    area = hypervolume_2d([(80.0, 1.0), (90.0, 2.0)], (0.0, 4.0), directions)
    assert area == pytest.approx(80 * 3 + 10 * 2)
    assert hypervolume_2d([(50.0, 5.0)], (0.0, 4.0), directions) == 0.0
