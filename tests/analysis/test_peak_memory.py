"""Peak activation memory: the liveness sweep by hand, then on real tiny models."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from edgeopt.analysis import profile
from edgeopt.analysis.memory import Step, live_intervals, peak_memory, storage_roots

F32 = 4


def test_chain_of_steps():
    steps = [Step("x", 100), Step("a", 200, ("x",)), Step("b", 50, ("a",)), Step("c", 10, ("b",))]
    peak = peak_memory(steps, outputs=("c",))
    assert peak.live_bytes == [100, 300, 250, 60]
    assert (peak.peak_bytes, peak.peak_step) == (300, "a")


def test_branch_keeps_both_inputs_live():
    steps = [Step("x", 10), Step("a", 20, ("x",)), Step("b", 30, ("x",)),
             Step("add", 40, ("a", "b"))]
    assert peak_memory(steps, ("add",)).live_bytes == [10, 30, 60, 90]


def test_alias_extends_its_base_and_allocates_nothing():
    steps = [Step("x", 10), Step("conv", 100, ("x",)), Step("view", 0, ("conv",), ("conv",)),
             Step("y", 5, ("x",)), Step("fc", 1, ("view",))]
    assert storage_roots(steps)["view"] == {"conv"}
    assert live_intervals(steps, ("fc",))["conv"] == (1, 4)  # read through the view at step 4
    assert peak_memory(steps, ("fc",)).peak_bytes == 115


def test_outputs_stay_live_to_the_end():
    steps = [Step("x", 1), Step("early", 10, ("x",)), Step("late", 100, ("x",))]
    assert peak_memory(steps, ("early", "late")).live_bytes == [1, 11, 111]
    assert peak_memory(steps, ("late",)).live_bytes == [1, 11, 101]


def test_empty_graph():
    assert peak_memory([], ()).peak_bytes == 0


def _chain(inplace: bool) -> nn.Module:
    return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(inplace=inplace),
                         nn.Conv2d(4, 2, 3, padding=1))


def test_hand_computed_chain():
    # input 3x8x8, conv1 4x8x8, relu 4x8x8, conv2 2x8x8 (float32)
    x, c1, relu, c2 = 192 * F32, 256 * F32, 256 * F32, 128 * F32
    p = profile(_chain(inplace=False), (1, 3, 8, 8))
    assert [r.activation_bytes for r in p.layers] == [c1, relu, c2]
    assert max(x + c1, c1 + relu, relu + c2) == c1 + relu
    assert (p.peak_activation_bytes, p.peak_layer) == (c1 + relu, "1")


def test_inplace_relu_aliases_its_input():
    p = profile(_chain(inplace=True), (1, 3, 8, 8))
    assert p.layers[1].alias
    assert (p.peak_activation_bytes, p.peak_layer) == (192 * F32 + 256 * F32, "0")


class Branch(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Conv2d(4, 4, 1)
        self.b = nn.Conv2d(4, 4, 1)

    def forward(self, x):
        return self.a(x) + self.b(x)


def test_branch_two_tensors_live_at_once():
    p = profile(Branch(), (1, 4, 8, 8))
    t = 256 * F32  # every tensor here is 4x8x8
    # at conv b: x (still needed by b), a's output (waiting for the add), b's output
    assert (p.peak_activation_bytes, p.peak_layer) == (3 * t, "b")


class Head(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(2, 4, 1, bias=False)
        self.fc = nn.Linear(4 * 16, 3)

    def forward(self, x):
        return self.fc(torch.flatten(self.conv(x), 1))


def test_flatten_is_a_view_that_keeps_its_base_alive():
    p = profile(Head(), (1, 2, 4, 4))
    flatten = next(r for r in p.layers if r.op_type == "flatten")
    assert flatten.alias and flatten.activation_bytes == 64 * F32
    # at fc: the conv output (seen through the flatten view) + the logits
    assert p.peak_activation_bytes == max(32 + 64, 64 + 3) * F32


def test_dtype_bytes_scales_activations_and_params():
    model = _chain(inplace=False)
    p = profile(model, (1, 3, 8, 8), dtype_bytes=1)
    assert p.peak_activation_bytes == 512
    assert p.param_bytes == p.params


@pytest.mark.parametrize("method", ["fx", "export"])
def test_methods_agree_on_peak(method):
    p = profile(Branch(), (1, 4, 8, 8), method=method)
    assert p.peak_activation_bytes == 3 * 256 * F32


class Aliases(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(4, 4, 1)
        self.drop = nn.Dropout(0.2)
        self.same = nn.Identity()

    def forward(self, x):
        y = self.same(self.drop(self.conv(x)))
        a, b = y.chunk(2, 1)
        return a * b, y.add_(1)


def test_views_identity_dropout_and_inplace_ops_alias():
    p = profile(Aliases(), (1, 4, 2, 2))
    assert {r.name: r.alias for r in p.layers} == {
        "conv": False, "drop": True, "same": True, "chunk": True, "add": True, "mul": False}
    t = 16 * F32
    # every alias shares the conv output: x + conv at the conv, then conv + product at the mul
    assert p.peak_activation_bytes == max(t + t, t + t // 2)
