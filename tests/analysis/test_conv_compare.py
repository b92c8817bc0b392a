"""compare_conv: a standard conv against its depthwise separable replacement."""

from __future__ import annotations

import json
from fractions import Fraction

import pytest
from torch import nn

from edgeopt.analysis import compare_conv, profile
from edgeopt.errors import EdgeoptError


def test_hand_computed_values():
    c = compare_conv(32, 64, kernel=3, height=112, width=112)
    assert (c.out_height, c.out_width) == (112, 112)
    assert c.standard_macs == 64 * 112 * 112 * 32 * 9 == 231_211_008
    assert c.depthwise_macs == 32 * 112 * 112 * 9
    assert c.pointwise_macs == 64 * 32 * 112 * 112
    assert c.separable_macs == c.depthwise_macs + c.pointwise_macs
    assert (c.standard_params, c.separable_params) == (64 * 32 * 9, 32 * 9 + 32 * 64)


@pytest.mark.parametrize(("m", "n", "k", "h"), [(32, 64, 3, 112), (512, 512, 3, 14),
                                                (3, 7, 5, 9), (1024, 1024, 3, 7)])
def test_ratio_is_exactly_the_papers_for_stride_1(m, n, k, h):
    c = compare_conv(m, n, kernel=k, height=h, width=h)
    assert Fraction(c.separable_macs, c.standard_macs) == Fraction(1, n) + Fraction(1, k * k)
    assert c.exact_match and c.ratio == c.paper_ratio


def test_stride_2_shrinks_both_convs_alike():
    c = compare_conv(64, 128, height=112, width=112, stride=2)
    assert (c.out_height, c.out_width) == (56, 56)
    assert c.exact_match


def test_agrees_with_profiling_real_layers():
    c = compare_conv(16, 24, kernel=3, height=20, width=20, stride=2)
    size = (1, 16, 20, 20)
    standard = profile(nn.Conv2d(16, 24, 3, 2, 1, bias=False), size)
    separable = profile(nn.Sequential(nn.Conv2d(16, 16, 3, 2, 1, groups=16, bias=False),
                                      nn.Conv2d(16, 24, 1, bias=False)), size)
    assert (standard.macs, standard.params) == (c.standard_macs, c.standard_params)
    assert (separable.macs, separable.params) == (c.separable_macs, c.separable_params)


def test_to_dict_and_validation():
    assert json.loads(json.dumps(compare_conv(8, 8).to_dict()))["exact_match"] is True
    with pytest.raises(EdgeoptError, match="out_ch"):
        compare_conv(8, 0)
    with pytest.raises(EdgeoptError, match="stride"):
        compare_conv(8, 8, stride=-1)
