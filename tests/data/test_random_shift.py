"""random_shift: per-sample random translation with zero fill."""

from __future__ import annotations

import pytest
import torch

from edgeopt.data import random_shift
from edgeopt.errors import EdgeoptError


def test_shape_kept_and_zero_shift_is_identity():
    x = torch.rand(5, 3, 9, 7)
    assert random_shift(x, 2).shape == x.shape
    assert torch.equal(random_shift(x, 0), x)


def test_generator_makes_it_reproducible():
    x = torch.rand(16, 1, 8, 8)
    a = random_shift(x, 3, generator=torch.Generator().manual_seed(0))
    b = random_shift(x, 3, generator=torch.Generator().manual_seed(0))
    assert torch.equal(a, b)


def _shifted(img, dy, dx):
    """Reference: img moved down by dy and right by dx, zero fill."""
    out = torch.zeros_like(img)
    h, w = img.shape[-2:]
    out[..., max(dy, 0) : h + min(dy, 0), max(dx, 0) : w + min(dx, 0)] = img[
        ..., max(-dy, 0) : h - max(dy, 0), max(-dx, 0) : w - max(dx, 0)
    ]
    return out


def test_each_sample_is_a_translation_within_range():
    x = torch.rand(32, 2, 6, 6) + 0.1  # no zeros, so the fill is recognisable
    s = 2
    out = random_shift(x, s, generator=torch.Generator().manual_seed(1))
    seen = set()
    for img, res in zip(x, out, strict=True):
        matches = [
            (dy, dx)
            for dy in range(-s, s + 1)
            for dx in range(-s, s + 1)
            if torch.equal(_shifted(img, dy, dx), res)
        ]
        assert len(matches) == 1
        seen.add(matches[0])
    assert len(seen) > 5  # shifts differ per sample


def test_invalid_input():
    with pytest.raises(EdgeoptError, match="N x C x H x W"):
        random_shift(torch.rand(3, 8, 8), 1)
    with pytest.raises(EdgeoptError, match="max_shift must be >= 0"):
        random_shift(torch.rand(1, 1, 8, 8), -1)
