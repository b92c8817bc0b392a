"""Where and in which mode a model runs: its device, and restoring train/eval flags.

Shared by training, evaluation, profiling, export and the runtimes, which all switch a model to
eval (or train) for a while and must hand it back exactly as it was.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn


@contextmanager
def preserve_modes(model: nn.Module) -> Iterator[None]:
    """Restore every submodule's train/eval flag on exit (some callers freeze BN in eval).

    Example:
        >>> with preserve_modes(model):
        ...     model.eval()
        ...     logits = model(x)
    """
    modes = [(m, m.training) for m in model.modules()]
    try:
        yield
    finally:
        for module, training in modes:
            module.training = training


def device_of(model: nn.Module) -> torch.device:
    """The device of the model's first parameter (CPU for a model without parameters)."""
    first = next(model.parameters(), None)
    return first.device if first is not None else torch.device("cpu")
