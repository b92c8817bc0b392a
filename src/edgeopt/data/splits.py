"""Train/val/test splits: the :class:`DatasetSplits` container and deterministic stratified
splitting.

Splits use ``numpy.random.default_rng(seed)`` only, so the same seed gives the same split
whatever else touched torch's or numpy's global random state.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from torch.utils.data import TensorDataset

from edgeopt.errors import EdgeoptError


@dataclass(frozen=True, eq=False)
class DatasetSplits:
    """A dataset split three ways, normalised with statistics of its train split.

    Attributes:
        name: Dataset name (a builtin name, or the file/folder name).
        train, val, test: ``TensorDataset(images, labels)``; images float32 N x C x H x W,
            already normalised; labels int64.
        num_classes: Number of classes (``len(class_names)``).
        in_chans: Image channels (1 greyscale, 3 RGB).
        image_size: ``(H, W)``.
        class_names: Name of each class index.
        mean, std: Per-channel statistics of the train split, applied to all three splits.
            Apply the same ``(x - mean) / std`` to any new input before inference.

    Example:
        >>> splits = load_dataset("digits")
        >>> splits.check_model_input(in_chans=1, num_classes=10)
        >>> splits.summary()["sizes"]
        {'train': 1258, 'val': 180, 'test': 359}
    """

    name: str
    train: TensorDataset
    val: TensorDataset
    test: TensorDataset
    num_classes: int
    in_chans: int
    image_size: tuple[int, int]
    class_names: list[str]
    mean: tuple[float, ...]
    std: tuple[float, ...]

    def check_split_sizes(self, *, val: bool = True) -> None:
        """Raise unless the train and test splits (and with ``val`` the val split) hold samples.

        Commands and recipe runs call this on the data they will train and evaluate on;
        :func:`load_dataset` itself allows empty splits (``val_fraction=0, test_fraction=0``
        keeps every sample for training).

        Raises:
            EdgeoptError: Naming the dataset and the size of each split.
        """
        sizes = {"train": len(self.train), "val": len(self.val), "test": len(self.test)}
        empty = [k for k, n in sizes.items() if n == 0 and (val or k != "val")]
        if empty:
            total = sum(sizes.values())
            shown = ", ".join(f"{k} {n}" for k, n in sizes.items())
            raise EdgeoptError(
                f"dataset '{self.name}' is too small: its {total} sample{'s' if total != 1 else ''} "
                f"split into {shown}, so the {' and '.join(empty)} split{'s are' if len(empty) > 1 else ' is'} empty",
                hint="use more data: every split needs samples, and each class keeps one for training "
                "(e.g. 10 or more images per class)",
            )

    def input_shape(self, batch_size: int = 1) -> tuple[int, int, int, int]:
        """Model input shape ``(batch_size, C, H, W)``, e.g. for export or profiling."""
        return (batch_size, self.in_chans, *self.image_size)

    def summary(self) -> dict[str, Any]:
        """A JSON-ready description: sizes and per-class counts of each split, shape, classes."""
        parts = {"train": self.train, "val": self.val, "test": self.test}
        return {
            "name": self.name,
            "num_classes": self.num_classes,
            "class_names": list(self.class_names),
            "in_chans": self.in_chans,
            "image_size": list(self.image_size),
            "sizes": {k: len(d) for k, d in parts.items()},
            "class_counts": {
                k: torch.bincount(d.tensors[1], minlength=self.num_classes).tolist()
                for k, d in parts.items()
            },
            "mean": list(self.mean),
            "std": list(self.std),
        }

    def check_model_input(self, in_chans: int, num_classes: int | None = None) -> None:
        """Raise if a model built for ``in_chans`` / ``num_classes`` cannot take this dataset.

        Raises:
            EdgeoptError: On a channel or class-count mismatch, saying how to build the model.
        """
        if in_chans != self.in_chans:
            raise EdgeoptError(
                f"model expects {in_chans} input channels but dataset '{self.name}' "
                f"has {self.in_chans}",
                hint=f"build the model with in_chans={self.in_chans}",
            )
        if num_classes is not None and num_classes != self.num_classes:
            raise EdgeoptError(
                f"model predicts {num_classes} classes but dataset '{self.name}' "
                f"has {self.num_classes}",
                hint=f"build the model with num_classes={self.num_classes}",
            )


def check_fractions(val_fraction: float, test_fraction: float) -> None:
    """Raise :class:`EdgeoptError` unless both fractions are in [0, 1) and sum below 1."""
    for label, f in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
        if not isinstance(f, (int, float)) or not math.isfinite(f) or not 0 <= f < 1:
            raise EdgeoptError(f"{label} must be a number in [0, 1), got {f!r}")
    if val_fraction + test_fraction >= 1:
        raise EdgeoptError(
            f"val_fraction + test_fraction must be below 1, got {val_fraction} + {test_fraction}",
            hint="leave some data for training, e.g. val_fraction=0.1, test_fraction=0.2",
        )


def _labels_1d(labels: torch.Tensor | npt.ArrayLike) -> np.ndarray:
    y = labels.numpy() if isinstance(labels, torch.Tensor) else np.asarray(labels)
    if y.ndim != 1 or y.size == 0 or y.dtype.kind not in "iu":
        raise EdgeoptError(
            f"labels must be a non-empty 1-D integer array, got dtype {y.dtype}, shape {y.shape}"
        )
    return y


def _target(n: int, fraction: float) -> int:
    # Round half up (not to even) so results don't flip on .5; give a split with a positive
    # fraction at least one sample when there are enough for all three splits.
    t = math.floor(n * fraction + 0.5)
    return 1 if fraction > 0 and t == 0 and n >= 3 else t


def allocate(counts: np.ndarray, total: int) -> np.ndarray:
    """Share ``total`` samples among classes in proportion to ``counts`` (largest remainder).

    Each class gets ``floor(exact)`` or ``floor(exact) + 1``, so it is within one sample of its
    exact proportional share, and the quotas sum to ``total`` (if ``total <= counts.sum()``).
    """
    counts = np.asarray(counts, dtype=np.int64)
    exact = counts * (total / max(int(counts.sum()), 1))
    quota: np.ndarray = np.minimum(np.floor(exact).astype(np.int64), counts)
    # Hand out the rest by largest remainder; ties go to the bigger class, then the lower index.
    order = np.lexsort((np.arange(len(counts)), -counts, -(exact - quota)))
    for i in order[: max(total - int(quota.sum()), 0)]:
        quota[i] += quota[i] < counts[i]
    return quota


def stratified_split(
    labels: torch.Tensor | npt.ArrayLike, val_fraction: float, test_fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Split sample indices into train/val/test, keeping each class's proportion in each split.

    Deterministic: depends only on ``labels``, the fractions and ``seed``. Each class keeps at
    least one training sample; a split with a positive fraction gets at least one sample when
    possible (three or more samples, and not all of them alone in their class).

    Args:
        labels: 1-D integer labels (numpy array, tensor or list).
        val_fraction: Share of samples for validation, in [0, 1).
        test_fraction: Share of samples for test, in [0, 1); ``val + test < 1``.
        seed: Seed for ``numpy.random.default_rng``.

    Returns:
        ``(train_idx, val_idx, test_idx)``: sorted, disjoint int64 index arrays covering all
        samples.

    Raises:
        EdgeoptError: On invalid fractions or labels.

    Example:
        >>> tr, va, te = stratified_split([0, 0, 0, 0, 1, 1, 1, 1, 1, 1], 0.2, 0.2, seed=0)
        >>> len(tr), len(va), len(te)
        (6, 2, 2)
    """
    check_fractions(val_fraction, test_fraction)
    y = _labels_1d(labels)
    classes, inverse = np.unique(y, return_inverse=True)
    counts = np.bincount(inverse, minlength=len(classes))
    q_test = allocate(counts, _target(len(y), test_fraction))
    q_val = allocate(counts, _target(len(y), val_fraction))
    # Keep one training sample per class: take back from val first, then from test.
    excess = np.maximum(q_test + q_val - (counts - 1), 0)
    from_val = np.minimum(excess, q_val)
    q_val -= from_val
    q_test -= excess - from_val
    rng = np.random.default_rng(seed)
    parts: tuple[list[np.ndarray], ...] = ([], [], [])
    for c in range(len(classes)):
        idx = rng.permutation(np.flatnonzero(inverse == c))
        t, v = int(q_test[c]), int(q_val[c])
        parts[2].append(idx[:t])
        parts[1].append(idx[t : t + v])
        parts[0].append(idx[t + v :])
    train, val, test = (np.sort(np.concatenate(p)).astype(np.int64) for p in parts)
    return train, val, test


