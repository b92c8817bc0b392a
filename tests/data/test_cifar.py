"""CIFAR-10 python batch folders through load_dataset, read with a restricted unpickler."""

from __future__ import annotations

import os
import pickle

import numpy as np
import pytest
import torch

from edgeopt.data import load_dataset
from edgeopt.errors import EdgeoptError


@pytest.mark.parametrize("protocol", [2, 5])
def test_loads_with_shipped_test_split(cifar_folder, protocol):
    root = cifar_folder(per_batch=20, n_test=30, protocol=protocol)
    s = load_dataset(root, val_fraction=0.1, test_fraction=0.5, seed=0)
    assert (s.in_chans, s.image_size, s.num_classes) == (3, (32, 32), 10)
    assert s.class_names == [f"class{i}" for i in range(10)]
    # test_batch is the test split as shipped (test_fraction ignored); val comes from train.
    assert s.summary()["sizes"] == {"train": 90, "val": 10, "test": 30}
    assert len(s.mean) == 3


def test_pixel_layout_is_channel_major(cifar_folder):
    root = cifar_folder(per_batch=10, n_test=10)
    batch = root / "data_batch_1"
    data = np.zeros((10, 3072), dtype=np.uint8)
    data[:, 1024 + 32 * 2 + 5] = 255  # green channel, row 2, column 5
    data[0, 0] = 10  # vary the red channel so its std is not zero
    with batch.open("wb") as f:
        pickle.dump({b"data": data, b"labels": list(range(10))}, f, protocol=2)
    s = load_dataset(root, val_fraction=0.0, limit=None)
    std, mean = (torch.tensor(v).view(1, 3, 1, 1) for v in (s.std, s.mean))
    green = (s.train.tensors[0] * std + mean)[:, 1]
    hot = (green > 0.99).nonzero()
    assert hot.shape[0] == 10 and set(hot[:, 1].tolist()) == {2} and set(hot[:, 2].tolist()) == {5}


def test_missing_meta_uses_index_names(cifar_folder):
    s = load_dataset(cifar_folder(per_batch=10, n_test=10, meta=False), val_fraction=0.0)
    assert s.class_names == [str(i) for i in range(10)]


def test_limit_keeps_train_test_ratio(cifar_folder):
    s = load_dataset(cifar_folder(per_batch=20, n_test=100), limit=50, val_fraction=0.1)
    sizes = s.summary()["sizes"]
    assert sum(sizes.values()) == 50 and sizes["test"] == 25


def test_missing_batch_files_are_named(cifar_folder):
    root = cifar_folder(per_batch=5, n_test=5)
    (root / "data_batch_3").unlink()
    (root / "test_batch").unlink()
    with pytest.raises(EdgeoptError) as e:
        load_dataset(root)
    assert "missing batch files: data_batch_3, test_batch" in str(e.value)


def test_wrong_array_size(cifar_folder):
    root = cifar_folder(per_batch=5, n_test=5)
    with (root / "data_batch_2").open("wb") as f:
        pickle.dump({b"data": np.zeros((5, 1024), np.uint8), b"labels": [0] * 5}, f, protocol=2)
    with pytest.raises(EdgeoptError, match="data_batch_2' has data of shape \\(5, 1024\\)"):
        load_dataset(root)


def test_missing_labels_key(cifar_folder):
    root = cifar_folder(per_batch=5, n_test=5)
    with (root / "test_batch").open("wb") as f:
        pickle.dump({b"data": np.zeros((5, 3072), np.uint8)}, f, protocol=2)
    with pytest.raises(EdgeoptError, match="no 'labels' entry"):
        load_dataset(root)


class _Evil:
    """Unpickling this would call os.system; the restricted unpickler must refuse."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_malicious_pickle_is_refused_and_not_executed(cifar_folder, tmp_path):
    root = cifar_folder(per_batch=5, n_test=5)
    marker = tmp_path / "pwned"
    with (root / "data_batch_1").open("wb") as f:
        pickle.dump({b"data": _Evil(marker), b"labels": [0] * 5}, f, protocol=2)
    with pytest.raises(EdgeoptError, match="will not load"):
        load_dataset(root)
    assert not marker.exists()


def test_truncated_batch(cifar_folder):
    root = cifar_folder(per_batch=5, n_test=5)
    content = (root / "data_batch_4").read_bytes()
    (root / "data_batch_4").write_bytes(content[: len(content) // 2])
    with pytest.raises(EdgeoptError, match="cannot read CIFAR batch '.*data_batch_4'"):
        load_dataset(root)
