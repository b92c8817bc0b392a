"""Datasets for edgeopt: bundled real data, image folders, ``.npz`` files, CIFAR-10 batches.

Every source loads into :class:`DatasetSplits` (train/val/test ``TensorDataset`` s, normalised
with the train split's statistics) through :func:`load_dataset`.

Example:
    >>> from edgeopt.data import load_dataset, calibration_subset
    >>> splits = load_dataset("digits", seed=0)
    >>> calib = calibration_subset(splits.train, 128)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from edgeopt.utils.lazy import lazy_exports

# public name -> module that defines it
_EXPORTS: dict[str, str] = {
    "random_shift": "edgeopt.data.augment",
    "describe_datasets": "edgeopt.data.builtin",
    "list_datasets": "edgeopt.data.builtin",
    "load_dataset": "edgeopt.data.loader",
    "calibration_subset": "edgeopt.data.sampling",
    "DatasetSplits": "edgeopt.data.splits",
    "stratified_split": "edgeopt.data.splits",
}

__all__ = [
    "DatasetSplits",
    "calibration_subset",
    "describe_datasets",
    "list_datasets",
    "load_dataset",
    "random_shift",
    "stratified_split",
]

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())

if TYPE_CHECKING:  # for type checkers and IDEs; not executed at run time
    from edgeopt.data.augment import random_shift as random_shift
    from edgeopt.data.builtin import describe_datasets as describe_datasets, list_datasets as list_datasets
    from edgeopt.data.loader import load_dataset as load_dataset
    from edgeopt.data.sampling import calibration_subset as calibration_subset
    from edgeopt.data.splits import DatasetSplits as DatasetSplits, stratified_split as stratified_split
