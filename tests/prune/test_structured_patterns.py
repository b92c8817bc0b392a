"""Structured pruning on every dependency pattern: the result is the half-width model, exactly."""

import copy

import pytest
import torch
from structured_zoo import INPUT, ZOO, calibrated, outputs

from edgeopt.analysis import profile
from edgeopt.prune import structured
from edgeopt.prune.channel_pruning import structured_with_report

torch.set_num_threads(1)


@pytest.mark.parametrize("name", sorted(ZOO))
def test_half_ratio_gives_the_half_width_model(name):
    torch.manual_seed(0)
    model = calibrated(ZOO[name](16))
    x = torch.randn(INPUT)
    small = structured(model, 0.5, x)

    expected = profile(ZOO[name](8), input_size=INPUT)
    got = profile(small, input_size=INPUT)
    assert (got.params, got.macs) == (expected.params, expected.macs)
    before, after = outputs(model(x)), outputs(small(x))
    assert [t.shape for t in after] == [t.shape for t in before]


@pytest.mark.parametrize("name", sorted(ZOO))
def test_pruned_model_equals_original_with_removed_channels_ignored(name):
    torch.manual_seed(1)
    model = calibrated(ZOO[name](16))
    _, report = structured_with_report(model, 0.5, torch.randn(INPUT))
    # the self-check compared against the masked original; outputs are O(0.1..10), so this is
    # float rounding only
    assert report.check_max_abs_diff < 1e-4
    assert report.channels_after < report.channels_before


def test_input_model_untouched():
    model = calibrated(ZOO["residual"](16))
    state = copy.deepcopy(model.state_dict())
    modules = list(model.modules())
    model.train()
    structured(model, 0.5, torch.randn(INPUT))
    assert model.training and all(m.training for m in model.modules())
    assert list(model.modules()) == modules
    for key, value in model.state_dict().items():
        assert torch.equal(value, state[key]), key


def test_result_keeps_train_mode_and_trains():
    model = calibrated(ZOO["shuffle"](16)).train()
    small = structured(model, 0.5, torch.randn(INPUT))
    assert small.training
    loss = small(torch.randn(INPUT)).sum()
    loss.backward()
    assert all(p.grad is not None for p in small.parameters())


def test_zero_ratio_keeps_everything():
    model = calibrated(ZOO["concat"](16))
    small = structured(model, 0.0, torch.randn(INPUT))
    assert profile(small, input_size=INPUT).params == profile(model, input_size=INPUT).params


def test_kept_channels_are_the_important_ones():
    model = calibrated(ZOO["flatten_head"](4))
    with torch.no_grad():  # make conv1's channels 1 and 3 the strongest by far
        model.conv1[0].weight[[1, 3]] *= 100
    small = structured(model, 0.5, torch.randn(INPUT), importance="l1")
    assert torch.equal(small.conv1[0].weight, model.conv1[0].weight[[1, 3]])
    assert torch.equal(small.conv1[1].running_mean, model.conv1[1].running_mean[[1, 3]])
