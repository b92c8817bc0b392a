"""The profiler against published figures: MobileNetV1 paper (Howard et al. 2017), MobileNetV2.

Figures are rounded as the paper rounds them: mult-adds to the nearest million, parameters to
the nearest 0.1M. Each test also pins the exact integer so any change to the counter or the
model definitions shows up. Two printed figures differ from an exact count by one million; the
tests state how the paper obtained them (see the comments there).
"""

from __future__ import annotations

import pytest
from torch import nn

from edgeopt.analysis import profile
from edgeopt.models import ConvMobileNet, MobileNetV1, MobileNetV2


def millions(n: int) -> int:
    """Nearest million, halves up (integer arithmetic, no float rounding surprises)."""
    return (n + 500_000) // 1_000_000


def tenths_of_million(n: int) -> float:
    return ((n + 50_000) // 100_000) / 10


@pytest.fixture(scope="module")
def v1():
    return MobileNetV1(num_classes=1000)


@pytest.fixture(scope="module")
def v1_profile(v1):
    return profile(v1, (1, 3, 224, 224))


@pytest.fixture(scope="module")
def conv_profile():
    return profile(ConvMobileNet(num_classes=1000), (1, 3, 224, 224))


def test_table4_mobilenet(v1_profile):
    assert v1_profile.macs == 568_740_352
    assert v1_profile.params == 4_231_976
    assert (millions(v1_profile.macs), tenths_of_million(v1_profile.params)) == (569, 4.2)


def test_table4_conv_mobilenet(conv_profile):
    assert conv_profile.macs == 4_867_293_184
    assert conv_profile.params == 29_294_088
    assert tenths_of_million(conv_profile.params) == 29.3
    # PAPER MISMATCH by 1M: the exact count rounds to 4867M; the paper prints 4866M, which is
    # the conv layers alone, i.e. without the 1024x1000 FC layer that its 569M for MobileNet
    # does include (567.7M without it). The architecture is not at fault: params match.
    fc = conv_profile.macs_by_op_type()["Linear"]
    assert fc == 1024 * 1000
    assert millions(conv_profile.macs) == 4867
    assert millions(conv_profile.macs - fc) == 4866


@pytest.mark.parametrize(("alpha", "macs", "params", "paper"), [
    (0.75, 325_400_448, 2_585_560, (325, 2.6)),
    (0.5, 149_497_088, 1_331_592, (149, 1.3)),
    (0.25, 41_030_272, 470_072, (41, 0.5)),
])
def test_table6_width_multiplier(alpha, macs, params, paper):
    p = profile(MobileNetV1(num_classes=1000, width_mult=alpha), (1, 3, 224, 224))
    assert (p.macs, p.params) == (macs, params)
    assert (millions(p.macs), tenths_of_million(p.params)) == paper


@pytest.mark.parametrize(("res", "macs", "paper_macs"), [
    (192, 418_121_728, 418),
    (128, 186_400_768, 186),
])
def test_table7_resolution(v1, res, macs, paper_macs):
    p = profile(v1, (1, 3, res, res))
    assert p.macs == macs and millions(p.macs) == paper_macs
    assert tenths_of_million(p.params) == 4.2


def test_table7_resolution_160(v1):
    p = profile(v1, (1, 3, 160, 160))
    assert p.macs == 290_675_200
    # PAPER MISMATCH by 1M: the exact count rounds to 291M; the paper prints 290M. Table 7 is
    # the 224 figure scaled by rho^2 (569M x (160/224)^2 = 290.3M), which also gives its 418M
    # and 186M; the exact counts differ because the FC layer does not scale with resolution.
    assert millions(p.macs) == 291
    assert [round(569 * (r / 224) ** 2) for r in (192, 160, 128)] == [418, 290, 186]


def test_table2_share_of_each_layer_type(v1, v1_profile):
    """Table 2: mult-adds and parameters per layer type (parameters: weights only)."""
    macs: dict[str, int] = {}
    weights: dict[str, int] = {}
    for row in (r for r in v1_profile.layers if r.macs):
        module = v1.get_submodule(row.name)
        if isinstance(module, nn.Conv2d):
            kind = "dw" if module.groups > 1 else f"conv{module.kernel_size[0]}"
        elif isinstance(module, nn.Linear):
            kind = "fc"
        else:
            continue
        macs[kind] = macs.get(kind, 0) + row.macs
        weights[kind] = weights.get(kind, 0) + module.weight.numel()

    def shares(counts: dict[str, int]) -> dict[str, float]:
        total = sum(counts.values())
        return {k: round(100 * v / total, 2) for k, v in counts.items()}

    assert sum(macs.values()) == v1_profile.macs
    # The paper prints 1.19% for the 3x3 conv: a transposition of 1.91 (its column then sums
    # to 99.29%; with 1.91 it sums to 100.01%).
    assert shares(macs) == {"conv3": 1.91, "dw": 3.06, "conv1": 94.86, "fc": 0.18}
    assert shares(weights) == {"conv3": 0.02, "dw": 1.06, "conv1": 74.59, "fc": 24.33}


def test_mobilenet_v2():
    p = profile(MobileNetV2(num_classes=1000), (1, 3, 224, 224))
    # ~300M mult-adds and 3.4M params in the V2 paper; 3,504,872 params is the count
    # torchvision publishes for its mobilenet_v2.
    assert p.macs == 300_774_272 and millions(p.macs) in (300, 301)
    assert p.params == 3_504_872 and tenths_of_million(p.params) in (3.4, 3.5)
