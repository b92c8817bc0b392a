"""profile(): errors, model mode and state, the torch.export fallback, serialisation."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from edgeopt.analysis import profile
from edgeopt.errors import EdgeoptError


def _small_cnn() -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.ReLU(), nn.Flatten(),
                         nn.Linear(8 * 6 * 6, 10))


def test_input_that_does_not_fit_names_size_and_layer():
    with pytest.raises(EdgeoptError) as info:
        profile(_small_cnn(), (1, 3, 16, 16))  # flatten gives 8*14*14, the head wants 8*6*6
    assert "(1, 3, 16, 16)" in str(info.value) and "'4'" in str(info.value)
    assert info.value.hint


def test_wrong_channel_count_names_the_conv():
    with pytest.raises(EdgeoptError, match=r"input size \(1, 1, 8, 8\).*layer '0'"):
        profile(_small_cnn(), (1, 1, 8, 8))


@pytest.mark.parametrize("size", [(), (1, -3, 8, 8), (1, 3.0, 8, 8)])
def test_malformed_input_size(size):
    with pytest.raises(EdgeoptError, match="input size"):
        profile(_small_cnn(), size)


def test_bad_options():
    with pytest.raises(EdgeoptError, match="dtype_bytes"):
        profile(_small_cnn(), (1, 3, 8, 8), dtype_bytes=0)
    with pytest.raises(EdgeoptError, match="method"):
        profile(_small_cnn(), (1, 3, 8, 8), method="jit")


def test_modes_restored_and_model_untouched():
    model = _small_cnn().train()
    model[1].eval()  # mixed modes must come back exactly
    before = {k: v.clone() for k, v in model.state_dict().items()}
    profile(model, (2, 3, 8, 8))
    assert [m.training for m in model.modules()] == [True, True, False, True, True, True]
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # no BN statistics update
    model.eval()
    profile(model, (1, 3, 8, 8))
    assert not any(m.training for m in model.modules())


def test_callers_example_input_is_not_modified():
    model = nn.Sequential(nn.ReLU(inplace=True), nn.Conv2d(3, 2, 1))
    x = torch.full((1, 3, 4, 4), -1.0)
    p = profile(model, example_input=x)
    assert p.input_size == (1, 3, 4, 4) and p.macs == 2 * 16 * 3
    assert torch.equal(x, torch.full((1, 3, 4, 4), -1.0))


class TwoInputs(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 4)

    def forward(self, a, b):
        return self.fc(a) * b


def test_several_example_inputs():
    p = profile(TwoInputs(), example_input=(torch.randn(2, 4), torch.randn(2, 4)))
    assert p.input_size == ((2, 4), (2, 4)) and p.macs == 2 * 16


def test_integer_inputs_through_example_input():
    model = nn.Sequential(nn.Embedding(100, 8), nn.Linear(8, 2))
    p = profile(model, example_input=torch.randint(0, 100, (1, 5)))
    assert p.macs == 5 * 16 and p.params == 800 + 18


class ShapeBranch(nn.Module):
    """Python control flow on a shape: torch.fx cannot trace it, torch.export can."""

    def __init__(self) -> None:
        super().__init__()
        self.small = nn.Conv2d(3, 4, 1)
        self.large = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(inplace=True))

    def forward(self, x):
        y = self.large(x) if x.shape[-1] > 8 else self.small(x)
        return y + 1


def test_export_fallback_for_untraceable_control_flow():
    p = profile(ShapeBranch(), (1, 3, 16, 16))
    assert p.method == "export"
    assert p.macs == 4 * 256 * 27
    assert [(r.name, r.op_type) for r in p.layers] == [
        ("large.0", "Conv2d"), ("large.1", "ReLU"), ("add", "add")]
    assert p.layers[1].alias  # relu_ stays in place in the exported graph
    assert sum(r.params for r in p.layers) == 4 * 27 + 4
    assert p.params == 4 * 27 + 4 + 3 * 4 + 4  # the unused branch still counts: it ships


def test_forcing_fx_on_untraceable_model_is_a_clear_error():
    with pytest.raises(EdgeoptError, match="torch.fx cannot trace"):
        profile(ShapeBranch(), (1, 3, 16, 16), method="fx")


def test_wrong_input_on_export_path_names_the_layer():
    with pytest.raises(EdgeoptError, match=r"layer 'large.0'"):
        profile(ShapeBranch(), (1, 5, 16, 16))


class DataDependent(nn.Module):
    def forward(self, x):
        return x * 2 if x.sum() > 0 else x


def test_untraceable_model_is_a_clear_error():
    with pytest.raises(EdgeoptError, match="cannot trace DataDependent"):
        profile(DataDependent(), (1, 4))


class Mixed(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, stride=2, padding=1, bias=False),
                                  nn.BatchNorm2d(8), nn.Hardswish())
        self.dw = nn.Conv2d(8, 8, 3, padding=1, groups=8)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.head = nn.Linear(16, 5)

    def forward(self, x):
        x = self.stem(x)
        x = torch.cat([x, self.dw(x) + x], 1)
        return {"logits": self.head(self.pool(x).flatten(1))}


@pytest.mark.parametrize("model_fn", [Mixed, _small_cnn])
def test_fx_and_export_agree(model_fn):
    model = model_fn()
    fx, ex = profile(model, (1, 3, 8, 8)), profile(model, (1, 3, 8, 8), method="export")
    assert (fx.method, ex.method) == ("fx", "export")
    assert (fx.macs, fx.params, fx.peak_activation_bytes) == (
        ex.macs, ex.params, ex.peak_activation_bytes)
    assert fx.macs_by_op_type() == ex.macs_by_op_type()
    assert [r.name for r in fx.layers if r.macs] == [r.name for r in ex.layers if r.macs]


def test_to_dict_is_json_and_totals_add_up():
    p = profile(Mixed(), (1, 3, 8, 8))
    data = json.loads(json.dumps(p.to_dict()))
    assert data["macs"] == p.macs == sum(r["macs"] for r in data["layers"])
    assert data["params"] == sum(r["params"] for r in data["layers"])
    assert sum(p.macs_by_op_type().values()) == p.macs
    assert set(p.macs_by_op_type()) == {"Conv2d", "Conv2d(dw)", "Linear"}
    assert data["input_size"] == [1, 3, 8, 8]
    assert p.buffers_bytes == (8 + 8) * 4 + 8  # BN running mean/var + num_batches_tracked
