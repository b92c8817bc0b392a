"""calibration_subset: deterministic, class-balanced samples for quantization calibration."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import Dataset, TensorDataset

from edgeopt.data import calibration_subset
from edgeopt.errors import EdgeoptError


def _dataset(counts):
    y = torch.cat([torch.full((c,), i) for i, c in enumerate(counts)])
    x = torch.arange(len(y), dtype=torch.float32).view(-1, 1, 1, 1).expand(-1, 1, 2, 2).clone()
    return TensorDataset(x, y)


def test_deterministic_and_seed_dependent():
    ds = _dataset([30, 30, 30])
    a = calibration_subset(ds, 20, seed=1)
    b = calibration_subset(ds, 20, seed=1)
    c = calibration_subset(ds, 20, seed=2)
    assert torch.equal(a.tensors[0], b.tensors[0])
    assert not torch.equal(a.tensors[0], c.tensors[0])


def test_balanced_over_classes_and_prefixes():
    ds = _dataset([50, 20, 80, 40])
    sub = calibration_subset(ds, 22, seed=0)
    counts = torch.bincount(sub.tensors[1], minlength=4)
    assert counts.sum() == 22 and counts.max() - counts.min() <= 1
    first8 = torch.bincount(sub.tensors[1][:8], minlength=4)
    assert first8.tolist() == [2, 2, 2, 2]
    # Images travel with their labels.
    idx = sub.tensors[0][:, 0, 0, 0].long()
    assert torch.equal(ds.tensors[1][idx], sub.tensors[1])
    assert len(set(idx.tolist())) == 22  # no duplicates


def test_small_class_gives_its_quota_to_the_others():
    sub = calibration_subset(_dataset([2, 50, 50]), 20, seed=0)
    assert torch.bincount(sub.tensors[1]).tolist() == [2, 9, 9]


def test_n_larger_than_dataset_uses_everything():
    ds = _dataset([3, 4])
    sub = calibration_subset(ds, 1000)
    assert len(sub) == 7
    assert sorted(sub.tensors[0][:, 0, 0, 0].tolist()) == list(range(7))


def test_unstratified_is_plain_sample():
    ds = _dataset([90, 10])
    sub = calibration_subset(ds, 30, seed=0, stratified=False)
    assert len(sub) == 30 and sub.tensors[1].sum() < 15  # roughly proportional, not balanced


class _Pairs(Dataset):
    def __len__(self):
        return 12

    def __getitem__(self, i):
        return torch.full((1, 2, 2), float(i)), i % 3


def test_any_map_style_dataset():
    sub = calibration_subset(_Pairs(), 6, seed=0)
    assert sub.tensors[0].shape == (6, 1, 2, 2)
    assert torch.bincount(sub.tensors[1]).tolist() == [2, 2, 2]


@pytest.mark.parametrize("n", [0, -3, 2.5])
def test_invalid_n(n):
    with pytest.raises(EdgeoptError, match="positive integer"):
        calibration_subset(_dataset([3, 3]), n)


def test_numpy_int_n_accepted():
    assert len(calibration_subset(_dataset([3, 3]), np.int64(4))) == 4
