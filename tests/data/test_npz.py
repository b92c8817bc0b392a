"""`.npz` files through load_dataset."""

from __future__ import annotations

import numpy as np
import pytest

from edgeopt.data import load_dataset
from edgeopt.errors import EdgeoptError

NO_SPLIT = {"val_fraction": 0.0, "test_fraction": 0.0}
LABELS = np.arange(12) % 3


def _save(tmp_path, **arrays):
    path = tmp_path / "set.npz"
    np.savez(path, **arrays)
    return path


def _raw_train(s):
    mean = np.array(s.mean)[None, :, None, None]
    std = np.array(s.std)[None, :, None, None]
    return s.train.tensors[0].numpy() * std + mean


@pytest.mark.parametrize(
    "shape,chans,hw",
    [((12, 7, 5), 1, (7, 5)), ((12, 7, 5, 3), 3, (7, 5)), ((12, 3, 7, 5), 3, (7, 5)),
     ((12, 7, 5, 1), 1, (7, 5)), ((12, 4, 9, 9), 4, (9, 9))],
)
def test_layouts(tmp_path, shape, chans, hw):
    x = np.random.default_rng(0).random(shape, dtype=np.float32)
    s = load_dataset(_save(tmp_path, x=x, y=LABELS))
    assert (s.in_chans, s.image_size, s.num_classes, s.name) == (chans, hw, 3, "set")


def test_channels_last_values_land_in_the_right_channel(tmp_path):
    x = np.zeros((12, 5, 5, 3), dtype=np.uint8)  # 5: not a channel count
    x[..., 1] = 255  # green only
    x[0, ..., 1] = 0  # vary so the channel std is not zero
    s = load_dataset(_save(tmp_path, x=x, y=LABELS), **NO_SPLIT)
    raw = _raw_train(s)
    assert np.allclose(raw[:, [0, 2]], 0, atol=1e-5)
    assert np.isclose(raw[:, 1].max(), 1.0, atol=1e-5)  # uint8 scaled by 1/255


def test_float_kept_as_is_and_class_names(tmp_path):
    x = np.linspace(0, 100, 12 * 16, dtype=np.float64).reshape(12, 4, 4)
    path = _save(tmp_path, x=x, y=LABELS, class_names=np.array(["r", "g", "b"]))
    s = load_dataset(path, **NO_SPLIT)
    assert s.class_names == ["r", "g", "b"]
    assert s.mean[0] == pytest.approx(50.0, rel=1e-5)  # not rescaled to [0, 1]


def test_missing_key_lists_the_keys_present(tmp_path):
    with pytest.raises(EdgeoptError) as e:
        load_dataset(_save(tmp_path, images=np.zeros((2, 4, 4)), y=np.array([0, 1])))
    assert "no array 'x'" in str(e.value) and "'images', 'y'" in str(e.value)


def test_length_mismatch(tmp_path):
    with pytest.raises(EdgeoptError, match="12 images in 'x' but 11 labels"):
        load_dataset(_save(tmp_path, x=np.zeros((12, 4, 4)), y=LABELS[:11]))


def test_float_labels_rejected(tmp_path):
    with pytest.raises(EdgeoptError, match="not integers"):
        load_dataset(_save(tmp_path, x=np.zeros((12, 4, 4)), y=LABELS.astype(float)))


def test_wrong_ndim(tmp_path):
    with pytest.raises(EdgeoptError, match="has 2 dimensions"):
        load_dataset(_save(tmp_path, x=np.zeros((12, 16)), y=LABELS))


def test_object_arrays_are_refused_not_unpickled(tmp_path):
    objs = np.array([{"a": 1}] * 12, dtype=object)
    with pytest.raises(EdgeoptError, match="cannot read"):
        load_dataset(_save(tmp_path, x=objs, y=LABELS))


def test_nan_rejected(tmp_path):
    x = np.zeros((12, 4, 4), dtype=np.float32)
    x[3, 1, 1] = np.nan
    with pytest.raises(EdgeoptError, match="NaN"):
        load_dataset(_save(tmp_path, x=x, y=LABELS))


def test_not_a_zip(tmp_path):
    path = tmp_path / "bad.npz"
    path.write_bytes(b"not a zip file")
    with pytest.raises(EdgeoptError, match="cannot read '.*bad.npz'"):
        load_dataset(path)