def stratified_subset(labels: torch.Tensor | npt.ArrayLike, n: int, seed: int) -> np.ndarray:
    """Sorted indices of at most ``n`` samples keeping class proportions (used by ``limit``)."""
    y = _labels_1d(labels)
    if n >= len(y):
        return np.arange(len(y), dtype=np.int64)
    classes, inverse = np.unique(y, return_inverse=True)
    quota = allocate(np.bincount(inverse, minlength=len(classes)), n)
    rng = np.random.default_rng(seed)
    keep = [rng.permutation(np.flatnonzero(inverse == c))[: quota[c]] for c in range(len(classes))]
    return np.sort(np.concatenate(keep)).astype(np.int64)


def channel_stats(x: torch.Tensor) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and (population) std of N x C x H x W images.

    A constant channel gets std 1.0 rather than 0 so normalising it cannot divide by zero.
    """
    if x.shape[0] == 0:
        raise EdgeoptError("the train split is empty, so it has no statistics to normalise with")
    flat = x.transpose(0, 1).reshape(x.shape[1], -1).double()  # float64: exact on big sets
    mean = flat.mean(dim=1)
    std = flat.std(dim=1, correction=0)
    std = torch.where(std > 1e-12, std, torch.ones_like(std))
    return tuple(mean.tolist()), tuple(std.tolist())


def normalise_(x: torch.Tensor, mean: tuple[float, ...], std: tuple[float, ...]) -> torch.Tensor:
    """Normalise N x C x H x W images in place with per-channel ``mean`` and ``std``."""
    m = torch.tensor(mean, dtype=x.dtype).view(1, -1, 1, 1)
    s = torch.tensor(std, dtype=x.dtype).view(1, -1, 1, 1)
    return x.sub_(m).div_(s)
