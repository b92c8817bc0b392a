"""Options of structured pruning: round_to, global scope, registry models, and bad input."""

import pytest
import torch
from structured_zoo import INPUT, ZOO, calibrated
from torch import nn

from edgeopt.analysis import profile
from edgeopt.errors import EdgeoptError
from edgeopt.models import create_model
from edgeopt.prune import structured
from edgeopt.prune.channel_pruning import structured_with_report

torch.set_num_threads(1)


def conv_widths(model):
    return {n: (m.in_channels, m.out_channels) for n, m in model.named_modules() if isinstance(m, nn.Conv2d)}


@pytest.mark.parametrize("round_to", [8, 16])
def test_round_to_gives_multiples(round_to):
    model = create_model("mobilenet_v2", num_classes=10, width_mult=0.5)
    small = structured(model, 0.6, torch.randn(1, 3, 32, 32), round_to=round_to)
    before = conv_widths(model)
    for name, (cin, cout) in conv_widths(small).items():
        if cout != before[name][1]:  # pruned outputs: a multiple of round_to
            assert cout % round_to == 0, (name, cout)
        if cin != before[name][0]:
            assert cin % round_to == 0, (name, cin)


def test_round_to_in_grouped_convs_counts_layer_channels():
    model = calibrated(ZOO["grouped"](16))  # 4 groups: a unit is 4 channels of the layer
    small = structured(model, 0.5, torch.randn(INPUT), round_to=8)
    assert small.grouped[0].out_channels % 8 == 0 and small.grouped[0].groups == 4


@pytest.mark.slow
def test_mobilenet_v2_half_ratio_cuts_macs_below_0_3():
    model = create_model("mobilenet_v2", num_classes=10, width_mult=1.0)
    size = (1, 3, 64, 64)
    small = structured(model, 0.5, torch.randn(size))
    assert profile(small, input_size=size).macs <= 0.3 * profile(model, input_size=size).macs


def test_mobilenet_v1_half_ratio_halves_every_pointwise_conv():
    model = create_model("mobilenet_v1", num_classes=10, width_mult=0.5, in_chans=1, stem_stride=1)
    small = structured(model, 0.5, torch.randn(1, 1, 28, 28))
    for name, (cin, cout) in conv_widths(small).items():
        full = conv_widths(model)[name]
        assert cout == full[1] // 2 and cin == (1 if name == "features.0.0" else full[0] // 2)


def test_global_scope_removes_the_ratio_overall_but_not_evenly():
    model = calibrated(ZOO["concat"](16))
    with torch.no_grad():
        model.a[0].weight[:12] *= 0.001  # 12 of branch a's 16 channels are near-dead
    small, report = structured_with_report(model, 0.5, torch.randn(INPUT), scope="global")
    assert report.channels_after == report.channels_before - report.channels_before // 2
    assert small.a[0].out_channels == 4  # uniform would keep 8
    assert small.b[0].out_channels + small.mix[0].out_channels == 32 - 4  # 64 channels, 32 kept


def test_every_criterion_runs():
    model = calibrated(ZOO["residual"](8))
    data = torch.utils.data.TensorDataset(torch.randn(32, *INPUT[1:]), torch.randint(0, 10, (32,)))
    for criterion in ("l1", "l2", "bn_scale", "taylor"):
        small = structured(model, 0.5, torch.randn(INPUT), criterion, data=data)
        assert small.stem[0].out_channels == 4


@pytest.mark.parametrize("ratio", [-0.1, 1.0, 1.5, True, "0.5"])
def test_bad_ratio(ratio):
    with pytest.raises(EdgeoptError, match="ratio"):
        structured(ZOO["residual"](8), ratio, torch.randn(INPUT))


def test_bad_options_name_the_problem():
    model, x = ZOO["residual"](8), torch.randn(INPUT)
    with pytest.raises(EdgeoptError, match="scope") as err:
        structured(model, 0.5, x, scope="globl")
    assert "global" in err.value.hint
    with pytest.raises(EdgeoptError, match="criterion") as err:
        structured(model, 0.5, x, importance="l3")
    assert "l1" in err.value.hint
    with pytest.raises(EdgeoptError, match="round_to"):
        structured(model, 0.5, x, round_to=0)
    with pytest.raises(EdgeoptError, match="needs data"):
        structured(model, 0.5, x, importance="taylor")
    with pytest.raises(EdgeoptError, match="block3") as err:
        structured(model, 0.5, x, exclude=["block3"])
    assert "block1" in err.value.hint or "block2" in err.value.hint


def test_rebuilt_layers_keep_the_models_dtype():
    # BatchNorms were rebuilt in the default float32, so a float64 model failed its self-check.
    model = calibrated(ZOO["residual"](8)).double()
    model.stem.append(nn.BatchNorm2d(8, affine=False).double())  # rebuilt from its statistics alone
    small = structured(model, 0.5, torch.randn(INPUT, dtype=torch.float64))
    assert {t.dtype for t in [*small.parameters(), *small.buffers()] if t.is_floating_point()} == {torch.float64}


def test_exclude_keeps_a_module_whole():
    model = calibrated(ZOO["concat"](16))
    small = structured(model, 0.5, torch.randn(INPUT), exclude=["b"])
    assert small.b[0].out_channels == 32 and small.a[0].out_channels == 8
