"""Calibration sampling: a small, deterministic, class-balanced subset for quantization.

Static quantization observes activation ranges on a few hundred inputs; a balanced sample keeps
a rare class's activations from being missed, and a fixed seed keeps results reproducible.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset, TensorDataset

from edgeopt.errors import EdgeoptError


def _tensors(dataset: Dataset[Any]) -> tuple[torch.Tensor, torch.Tensor]:
    if isinstance(dataset, TensorDataset):
        return dataset.tensors[0], dataset.tensors[1]
    # Any map-style dataset of (image, label) pairs: stack it once (calibration sets are small
    # and this runs once per quantization).
    items = [dataset[i] for i in range(len(dataset))]  # type: ignore[arg-type]  # map-style: has __len__, untyped
    if not items:
        return torch.empty(0), torch.empty(0, dtype=torch.int64)
    xs, ys = zip(*items, strict=True)  # every item is an (image, label) pair
    return torch.stack([torch.as_tensor(x) for x in xs]), torch.as_tensor(ys, dtype=torch.int64)


def _balanced_order(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """All indices, ordered so that every prefix is as class-balanced as possible.

    Round-robin over classes: each class's samples are shuffled and ranked; ordering by
    (rank, shuffled class position) takes one of each class per round. A class with few
    samples simply drops out of later rounds, so the others fill the quota.
    """
    classes, inverse = np.unique(labels, return_inverse=True)
    rank = np.empty(len(labels), dtype=np.int64)
    for c in range(len(classes)):
        members = rng.permutation(np.flatnonzero(inverse == c))
        rank[members] = np.arange(len(members))
    class_pos = rng.permutation(len(classes))[inverse]  # which classes get a partial round's extras
    return np.lexsort((class_pos, rank))


def calibration_subset(
    dataset: Dataset[Any], n: int, seed: int = 0, stratified: bool = True
) -> TensorDataset:
    """Draw ``n`` examples for quantization calibration, deterministically.

    With ``stratified=True`` classes are as balanced as the data allows (counts differ by at
    most one between classes that have enough samples), and any prefix of the result is
    balanced too. If ``n`` is at least ``len(dataset)``, every example is returned (reordered),
    without an error: a small dataset simply calibrates on all of it.

    Args:
        dataset: A ``TensorDataset(images, labels)`` (e.g. ``splits.train``) or any map-style
            dataset of ``(image, label)`` pairs.
        n: Number of examples wanted (> 0).
        seed: Seed for ``numpy.random.default_rng``; torch's global RNG is not touched.
        stratified: Balance over classes; if False, a plain random sample.

    Returns:
        A new ``TensorDataset(images, labels)`` of ``min(n, len(dataset))`` examples.

    Raises:
        EdgeoptError: If ``n`` is not a positive integer or the dataset is empty.

    Example:
        >>> calib = calibration_subset(splits.train, 256, seed=0)
        >>> len(calib)
        256
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n <= 0:
        raise EdgeoptError(f"calibration size n must be a positive integer, got {n!r}")
    x, y = _tensors(dataset)
    if len(y) == 0:
        raise EdgeoptError("cannot draw a calibration subset from an empty dataset")
    rng = np.random.default_rng(seed)
    labels = y.cpu().numpy()
    order = _balanced_order(labels, rng) if stratified else rng.permutation(len(labels))
    idx = torch.from_numpy(order[: int(n)].astype(np.int64))
    return TensorDataset(x[idx], y[idx])
