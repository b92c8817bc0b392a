"""The accuracy of one subnet of a trained supernet.

A supernet's BatchNorm running statistics are a mix of every subnet that ran through it, so a
subnet is judged only after re-estimating its own statistics on training images (as OFA and
BigNAS do), on an extracted copy: the supernet itself is never changed.

Example:
    >>> subnet_accuracy(supernet, space.smallest(), splits)
    91.4
"""

from __future__ import annotations

from edgeopt.data import DatasetSplits
from edgeopt.models.spaces import Arch
from edgeopt.prune.bn_recalibration import recalibrate_batchnorm
from edgeopt.search.supernet import Supernet
from edgeopt.train import evaluate

__all__ = ["subnet_accuracy"]


def subnet_accuracy(supernet: Supernet, arch: Arch, splits: DatasetSplits, *, calibration_samples: int = 512,
                    batch_size: int = 256) -> float:
    """Top-1 accuracy (%) of ``arch`` on the validation split, BatchNorm re-estimated first.

    Args:
        supernet: The trained supernet (not modified).
        arch: The architecture, in the supernet's space.
        splits: ``splits.train`` gives the calibration images (the first ``calibration_samples``),
            ``splits.val`` the accuracy.
        calibration_samples: Training images to re-estimate BatchNorm statistics on.
        batch_size: Batch size of calibration and evaluation.

    Raises:
        EdgeoptError: ``arch`` lies outside the supernet's space, or an empty split.
    """
    net = supernet.extract(arch)  # copies: recalibration changes the copy's statistics only
    recalibrate_batchnorm(net, splits.train, samples=calibration_samples, batch_size=batch_size)
    return 100.0 * evaluate(net, splits.val, batch_size).accuracy
