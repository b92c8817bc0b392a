"""The common in-memory form every dataset reader returns, before splitting and normalising.

Readers (builtins, image folders, ``.npz`` files, CIFAR batches) only have to turn their source
into :class:`RawData`; subsetting, resizing, splitting and normalisation happen once, in
:mod:`edgeopt.data.loader`, so every source behaves the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edgeopt.errors import EdgeoptError


@dataclass
class RawData:
    """Images and labels as read from a source.

    Attributes:
        name: Dataset name shown in summaries and errors.
        x: float32 images, N x C x H x W, in the source's own scale (usually [0, 1]).
        y: int64 labels, shape (N,), each in ``range(len(class_names))``.
        class_names: One name per class index.
        test: A test split shipped with the source (CIFAR's ``test_batch``), or ``None``.
    """

    name: str
    x: np.ndarray
    y: np.ndarray
    class_names: list[str]
    test: tuple[np.ndarray, np.ndarray] | None = None


def as_labels(y: np.ndarray, where: str) -> np.ndarray:
    """Check that ``y`` is a 1-D array of non-negative integers and return it as int64.

    Args:
        y: Candidate labels.
        where: What the labels came from, named in errors (a file name, a dataset name).

    Raises:
        EdgeoptError: If ``y`` is not 1-D, not of an integer type, or holds negative values.
    """
    y = np.asarray(y)
    if y.ndim != 1:
        raise EdgeoptError(
            f"labels in {where} must be 1-D, got shape {tuple(y.shape)}",
            hint="store one integer class index per image",
        )
    if y.dtype.kind not in "iu":
        raise EdgeoptError(
            f"labels in {where} are not integers (dtype {y.dtype})",
            hint="store class indices as integers, e.g. y.astype(np.int64)",
        )
    if y.size and y.min() < 0:
        raise EdgeoptError(
            f"labels in {where} must be >= 0, found {int(y.min())}",
            hint="use class indices 0 .. num_classes-1",
        )
    return y.astype(np.int64, copy=False)


def default_class_names(y: np.ndarray) -> list[str]:
    """Names ``'0' .. str(max label)`` for sources that carry no class names."""
    return [str(i) for i in range(int(y.max()) + 1 if y.size else 0)]
