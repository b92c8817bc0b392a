"""Where and in which mode a model runs: its device, and restoring train/eval flags."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn


@contextmanager


def _preserve_modes(model: nn.Module) -> Iterator[None]:
    """Restore every submodule's train/eval flag on exit (some callers freeze BN in eval)."""
    modes = [(m, m.training) for m in model.modules()]
    try:
        yield
    finally:
        for module, training in modes:
            module.training = training


def _device_of(model: nn.Module) -> torch.device:
    first = next(model.parameters(), None)
    return first.device if first is not None else torch.device("cpu")
