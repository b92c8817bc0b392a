"""The bundled digits and mnist5k datasets through load_dataset."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from edgeopt.data import describe_datasets, list_datasets, load_dataset, stratified_split
from edgeopt.data.builtin import _digits_arrays
from edgeopt.errors import EdgeoptError


def _all(splits):
    return [getattr(splits, p) for p in ("train", "val", "test")]


def test_list_and_describe_datasets():
    assert list_datasets() == ["digits", "mnist5k"]
    described = describe_datasets()
    assert list(described) == list_datasets() and "1,797" in described["digits"]


def test_digits_shapes_and_counts():
    s = load_dataset("digits")
    assert sum(len(d) for d in _all(s)) == 1797
    assert (s.in_chans, s.image_size, s.num_classes) == (1, (8, 8), 10)
    assert s.class_names == [str(i) for i in range(10)]
    x, y = s.train.tensors
    assert x.dtype == torch.float32 and y.dtype == torch.int64 and x.shape[1:] == (1, 8, 8)
    assert s.summary()["sizes"] == {"train": 1258, "val": 180, "test": 359}


def test_mnist5k_shapes_and_exact_stratification():
    s = load_dataset("mnist5k")
    assert (s.in_chans, s.image_size, s.num_classes) == (1, (28, 28), 10)
    counts = s.summary()["class_counts"]
    # 500 per class split 70/10/20 exactly.
    assert counts == {"train": [350] * 10, "val": [50] * 10, "test": [100] * 10}


def test_normalisation_uses_train_statistics_only():
    s = load_dataset("digits", seed=0)
    x = s.train.tensors[0]
    assert abs(x.mean().item()) < 1e-5 and abs(x.std(correction=0).item() - 1) < 1e-4
    raw_x, raw_y = _digits_arrays()
    train_idx, _, _ = stratified_split(raw_y, 0.1, 0.2, seed=0)
    assert s.mean[0] == pytest.approx(raw_x[train_idx].mean(dtype=np.float64), rel=1e-6)
    assert s.std[0] == pytest.approx(raw_x[train_idx].std(dtype=np.float64), rel=1e-6)
    assert s.mean[0] != pytest.approx(raw_x.mean(dtype=np.float64), rel=1e-6)
    # val/test use the same transform: recovering raw pixels gives the original [0, 1] values.
    v = s.val.tensors[0] * s.std[0] + s.mean[0]
    assert v.min().item() > -1e-5 and v.max().item() < 1 + 1e-5


def test_loading_twice_is_identical_and_cache_is_not_mutated():
    a = load_dataset("digits", seed=3)
    b = load_dataset("digits", seed=3)
    assert torch.equal(a.train.tensors[0], b.train.tensors[0])
    assert _digits_arrays()[0].max() == 1.0  # in-place normalisation never touched the cache
    c = load_dataset("digits", seed=4)
    assert not torch.equal(a.test.tensors[1], c.test.tensors[1])


def test_limit_keeps_a_stratified_subset():
    s = load_dataset("mnist5k", limit=200)
    assert sum(len(d) for d in _all(s)) == 200
    total = sum(np.array(c) for c in s.summary()["class_counts"].values())
    assert total.tolist() == [20] * 10


def test_image_size_resizes():
    s = load_dataset("digits", image_size=(16, 12), limit=50)
    assert s.image_size == (16, 12) and s.train.tensors[0].shape[2:] == (16, 12)
    assert s.input_shape() == (1, 1, 16, 12)


def test_unknown_builtin_suggests_a_name():
    with pytest.raises(EdgeoptError) as e:
        load_dataset("digts")
    assert "unknown dataset 'digts'" in str(e.value) and "did you mean 'digits'" in str(e.value)
