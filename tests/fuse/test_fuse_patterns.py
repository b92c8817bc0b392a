"""Numerics of every fusion pattern: each fold matches the unfused eval model to 1e-5 relative."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from fuse_helpers import randomize_batchnorms, relative_error
from torch import nn

from edgeopt.fuse import folded_layer, fuse, fuse_with_report


def _no_batchnorm(model: nn.Module) -> bool:
    return not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())


def _check(model: nn.Module, x: torch.Tensor, counts: dict[str, int]) -> nn.Module:
    model = randomize_batchnorms(model).eval()
    fused, report = fuse_with_report(model, x)
    assert report.counts == counts
    assert _no_batchnorm(fused) and report.batchnorm_after == 0
    with torch.no_grad():
        assert relative_error(model(x), fused(x)) <= 1e-5
    assert report.max_rel_error <= 1e-5
    return fused


@pytest.mark.parametrize("dims, conv, bn", [
    (1, nn.Conv1d, nn.BatchNorm1d), (2, nn.Conv2d, nn.BatchNorm2d), (3, nn.Conv3d, nn.BatchNorm3d),
])
@pytest.mark.parametrize("bias", [False, True])
def test_conv_bn_folds_with_and_without_conv_bias(dims, conv, bn, bias):
    model = nn.Sequential(conv(3, 6, 3, padding=1, bias=bias), bn(6), conv(6, 4, 1), bn(4))
    x = torch.randn(2, 3, *([6] * dims))
    fused = _check(model, x, {"conv_bn": 2})
    assert fused.get_submodule("0").bias is not None  # the BN shift lives in a new bias


@pytest.mark.parametrize("act, label", [
    (nn.ReLU(), "conv_bn_relu"), (nn.ReLU(inplace=True), "conv_bn_relu"), (nn.ReLU6(), "conv_bn_relu6"),
])
def test_conv_bn_activation_module_stays_after_the_folded_conv(act, label):
    model = nn.Sequential(nn.Conv2d(3, 8, 3, bias=False), nn.BatchNorm2d(8), act)
    fused = _check(model, torch.randn(2, 3, 8, 8), {label: 1})
    kinds = [type(fused.get_submodule(n.target)) for n in fused.graph.nodes if n.op == "call_module"]
    assert kinds == [nn.Conv2d, type(act)]


class FunctionalActs(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8)
        self.conv2, self.bn2 = nn.Conv2d(8, 8, 3), nn.BatchNorm2d(8)
        self.conv3, self.bn3 = nn.Conv2d(8, 8, 1), nn.BatchNorm2d(8)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.relu6(self.bn2(self.conv2(x)))
        return self.bn3(self.conv3(x)).relu()


def test_functional_activations_are_recognised():
    _check(FunctionalActs(), torch.randn(2, 3, 10, 10), {"conv_bn_relu": 2, "conv_bn_relu6": 1})


@pytest.mark.parametrize("multiplier", [1, 2])
def test_depthwise_conv_bn_scales_output_channels(multiplier):
    channels = 6
    model = nn.Sequential(
        nn.Conv2d(channels, channels * multiplier, 3, padding=1, groups=channels, bias=False),
        nn.BatchNorm2d(channels * multiplier),
        nn.ReLU6(),
        nn.Conv2d(channels * multiplier, channels * multiplier, 3, groups=channels * multiplier),
        nn.BatchNorm2d(channels * multiplier),
    )
    fused = _check(model, torch.randn(2, channels, 7, 7),
                   {"depthwise_conv_bn_relu6": 1, "depthwise_conv_bn": 1})
    assert fused.get_submodule("0").groups == channels  # still depthwise after folding


def test_depthwise_fold_matches_per_channel_formula():
    """The folded depthwise weight is W[c] * gamma[c] / sqrt(var[c] + eps), channel by channel."""
    conv = nn.Conv2d(4, 4, 3, groups=4, bias=False)
    bn = randomize_batchnorms(nn.Sequential(nn.BatchNorm2d(4)))[0].eval()
    folded = folded_layer(conv, bn)
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    for c in range(4):
        torch.testing.assert_close(folded.weight[c], conv.weight[c] * scale[c])
    torch.testing.assert_close(folded.bias, bn.bias - bn.running_mean * scale)


def test_linear_bn1d_folds():
    model = nn.Sequential(nn.Linear(12, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 5),
                          nn.BatchNorm1d(5))
    _check(model, torch.randn(4, 12), {"linear_bn": 2})


def test_affine_false_batchnorm_folds():
    model = nn.Sequential(nn.Conv2d(3, 5, 3), nn.BatchNorm2d(5, affine=False), nn.Flatten(),
                          nn.Linear(5 * 4 * 4, 6), nn.BatchNorm1d(6, affine=False))
    _check(model, torch.randn(3, 3, 6, 6), {"conv_bn": 1, "linear_bn": 1})


def test_fuse_returns_graph_module_in_eval_mode_and_report_lists_module_names():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU())
    fused, report = fuse_with_report(randomize_batchnorms(model), torch.randn(1, 3, 5, 5))
    assert isinstance(fused, torch.fx.GraphModule) and not fused.training
    assert [(f.pattern, f.modules, f.into) for f in report.fused] == [("conv_bn_relu", ("0", "1", "2"), "0")]
    data = report.to_dict()
    assert data["counts"] == {"conv_bn_relu": 1} and data["fused"][0]["modules"] == ["0", "1", "2"]
    assert "folded 1 BatchNorm" in report.summary()


def test_nothing_to_fuse_gives_an_empty_report():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU())
    fused, report = fuse_with_report(model.eval(), torch.randn(1, 3, 5, 5))
    assert report.fused == [] and report.batchnorm_before == 0
    torch.testing.assert_close(fused(torch.ones(1, 3, 5, 5)), model(torch.ones(1, 3, 5, 5)))


def test_default_example_input_is_guessed_from_the_first_conv():
    model = randomize_batchnorms(nn.Sequential(nn.Conv2d(2, 4, 3), nn.BatchNorm2d(4))).eval()
    fused = fuse(model)
    x = torch.randn(3, 2, 9, 9)
    with torch.no_grad():
        assert relative_error(model(x), fused(x)) <= 1e-5
