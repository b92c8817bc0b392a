"""Helpers that write tiny datasets of every supported format into tmp_path."""

from __future__ import annotations

import pickle
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image


def write_image(path: Path, array: np.ndarray) -> Path:
    """Write a uint8 H x W (greyscale) or H x W x 3 (RGB) array as an image file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.asarray(array, dtype=np.uint8)).save(path)
    return path


@pytest.fixture
def image_folder(tmp_path: Path) -> Callable[..., Path]:
    """Factory: ``image_folder({"cat": 3, "dog": 2}, size=(6, 5), rgb=False)`` -> root.

    Pixel (0, 0) of image i of class c is ``10 * c_index + i`` so tests can check values.
    """

    def make(counts: dict[str, int], size: tuple[int, int] = (6, 5), rgb: bool = False) -> Path:
        root = tmp_path / "imgs"
        root.mkdir(exist_ok=True)
        for ci, (name, n) in enumerate(sorted(counts.items())):
            (root / name).mkdir(exist_ok=True)
            for i in range(n):
                a = np.full((*size, 3) if rgb else size, 128, dtype=np.uint8)
                a[0, 0] = 10 * ci + i
                write_image(root / name / f"{i:03d}.png", a)
        return root

    return make


def cifar_batch(n: int, start_label: int = 0, py2_style: bool = True) -> dict:
    """A fake CIFAR batch: pixel value = image index within the batch, label cycles 0..9."""
    data = np.zeros((n, 3072), dtype=np.uint8)
    data[:] = (np.arange(n) % 256)[:, None]
    labels = [(start_label + i) % 10 for i in range(n)]
    if py2_style:  # the real files have bytes keys
        return {b"batch_label": b"fake", b"labels": labels, b"data": data}
    return {"labels": labels, "data": data}


def write_pickle(path: Path, obj: object, protocol: int = 2) -> Path:
    with path.open("wb") as f:
        pickle.dump(obj, f, protocol=protocol)
    return path


@pytest.fixture
def cifar_folder(tmp_path: Path) -> Callable[..., Path]:
    """Factory for a fake CIFAR-10 batch folder with ``per_batch`` images per train batch."""

    def make(per_batch: int = 20, n_test: int = 30, protocol: int = 2, meta: bool = True) -> Path:
        root = tmp_path / "cifar-10-batches-py"
        root.mkdir()
        py2 = protocol <= 2
        for i in range(1, 6):
            write_pickle(root / f"data_batch_{i}", cifar_batch(per_batch, i, py2), protocol)
        write_pickle(root / "test_batch", cifar_batch(n_test, 0, py2), protocol)
        if meta:
            names = [f"class{i}".encode() for i in range(10)]
            write_pickle(root / "batches.meta", {b"label_names": names, b"num_vis": 3072}, protocol)
        return root

    return make


@pytest.fixture
def png() -> Callable[[Path, np.ndarray], Path]:
    """The :func:`write_image` helper, as a fixture (test modules can't import conftest)."""
    return write_image
