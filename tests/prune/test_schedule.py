"""edgeopt.prune.schedule: Zhu & Gupta's cubic sparsity ramp and gradual magnitude pruning."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from edgeopt import prune
from edgeopt.data import load_dataset
from edgeopt.errors import EdgeoptError
from edgeopt.models import create_model
from edgeopt.prune.masks import is_masked
from edgeopt.runtime import scoped_threads
from edgeopt.train import TrainConfig


def test_polynomial_sparsity_values():
    values = [prune.polynomial_sparsity(t, 4, 0.0, 0.8) for t in range(5)]
    # s_t = 0.8 - 0.8 * (1 - t/4)^3
    assert values == pytest.approx([0.0, 0.4625, 0.7, 0.7875, 0.8])
    assert prune.polynomial_sparsity(0, 3, 0.2, 0.9) == pytest.approx(0.2)
    assert prune.polynomial_sparsity(3, 3, 0.2, 0.9) == pytest.approx(0.9)
    assert prune.polynomial_sparsity(1, 3, 0.2, 0.9) == pytest.approx(0.9 - 0.7 * (2 / 3) ** 3)


def test_polynomial_sparsity_rises_fast_then_slowly():
    values = [prune.polynomial_sparsity(t, 10, 0.0, 0.9) for t in range(11)]
    increments = [b - a for a, b in itertools.pairwise(values)]
    assert all(x > y for x, y in itertools.pairwise(increments))  # strictly decreasing steps
    assert prune.polynomial_sparsity(5, 5, 0.3, 0.3) == pytest.approx(0.3)  # flat when equal


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((0, 0, 0.0, 0.5), "steps must be an integer >= 1"),
        ((1, 2.5, 0.0, 0.5), "steps must be an integer >= 1"),
        ((3, 2, 0.0, 0.5), r"step 3 is outside 0\.\.2"),
        ((-1, 2, 0.0, 0.5), "outside"),
        ((True, 2, 0.0, 0.5), "outside"),
        ((1, 2, 0.0, 1.0), r"final sparsity 1\.0 is outside \[0, 1\)"),
        ((1, 2, -0.1, 0.5), "initial sparsity -0.1 is outside"),
        ((1, 2, math.nan, 0.5), "initial sparsity nan is outside"),
        ((1, 2, 0.6, 0.5), "initial sparsity 0.6 is above final sparsity 0.5"),
    ],
)
def test_polynomial_sparsity_errors(args, message):
    with pytest.raises(EdgeoptError, match=message):
        prune.polynomial_sparsity(*args)


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


def _cnn():
    torch.manual_seed(0)
    return create_model("simple_cnn", num_classes=10, in_chans=1)


def test_gradual_magnitude_follows_the_schedule(digits):
    model = _cnn()
    config = TrainConfig(epochs=1, max_steps=3, lr=1e-3, progress=False)
    with scoped_threads(1):
        sparse, history = prune.gradual_magnitude(
            model, digits.train, digits.val, final_sparsity=0.75, steps=3, config=config,
            scope="layer")
    assert [row["step"] for row in history] == [0, 1, 2, 3]
    pruned = [m for m in sparse.modules() if is_masked(m)]
    assert len(pruned) == 2  # the first conv and the classifier stayed dense
    for row in history:
        target = prune.polynomial_sparsity(row["step"], 3, 0.0, 0.75)
        assert row["target_sparsity"] == pytest.approx(target)
        assert row["sparsity"] == pytest.approx(target, abs=2e-4)  # one weight per layer
        assert 0.0 <= row["val_acc"] <= 1.0 and 0.0 <= row["val_acc_pruned"] <= 1.0
    assert [row["epochs"] for row in history] == [0, 1, 1, 1]
    # Every pruned layer ends at 75% and the input model was not touched.
    for module in pruned:
        assert (module.weight == 0).float().mean().item() == pytest.approx(0.75, abs=2e-4)
    assert not any(is_masked(m) for m in model.modules())


def test_gradual_magnitude_without_validation_data_and_with_initial_sparsity(digits):
    config = TrainConfig(epochs=1, max_steps=2, progress=False)
    with scoped_threads(1):
        _, history = prune.gradual_magnitude(
            _cnn(), digits.train, None, initial_sparsity=0.3, final_sparsity=0.6, steps=1,
            config=config, exclude=[], scope="layer")
    assert [round(row["sparsity"], 3) for row in history] == [0.3, 0.6]
    assert all(row["val_acc"] is None for row in history)


def test_gradual_magnitude_checks_its_arguments_before_training(digits):
    with pytest.raises(EdgeoptError, match="final sparsity 1.0 is outside"):
        prune.gradual_magnitude(_cnn(), digits.train, final_sparsity=1.0)
    with pytest.raises(EdgeoptError, match="steps must be an integer >= 1"):
        prune.gradual_magnitude(_cnn(), digits.train, final_sparsity=0.5, steps=0)
    with pytest.raises(EdgeoptError, match="did you mean 'classifier'"):
        prune.gradual_magnitude(_cnn(), digits.train, final_sparsity=0.5, exclude=["clasifier"])
