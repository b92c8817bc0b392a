"""Datasets for edgeopt: bundled real data, image folders, ``.npz`` files, CIFAR-10 batches.

Every source loads into :class:`DatasetSplits` (train/val/test ``TensorDataset`` s, normalised
with the train split's statistics) through :func:`load_dataset`.

Example:
    >>> from edgeopt.data import load_dataset, calibration_subset
    >>> splits = load_dataset("digits", seed=0)
    >>> calib = calibration_subset(splits.train, 128)
"""

from edgeopt.data.augment import random_shift
from edgeopt.data.builtin import describe_datasets, list_datasets
from edgeopt.data.loader import load_dataset
from edgeopt.data.sampling import calibration_subset
from edgeopt.data.splits import DatasetSplits, stratified_split

__all__ = [
    "DatasetSplits",
    "calibration_subset",
    "describe_datasets",
    "list_datasets",
    "load_dataset",
    "random_shift",
    "stratified_split",
]
