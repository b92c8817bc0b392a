"""Size of a model's weights in memory (what a state dict of it holds)."""

from __future__ import annotations

from itertools import chain

from torch import nn


def state_dict_bytes(model: nn.Module) -> int:
    """Bytes of all parameters and buffers of ``model``, each shared tensor counted once.

    This is the in-memory weight size (BatchNorm running statistics and counters included), not
    the size of a file on disk, which adds a little container overhead.

    Example:
        >>> state_dict_bytes(nn.Linear(10, 5))  # (50 weights + 5 biases) x 4 bytes
        220
    """
    # parameters()/buffers() already skip duplicates, so tied weights are counted once.
    return sum(t.numel() * t.element_size() for t in chain(model.parameters(), model.buffers()))
