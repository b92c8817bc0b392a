"""Image folders (one sub-folder per class) through load_dataset."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from edgeopt.data import load_dataset
from edgeopt.errors import EdgeoptError

NO_SPLIT = {"val_fraction": 0.0, "test_fraction": 0.0}


def _raw(splits, part="train"):
    """Un-normalised pixels of a split, in [0, 1]."""
    x, y = getattr(splits, part).tensors
    mean = np.array(splits.mean)[None, :, None, None]
    std = np.array(splits.std)[None, :, None, None]
    return x.numpy() * std + mean, y.numpy()


def test_greyscale_folder(image_folder):
    root = image_folder({"dog": 4, "cat": 6}, size=(6, 5))
    s = load_dataset(root, val_fraction=0.2, test_fraction=0.2)
    assert s.class_names == ["cat", "dog"] and s.num_classes == 2 and s.name == "imgs"
    assert s.in_chans == 1 and s.image_size == (6, 5)
    assert sum(s.summary()["sizes"].values()) == 10


def test_pixel_values_and_labels_survive(image_folder):
    root = image_folder({"a": 3, "b": 2})
    x, y = _raw(load_dataset(root, **NO_SPLIT))
    # conftest writes pixel (0, 0) = 10 * class_index + image_index, the rest 128.
    expected = sorted([0, 1, 2, 10, 11])
    assert sorted(np.rint(x[:, 0, 0, 0] * 255).astype(int).tolist()) == expected
    assert np.allclose(x[:, 0, 1:, :], 128 / 255, atol=1e-5)
    assert np.array_equal(y[np.rint(x[:, 0, 0, 0] * 255) >= 10], [1, 1])


def test_one_rgb_image_makes_the_dataset_rgb(image_folder, png):
    root = image_folder({"a": 2, "b": 2})
    rgb = np.zeros((6, 5, 3), dtype=np.uint8)
    rgb[..., 0] = 255  # pure red
    png(root / "b" / "red.png", rgb)
    s = load_dataset(root, **NO_SPLIT)
    assert s.in_chans == 3 and len(s.mean) == 3
    x, _ = _raw(s)
    reds = x[(x[:, 0] > 0.99).all(axis=(1, 2))]
    assert len(reds) == 1 and np.allclose(reds[0, 1:], 0, atol=1e-5)


def test_other_formats_and_non_images(image_folder):
    root = image_folder({"a": 2, "b": 2})
    Image.new("L", (5, 6), 7).save(root / "a" / "x.jpg")
    Image.new("L", (5, 6), 7).save(root / "b" / "y.BMP")
    (root / "a" / "notes.txt").write_text("not an image")
    (root / ".hidden").mkdir()
    s = load_dataset(root, **NO_SPLIT)
    assert len(s.train) == 6 and s.class_names == ["a", "b"]


def test_16_bit_greyscale_is_scaled_not_clipped(tmp_path):
    (tmp_path / "c").mkdir()
    a = np.full((4, 4), 32768, dtype=np.uint16)
    Image.fromarray(a).save(tmp_path / "c" / "deep.png")
    Image.fromarray(np.zeros((4, 4), np.uint16)).save(tmp_path / "c" / "dark.png")
    x, _ = _raw(load_dataset(tmp_path, **NO_SPLIT))
    assert sorted(x.reshape(2, -1).mean(axis=1).round(3).tolist()) == [0.0, 0.5]


def test_mixed_sizes_need_image_size(image_folder, png):
    root = image_folder({"a": 2, "b": 2}, size=(6, 5))
    png(root / "b" / "big.png", np.zeros((10, 12), np.uint8))
    with pytest.raises(EdgeoptError) as e:
        load_dataset(root)
    msg = str(e.value)
    assert "different sizes" in msg and "6x5" in msg and "10x12" in msg and "image_size" in msg
    s = load_dataset(root, image_size=(8, 8), **NO_SPLIT)
    assert s.image_size == (8, 8) and s.train.tensors[0].shape == (5, 1, 8, 8)


def test_no_class_folders(tmp_path, png):
    png(tmp_path / "loose.png", np.zeros((4, 4), np.uint8))
    with pytest.raises(EdgeoptError, match="has no class sub-folders"):
        load_dataset(tmp_path)


def test_empty_class_folder_is_named(image_folder):
    root = image_folder({"a": 2})
    (root / "zebra").mkdir()
    with pytest.raises(EdgeoptError, match="'.*zebra' contains no images"):
        load_dataset(root)


def test_corrupt_image_is_named(image_folder):
    root = image_folder({"a": 2, "b": 2})
    (root / "b" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    with pytest.raises(EdgeoptError, match="cannot read image '.*broken.png'"):
        load_dataset(root)
