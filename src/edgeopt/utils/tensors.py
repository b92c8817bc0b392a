"""Tensors inside nested model outputs (tuples, lists, dicts)."""

from __future__ import annotations

from typing import Any

from torch import Tensor


def flat_tensors(value: Any) -> list[Tensor]:
    """Every tensor in a (nested) value, depth first, dicts in insertion order.

    Example:
        >>> [t.shape for t in flat_tensors({"logits": torch.zeros(2, 10), "aux": (torch.zeros(2),)})]
        [torch.Size([2, 10]), torch.Size([2])]
    """
    if isinstance(value, Tensor):
        return [value]
    if isinstance(value, (list, tuple)):
        return [t for v in value for t in flat_tensors(v)]
    if isinstance(value, dict):
        return [t for v in value.values() for t in flat_tensors(v)]
    return []
