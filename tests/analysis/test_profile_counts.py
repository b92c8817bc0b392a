"""Hand-computed MAC / parameter counts on tiny models, one op kind per test."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from edgeopt.analysis import profile


def _rows(p, op_type):
    return [layer for layer in p.layers if layer.op_type == op_type]


@pytest.mark.parametrize(
    ("conv", "size", "macs", "op_type"),
    [
        # Cout x Hout x Wout x (Cin/groups) x kH x kW
        (nn.Conv2d(3, 8, 3, stride=2, padding=1), (1, 3, 32, 32), 8 * 16 * 16 * 3 * 9, "Conv2d"),
        (nn.Conv2d(4, 6, 3), (1, 4, 10, 10), 6 * 8 * 8 * 4 * 9, "Conv2d"),  # no padding: 8x8
        (nn.Conv2d(8, 16, 3, padding=1, groups=4), (1, 8, 8, 8), 16 * 64 * 2 * 9,
         "Conv2d(grouped)"),
        (nn.Conv2d(8, 8, 3, padding=1, groups=8), (1, 8, 8, 8), 8 * 64 * 1 * 9, "Conv2d(dw)"),
        (nn.Conv2d(8, 16, 3, padding=1, groups=8), (1, 8, 8, 8), 16 * 64 * 9, "Conv2d(dw)"),
        (nn.Conv2d(8, 8, 3, stride=2, padding=1, groups=8), (2, 8, 8, 8), 2 * 8 * 16 * 9,
         "Conv2d(dw)"),  # batch 2 doubles
        (nn.Conv2d(2, 3, (1, 5), padding=(0, 2)), (1, 2, 6, 6), 3 * 36 * 2 * 5, "Conv2d"),
        (nn.Conv2d(2, 3, 3, dilation=2), (1, 2, 9, 9), 3 * 25 * 2 * 9, "Conv2d"),
        (nn.Conv1d(4, 5, 3), (1, 4, 10), 5 * 8 * 4 * 3, "Conv1d"),
        (nn.Conv3d(2, 4, 3, padding=1), (1, 2, 4, 4, 4), 4 * 64 * 2 * 27, "Conv3d"),
        # transposed: each input element is scattered over Cout/groups x k x k outputs
        (nn.ConvTranspose2d(4, 2, 2, stride=2), (1, 4, 5, 5), 4 * 25 * 2 * 4, "ConvTranspose2d"),
    ],
)
def test_single_conv(conv, size, macs, op_type):
    p = profile(conv, size)
    assert p.macs == macs
    assert p.params == sum(t.numel() for t in conv.parameters())
    (row,) = p.layers
    assert row.op_type == op_type and row.macs == macs and row.params == p.params
    assert row.output_shape == tuple(conv(torch.zeros(size)).shape)
    # bias adds are not MACs; they are other element-wise work
    assert row.flops_other == (row.activation_bytes // 4 if conv.bias is not None else 0)


def test_linear_counts_every_leading_dim():
    fc = nn.Linear(10, 5)
    assert profile(fc, (3, 10)).macs == 3 * 10 * 5
    p = profile(fc, (2, 7, 10))
    assert p.macs == 2 * 7 * 10 * 5 and p.params == 55
    assert p.layers[0].op_type == "Linear"


class MatMuls(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.randn(6, 3))

    def forward(self, x):
        a = torch.matmul(x, self.w)  # (2, 4, 6) @ (6, 3): 2*4*3 outputs x 6
        b = torch.bmm(x, x.transpose(1, 2))  # (2, 4, 6) x (2, 6, 4): 2*4*4 x 6
        c = a.transpose(1, 2) @ a  # (2, 3, 4) @ (2, 4, 3): 2*3*3 x 4
        return a, b, c


def test_matmul_bmm_and_operator():
    p = profile(MatMuls(), (2, 4, 6))
    assert p.macs_by_op_type() == {"matmul": 2 * 4 * 3 * 6 + 2 * 3 * 3 * 4, "bmm": 2 * 4 * 4 * 6}
    assert p.macs == 144 + 72 + 192
    assert p.params == 18
    assert _rows(p, "matmul")[0].params == 18  # the parameter goes to the row that uses it


class Residual(nn.Module):
    def __init__(self, ch: int = 8) -> None:
        super().__init__()
        self.conv = nn.Conv2d(ch, ch, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(ch)
        self.relu = nn.ReLU()

    def forward(self, x):
        return x + self.relu(self.bn(self.conv(x)))


def test_residual_add_is_not_a_mac():
    p = profile(Residual(), (1, 8, 8, 8))
    assert p.macs == 8 * 64 * 8 * 9
    (add,) = _rows(p, "add")
    assert add.macs == 0 and add.flops_other == 8 * 64
    assert _rows(p, "BatchNorm2d")[0].flops_other == 2 * 8 * 64  # scale and shift
    assert p.params == 8 * 8 * 9 + 16  # conv weight + BN weight/bias


class Concat(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Conv2d(4, 6, 1)
        self.b = nn.Conv2d(4, 2, 3, padding=1)

    def forward(self, x):
        return torch.cat([self.a(x), self.b(x)], dim=1)


def test_cat():
    p = profile(Concat(), (1, 4, 5, 5))
    assert p.macs == 6 * 25 * 4 + 2 * 25 * 4 * 9
    (cat,) = _rows(p, "cat")
    assert cat.output_shape == (1, 8, 5, 5) and cat.macs == 0 and not cat.alias


class Shuffle(nn.Module):
    """ShuffleNet-style: grouped 1x1, channel shuffle (view, transpose, reshape), grouped 1x1."""

    def __init__(self, groups: int = 2) -> None:
        super().__init__()
        self.groups = groups
        self.conv1 = nn.Conv2d(8, 8, 1, groups=groups, bias=False)
        self.conv2 = nn.Conv2d(8, 8, 1, groups=groups, bias=False)

    def forward(self, x):
        x = self.conv1(x)
        b, c, h, w = x.size()
        x = x.view(b, self.groups, c // self.groups, h, w).transpose(1, 2)
        x = x.reshape(b, c, h, w)  # a copy: the transposed tensor is not contiguous
        return self.conv2(x)


def test_channel_shuffle():
    p = profile(Shuffle(), (1, 8, 8, 8))
    assert p.method == "fx"
    assert p.macs == 2 * (8 * 64 * 4)
    assert _rows(p, "Conv2d(grouped)")[0].macs == 2048
    view, transpose, reshape = (_rows(p, op)[0] for op in ("view", "transpose", "reshape"))
    assert view.alias and transpose.alias and not reshape.alias


class SqueezeExcite(nn.Module):
    def __init__(self, ch: int = 16, squeeze: int = 4, linear: bool = False) -> None:
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.linear = linear
        if linear:
            self.fc1, self.fc2 = nn.Linear(ch, squeeze), nn.Linear(squeeze, ch)
        else:
            self.fc1, self.fc2 = nn.Conv2d(ch, squeeze, 1), nn.Conv2d(squeeze, ch, 1)
        self.act = nn.ReLU(inplace=True)
        self.gate = nn.Hardsigmoid()

    def forward(self, x):
        s = self.pool(x)
        if self.linear:
            s = self.gate(self.fc2(self.act(self.fc1(s.flatten(1)))))
            return x * s.view(s.shape[0], -1, 1, 1)
        return x * torch.sigmoid(self.fc2(self.act(self.fc1(s))))


@pytest.mark.parametrize("linear", [False, True])
def test_squeeze_excitation(linear):
    p = profile(SqueezeExcite(linear=linear), (1, 16, 8, 8))
    assert p.macs == 16 * 4 + 4 * 16
    assert p.params == 16 * 4 + 4 + 4 * 16 + 16
    assert _rows(p, "AdaptiveAvgPool2d")[0].flops_other == 16 * 64  # reads every input element
    (mul,) = _rows(p, "mul")
    assert mul.output_shape == (1, 16, 8, 8) and mul.macs == 0


class Activations(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.hs, self.silu, self.r6 = nn.Hardswish(), nn.SiLU(), nn.ReLU6()

    def forward(self, x):
        return F.silu(F.hardswish(self.r6(self.silu(self.hs(x)))))


def test_activations_are_elementwise_work_not_macs():
    p = profile(Activations(), (1, 2, 3, 3))
    assert p.macs == 0
    assert [r.op_type for r in p.layers] == ["Hardswish", "SiLU", "ReLU6", "hardswish", "silu"]
    assert all(r.flops_other == 18 for r in p.layers)


class DictHead(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU())
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.head = nn.Linear(4, 10)

    def forward(self, x):
        feat = self.body(x)
        return {"logits": self.head(torch.flatten(self.pool(feat), 1)), "features": feat}


class TupleHead(DictHead):
    def forward(self, x):
        out = super().forward(x)
        return out["logits"], out["features"]


@pytest.mark.parametrize("model_cls", [DictHead, TupleHead])
def test_dict_and_tuple_outputs(model_cls):
    p = profile(model_cls(), (1, 3, 6, 6))
    assert p.macs == 4 * 36 * 27 + 40
    assert [r.name for r in p.layers if r.macs] == ["body.0", "head"]


class SharedLinear(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(6, 6)
        self.out = nn.Linear(6, 6)
        self.out.weight = self.fc.weight  # tied weights: one tensor, two modules

    def forward(self, x):
        return self.out(self.fc(self.fc(x)))


def test_shared_parameters_count_once():
    p = profile(SharedLinear(), (2, 6))
    assert p.params == 36 + 6 + 6  # one weight, two biases
    assert p.macs == 3 * 2 * 36  # but every call multiplies
    assert [r.params for r in p.layers] == [42, 0, 6]
    assert p.param_bytes == 4 * p.params


class FunctionalConv(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(4, 2, 3, 3))

    def forward(self, x):
        return F.conv2d(x, self.weight, padding=1, groups=2)


def test_functional_conv_with_own_parameter():
    p = profile(FunctionalConv(), (1, 4, 5, 5))
    (row,) = p.layers
    assert row.op_type == "Conv2d(grouped)"
    assert row.macs == 4 * 25 * 2 * 9 and row.params == 72


class Attention(nn.Module):
    def forward(self, q):
        scores = torch.einsum("bhld,bhsd->bhls", q, q)  # 1*2*4*4 outputs x 8
        return F.scaled_dot_product_attention(q, q, q), scores


def test_einsum_and_attention():
    p = profile(Attention(), (1, 2, 4, 8))
    assert _rows(p, "einsum")[0].macs == 2 * 4 * 4 * 8
    assert _rows(p, "scaled_dot_product_attention")[0].macs == 2 * 4 * 4 * (8 + 8)


def test_lstm_counts_gates_over_the_sequence():
    p = profile(nn.LSTM(8, 4), (5, 1, 8))  # 5 steps: 4 gates x 4 hidden x (8 inputs + 4 hidden)
    assert p.macs == 5 * 4 * 4 * (8 + 4)


def test_pooling_reports_window_work():
    p = profile(nn.MaxPool2d(2), (1, 4, 8, 8))
    assert p.macs == 0 and p.layers[0].flops_other == 4 * 4 * 4 * 4
