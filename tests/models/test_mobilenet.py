import pytest
import torch
from torch import nn

from edgeopt.models import (
    ConvMobileNet,
    DepthwiseSeparableConv,
    MobileNetV1,
    MobileNetV2,
    SimpleCNN,
    make_divisible,
)


def _n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def test_depthwise_separable_structure():
    block = DepthwiseSeparableConv(32, 64, stride=2)
    dw, pw = block.depthwise[0], block.pointwise[0]
    assert dw.groups == 32 and dw.kernel_size == (3, 3) and dw.stride == (2, 2)
    assert pw.kernel_size == (1, 1) and pw.out_channels == 64
    assert isinstance(block.depthwise[1], nn.BatchNorm2d) and isinstance(block.depthwise[2], nn.ReLU)
    assert isinstance(block.pointwise[1], nn.BatchNorm2d) and isinstance(block.pointwise[2], nn.ReLU)
    assert block(torch.zeros(1, 32, 16, 16)).shape == (1, 64, 8, 8)


def test_depthwise_separable_rejects_bad_stride():
    with pytest.raises(ValueError, match="stride"):
        DepthwiseSeparableConv(8, 8, stride=3)


@pytest.mark.parametrize("size", [224, 192, 160, 128, 28])
def test_mobilenet_v1_any_resolution(size):
    model = MobileNetV1(num_classes=7, width_mult=0.25).eval()
    assert model(torch.zeros(1, 3, size, size)).shape == (1, 7)


def test_mobilenet_v1_width_multiplier_thins_every_layer():
    convs = [m for m in MobileNetV1(width_mult=0.5).modules() if isinstance(m, nn.Conv2d)]
    assert convs[0].out_channels == 16 and convs[-1].out_channels == 512
    assert sum(c.groups > 1 for c in convs) == 13  # one depthwise conv per block


def test_conv_mobilenet_has_no_depthwise_convs():
    model = ConvMobileNet(num_classes=10, width_mult=0.25, in_chans=1).eval()
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) == 14 and all(c.groups == 1 and c.kernel_size == (3, 3) for c in convs)
    assert model(torch.zeros(2, 1, 32, 32)).shape == (2, 10)


def test_mobilenet_v1_param_count_matches_reference_implementation():
    # 4,231,976 is the parameter count of the standard PyTorch MobileNetV1 (incl. BatchNorm).
    assert _n_params(MobileNetV1()) == 4_231_976


def test_mobilenet_v2_param_count_matches_torchvision():
    # torchvision's mobilenet_v2 documents 3,504,872 parameters.
    assert _n_params(MobileNetV2()) == 3_504_872


def test_mobilenet_v2_residuals_only_where_shapes_match():
    model = MobileNetV2(width_mult=1.0)
    blocks = [m for m in model.modules() if m.__class__.__name__ == "InvertedResidual"]
    assert len(blocks) == 17
    assert sum(b.use_residual for b in blocks) == 10


@pytest.mark.parametrize("alpha, expected", [(1.0, 32), (0.75, 24), (0.5, 16), (0.35, 16)])
def test_mobilenet_v2_channels_divisible_by_8(alpha, expected):
    model = MobileNetV2(width_mult=alpha)
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert convs[0].out_channels == expected
    assert all(c.out_channels % 8 == 0 for c in convs)
    assert convs[-1].out_channels == 1280  # the last layer is kept wide for α < 1


def test_make_divisible_never_rounds_down_more_than_ten_percent():
    assert make_divisible(32 * 0.35) == 16 and make_divisible(100) == 104
    for v in range(1, 400):
        assert make_divisible(v) % 8 == 0 and make_divisible(v) >= 0.9 * v


def test_small_input_stem_keeps_resolution():
    model = MobileNetV1(num_classes=10, width_mult=0.25, in_chans=1, stem_stride=1)
    feats = model.features(torch.zeros(1, 1, 28, 28))
    assert feats.shape[-1] == 2  # 28 → 14 → 7 → 4 → 2 with four stride-2 blocks


def test_simple_cnn_on_digits_and_mnist_sizes():
    model = SimpleCNN(num_classes=10, in_chans=1).eval()
    assert model(torch.zeros(3, 1, 8, 8)).shape == (3, 10)
    assert model(torch.zeros(3, 1, 28, 28)).shape == (3, 10)
