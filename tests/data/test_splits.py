"""stratified_split and the DatasetSplits container."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import TensorDataset

from edgeopt.data import DatasetSplits, stratified_split
from edgeopt.errors import EdgeoptError

# Unequal classes (40, 25, 7, 3) so rounding per class matters.
LABELS = np.repeat(np.arange(4), [40, 25, 7, 3])


def test_same_seed_same_split_regardless_of_global_rng():
    torch.manual_seed(1)
    np.random.seed(1)
    a = stratified_split(LABELS, 0.1, 0.2, seed=7)
    torch.manual_seed(2)
    np.random.seed(2)
    torch.rand(10)
    np.random.rand(10)
    b = stratified_split(LABELS, 0.1, 0.2, seed=7)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)
    c = stratified_split(LABELS, 0.1, 0.2, seed=8)
    assert not np.array_equal(a[0], c[0])


def test_splits_are_disjoint_and_cover_everything():
    train, val, test = stratified_split(LABELS, 0.1, 0.2, seed=0)
    joined = np.concatenate([train, val, test])
    assert len(joined) == len(LABELS)
    np.testing.assert_array_equal(np.sort(joined), np.arange(len(LABELS)))
    assert all(p.dtype == np.int64 for p in (train, val, test))


@pytest.mark.parametrize("val_fraction,test_fraction", [(0.1, 0.2), (0.15, 0.15), (0.3, 0.1)])
def test_each_class_within_one_sample_of_its_share(val_fraction, test_fraction):
    _, val, test = stratified_split(LABELS, val_fraction, test_fraction, seed=3)
    counts = np.bincount(LABELS)
    for idx, f in ((val, val_fraction), (test, test_fraction)):
        got = np.bincount(LABELS[idx], minlength=4)
        assert np.all(np.abs(got - counts * f) <= 1), (got, counts * f)
    # Totals are exact (largest-remainder allocation), not off by up to one per class.
    assert len(test) == round(len(LABELS) * test_fraction)


def test_every_split_non_empty_and_every_class_keeps_a_train_sample():
    labels = np.array([0, 0, 0, 0, 1, 1, 1, 1, 1, 2])  # class 2 has a single sample
    train, val, test = stratified_split(labels, 0.01, 0.05, seed=0)
    assert len(val) == 1 and len(test) == 1
    assert set(labels[train]) == {0, 1, 2}


def test_small_class_is_not_emptied_by_large_fractions():
    labels = np.array([0] * 6 + [1, 1] + [2, 2])
    train, val, test = stratified_split(labels, 0.3, 0.3, seed=0)
    assert set(labels[train]) == {0, 1, 2}
    assert len(val) > 0 and len(test) > 0


def test_zero_val_fraction_gives_empty_val():
    train, val, test = stratified_split(LABELS, 0.0, 0.2, seed=0)
    assert len(val) == 0 and len(train) + len(test) == len(LABELS)


def test_accepts_tensor_labels():
    a = stratified_split(torch.from_numpy(LABELS), 0.1, 0.2, seed=0)
    b = stratified_split(LABELS, 0.1, 0.2, seed=0)
    np.testing.assert_array_equal(a[2], b[2])


@pytest.mark.parametrize(
    "val_fraction,test_fraction,needle",
    [
        (-0.1, 0.2, "val_fraction must be"),
        (0.1, 1.0, "test_fraction must be"),
        (float("nan"), 0.2, "val_fraction must be"),
        (0.5, 0.5, "must be below 1"),
    ],
)
def test_invalid_fractions(val_fraction, test_fraction, needle):
    with pytest.raises(EdgeoptError, match=needle):
        stratified_split(LABELS, val_fraction, test_fraction, seed=0)


def test_non_integer_labels_rejected():
    with pytest.raises(EdgeoptError, match="integer"):
        stratified_split(np.array([0.0, 1.0, 1.0]), 0.1, 0.2, seed=0)


def _tiny_splits() -> DatasetSplits:
    def part(n: int) -> TensorDataset:
        return TensorDataset(torch.zeros(n, 1, 4, 4), torch.arange(n) % 2)

    return DatasetSplits(
        "tiny", part(6), part(2), part(2), 2, 1, (4, 4), ["a", "b"], (0.5,), (0.2,)
    )


def test_summary_counts_and_shape():
    s = _tiny_splits().summary()
    assert s["sizes"] == {"train": 6, "val": 2, "test": 2}
    assert s["class_counts"]["train"] == [3, 3]
    assert s["image_size"] == [4, 4] and s["in_chans"] == 1 and s["class_names"] == ["a", "b"]
    assert _tiny_splits().input_shape(8) == (8, 1, 4, 4)


def test_check_model_input():
    splits = _tiny_splits()
    splits.check_model_input(1, 2)
    splits.check_model_input(1)
    with pytest.raises(EdgeoptError) as e:
        splits.check_model_input(3)
    assert "model expects 3 input channels but dataset 'tiny' has 1" in str(e.value)
    assert "in_chans=1" in str(e.value)
    with pytest.raises(EdgeoptError, match="num_classes=2"):
        splits.check_model_input(1, num_classes=10)


def test_splits_is_frozen():
    with pytest.raises(AttributeError):
        _tiny_splits().name = "other"  # type: ignore[misc]
