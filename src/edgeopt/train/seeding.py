"""Reproducibility: seed every random number generator a training run uses."""

from __future__ import annotations

import random

import numpy as np
import torch

__all__ = ["seed_everything"]


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, NumPy and torch, and return a torch generator seeded with ``seed``.

    Example:
        >>> g = seed_everything(0)
        >>> torch.randperm(3, generator=g)
        tensor([2, 0, 1])
    """
    random.seed(seed)
    np.random.seed(seed % 2**32)  # NumPy only takes 32-bit seeds
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)
