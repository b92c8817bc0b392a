"""The frozen teacher: its logits and aligned feature targets for a batch, optionally cached.

The teacher is a private deep copy of the caller's model, switched to eval mode once (BatchNorm
uses its running statistics, dropout is off) with ``requires_grad`` off, and always run under
``torch.no_grad()``: training the student can neither change nor backpropagate into it.

Example:
    >>> targets = FrozenTeacher(teacher, hint_layers=["features.6"], sizes=[(7, 7)], cache=True)
    >>> logits, features = targets(inputs)
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from edgeopt.distill.cache import ContentCache
from edgeopt.distill.features import FeatureCapture, pool_to

__all__ = ["FrozenTeacher", "frozen_copy"]


def frozen_copy(model: nn.Module, device: torch.device | None = None) -> nn.Module:
    """A deep copy of ``model`` in eval mode with gradients off; ``model`` is untouched."""
    teacher = copy.deepcopy(model)
    if device is not None:
        teacher = teacher.to(device)
    teacher.eval()
    for param in teacher.parameters():
        param.requires_grad_(False)
    return teacher


class FrozenTeacher:
    """Computes (logits, feature targets) of a frozen teacher for a batch of inputs.

    Args:
        teacher: A model from :func:`frozen_copy` (eval mode, no gradients).
        hint_layers: Teacher module names whose outputs are feature targets.
        sizes: Per hint, the H × W the teacher map is pooled to (None: leave as is).
        cache: Keep outputs per input sample (:class:`ContentCache`), for data without
            augmentation; ``max_cache_bytes`` bounds its memory.
    """

    def __init__(
        self,
        teacher: nn.Module,
        hint_layers: Sequence[str] = (),
        sizes: Sequence[tuple[int, int] | None] = (),
        *,
        cache: bool = False,
        max_cache_bytes: int = 2**30,
    ) -> None:
        self.model = teacher
        self._layers = list(hint_layers)
        self._sizes = list(sizes) if sizes else [None] * len(self._layers)
        self.cache = ContentCache(max_cache_bytes) if cache else None
        self.forward_batches = 0  # teacher forward passes actually run

    def __call__(self, inputs: Tensor) -> tuple[Tensor, list[Tensor]]:
        """The teacher's logits and its feature targets for ``inputs``; no gradients."""
        if self.cache is None:
            return self._run(inputs)
        keys = self.cache.keys(inputs)
        stored = self.cache.get(keys)
        if stored is not None:
            return stored[0], stored[1:]
        logits, features = self._run(inputs)
        self.cache.put(keys, [logits, *features])
        return logits, features

    def _run(self, inputs: Tensor) -> tuple[Tensor, list[Tensor]]:
        self.forward_batches += 1
        with torch.no_grad(), FeatureCapture(self.model, self._layers, "teacher") as capture:
            logits = self.model(inputs)
            features = capture.outputs() if self._layers else []
        return logits, [pool_to(f, size) for f, size in zip(features, self._sizes, strict=True)]

    def stats(self) -> dict[str, int | bool | None]:
        """Forward passes run, and the cache's hits, misses, samples and bytes (None: no cache)."""
        c = self.cache
        return {
            "teacher_forward_batches": self.forward_batches,
            "cache_hits": c.hits if c else None,
            "cache_misses": c.misses if c else None,
            "cached_samples": len(c) if c else None,
            "cache_bytes": c.nbytes if c else None,
            "cache_full": c.full if c else None,
        }
