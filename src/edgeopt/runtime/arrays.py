"""Evaluation data as plain arrays: what a runner measures accuracy on without torch.

A benchmark needs the test images (float32, N x C x H x W, already normalised) and, for accuracy,
their labels. :class:`ArrayData` holds exactly that, so the measuring code runs where torch is
not installed (an edge device measuring ONNX files, see :mod:`edgeopt.agent`), and a
:class:`~edgeopt.data.DatasetSplits` test split becomes one with :meth:`ArrayData.from_splits`.
Batches are consecutive slices in dataset order, as a non-shuffling ``DataLoader`` gives them,
so an accuracy is the same figure whichever way the data came.

Example:
    >>> data = ArrayData(x=np.zeros((4, 1, 8, 8), np.float32), y=np.arange(4), name="zeros")
    >>> data.input_shape(1), [len(x) for x, _ in data.batches(3)]
    ((1, 1, 8, 8), [3, 1])
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from edgeopt.errors import EdgeoptError

if TYPE_CHECKING:
    from edgeopt.data import DatasetSplits


@dataclass(frozen=True, eq=False)
class ArrayData:
    """Inputs and (optional) labels of one evaluation split, as numpy arrays.

    Attributes:
        x: Inputs, float32, batch first (N x C x H x W for an image model).
        y: Integer class labels, one per input, or None (no accuracy then).
        name: What the data is, for messages (a dataset name).

    Raises:
        EdgeoptError: no samples, labels that are not integers or not one per input.
    """

    x: npt.NDArray[np.float32]
    y: npt.NDArray[np.int64] | None = None
    name: str = "arrays"

    def __post_init__(self) -> None:
        x = np.ascontiguousarray(self.x, dtype=np.float32)
        if x.ndim < 2 or len(x) == 0:
            raise EdgeoptError(f"evaluation data {self.name!r} needs a batch of inputs, got shape {x.shape}")
        object.__setattr__(self, "x", x)
        if self.y is not None:
            y = np.asarray(self.y)
            if y.ndim != 1 or len(y) != len(x) or not np.issubdtype(y.dtype, np.integer):
                raise EdgeoptError(
                    f"labels of {self.name!r} must be {len(x)} integers (one per input), "
                    f"got {y.dtype} of shape {y.shape}"
                )
            object.__setattr__(self, "y", y.astype(np.int64, copy=False))

    @classmethod
    def from_splits(cls, splits: DatasetSplits) -> ArrayData:
        """The test split of ``splits`` (its ``TensorDataset`` of images and labels)."""
        images, labels = splits.test.tensors[0], splits.test.tensors[1]
        return cls(x=images.numpy(), y=labels.numpy(), name=splits.name)

    def __len__(self) -> int:
        return len(self.x)

    def input_shape(self, batch_size: int = 1) -> tuple[int, ...]:
        """The shape of a batch of ``batch_size`` inputs."""
        return (batch_size, *(int(d) for d in self.x.shape[1:]))

    def batches(self, batch_size: int) -> Iterator[tuple[npt.NDArray[np.float32], np.ndarray | None]]:
        """Consecutive ``(inputs, labels)`` slices of ``batch_size`` (the last may be shorter)."""
        for start in range(0, len(self.x), batch_size):
            stop = start + batch_size
            yield self.x[start:stop], (None if self.y is None else self.y[start:stop])
