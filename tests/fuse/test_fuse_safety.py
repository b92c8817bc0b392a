"""When fusion must not fold, training-mode inputs, untraceable models and the self-check."""

from __future__ import annotations

import copy

import pytest
import torch
from fuse_helpers import randomize_batchnorms, relative_error
from torch import nn

from edgeopt.errors import EdgeoptError
from edgeopt.fuse import fuse, fuse_with_report


class TwoConsumers(nn.Module):
    """conv1's output feeds both its BatchNorm and a skip branch: folding would change the skip."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(4, 4, 3, padding=1), nn.BatchNorm2d(4)
        self.conv2, self.bn2 = nn.Conv2d(4, 4, 3, padding=1), nn.BatchNorm2d(4)

    def forward(self, x):
        y = self.conv1(x)
        return self.bn2(self.conv2(self.bn1(y))) + y


def test_conv_output_with_a_second_consumer_is_not_folded():
    model = randomize_batchnorms(TwoConsumers()).eval()
    x = torch.randn(2, 4, 6, 6)
    fused, report = fuse_with_report(model, x)
    assert [f.modules for f in report.fused] == [("conv2", "bn2")]
    assert [(s.modules, s.reason) for s in report.skipped] == [
        (("conv1", "bn1"), "the output of 'conv1' also feeds add")
    ]
    assert report.batchnorm_after == 1 and isinstance(fused.get_submodule("bn1"), nn.BatchNorm2d)
    with torch.no_grad():
        assert relative_error(model(x), fused(x)) <= 1e-5


class SharedConv(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv, self.bn = nn.Conv2d(3, 3, 1), nn.BatchNorm2d(3)

    def forward(self, x):
        return self.bn(self.conv(x)) + self.conv(x * 2)


def test_conv_called_twice_is_not_folded():
    model = randomize_batchnorms(SharedConv()).eval()
    _, report = fuse_with_report(model, torch.randn(1, 3, 4, 4))
    assert report.fused == [] and "called 2 times" in report.skipped[0].reason


def test_batchnorm_without_running_stats_is_not_folded():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4, track_running_stats=False)).eval()
    x = torch.randn(3, 3, 5, 5)
    fused, report = fuse_with_report(model, x)
    assert report.fused == [] and "track_running_stats=False" in report.skipped[0].reason
    torch.testing.assert_close(fused(x), model(x))


def test_linear_on_3d_input_is_not_folded_into_the_wrong_dimension():
    # BatchNorm1d(5) normalises dim 1 (the 5 tokens), not the Linear's 5 output features.
    model = randomize_batchnorms(nn.Sequential(nn.Linear(8, 5), nn.BatchNorm1d(5))).eval()
    x = torch.randn(2, 5, 8)
    fused, report = fuse_with_report(model, x)
    assert report.fused == [] and "2-D outputs" in report.skipped[0].reason
    torch.testing.assert_close(fused(x), model(x))


def test_training_mode_model_fuses_its_eval_behaviour_and_stays_untouched():
    model = randomize_batchnorms(nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU()))
    model.train()
    state = copy.deepcopy(model.state_dict())
    x = torch.randn(4, 3, 6, 6)
    fused, report = fuse_with_report(model, x)
    assert report.input_was_training and "training mode" in report.summary()
    assert model.training and all(m.training for m in model.modules())  # modes untouched
    assert all(torch.equal(state[k], v) for k, v in model.state_dict().items())  # weights untouched
    assert isinstance(model[1], nn.BatchNorm2d)
    with torch.no_grad():
        assert relative_error(model.eval()(x), fused(x)) <= 1e-5
        # a training-mode BatchNorm would normalise with batch stats, which fusion cannot express
        assert relative_error(model.train()(x), fused(x)) > 1e-2


class DataDependent(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2))
        self.gate = Gate()

    def forward(self, x):
        return self.gate(self.stem(x))


class Gate(nn.Module):
    def forward(self, x):
        if x.sum() > 0:
            return x
        return -x


def test_untraceable_model_names_the_module_and_line():
    with pytest.raises(EdgeoptError) as info:
        fuse(DataDependent(), torch.randn(1, 1, 5, 5))
    message = str(info.value)
    assert "cannot trace DataDependent" in message and "module 'gate'" in message
    assert "if x.sum() > 0:" in message


def test_input_the_model_rejects_is_a_clear_error():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))
    with pytest.raises(EdgeoptError, match=r"does not run on an input of shape \(1, 1, 8, 8\)"):
        fuse(model, torch.randn(1, 1, 8, 8))
    with pytest.raises(EdgeoptError, match="one tensor batch"):
        fuse(model, [torch.randn(1, 3, 8, 8)])
    with pytest.raises(EdgeoptError, match="expects a torch.nn.Module"):
        fuse("mobilenet_v1")


def test_a_wrong_fold_is_caught_by_the_self_check(monkeypatch):
    import edgeopt.fuse.fold as fold

    real = fold.folded_layer

    def off_by_a_bit(layer, bn):
        new = real(layer, bn)
        with torch.no_grad():
            new.bias.add_(1e-3)
        return new

    monkeypatch.setattr(fold, "folded_layer", off_by_a_bit)
    model = randomize_batchnorms(nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))).eval()
    with pytest.raises(EdgeoptError, match="does not match the original"):
        fuse(model, torch.randn(1, 3, 6, 6))
