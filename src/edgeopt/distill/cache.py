"""A cache of the teacher's outputs keyed by the content of each input sample.

Without augmentation every epoch shows the student the same samples, only shuffled, and the
teacher (in eval mode, frozen) gives the same outputs for them: computing them once is enough.
:func:`edgeopt.train.fit` hands the loss a batch of inputs, not sample indices, so each sample is
keyed by a 128-bit BLAKE2 digest of its bytes (plus its shape and dtype). This is exact whatever
the loader does (order, batch size, a sample appearing twice): a hit means the very same input,
and the digest cannot be fooled by reshuffling. Hashing a batch of 64 MNIST images takes about
2 ms here, against ~50 ms for the forward pass of the MobileNetV1 α=0.5 teacher it replaces.

Example:
    >>> cache = ContentCache(max_bytes=2**30)
    >>> keys = cache.keys(inputs)
    >>> cache.get(keys) is None      # first epoch: a miss
    True
    >>> cache.put(keys, [logits])
    >>> cache.get(keys)[0].shape     # later epochs: the stored rows, stacked
    torch.Size([64, 10])
"""

from __future__ import annotations

import hashlib
from collections.abc import Hashable, Sequence

import torch
from torch import Tensor

__all__ = ["ContentCache"]


class ContentCache:
    """Per-sample tensors (e.g. teacher logits and features) stored under a digest of the input.

    Args:
        max_bytes: Stop storing new samples once the stored tensors reach this size; later
            batches with an unstored sample are simply misses.
    """

    def __init__(self, max_bytes: int = 2**30) -> None:
        self.max_bytes = max_bytes
        self.nbytes = 0
        self.hits = 0
        self.misses = 0
        self.full = False
        self._rows: dict[Hashable, tuple[Tensor, ...]] = {}

    def __len__(self) -> int:
        return len(self._rows)

    @staticmethod
    def keys(inputs: Tensor) -> list[Hashable]:
        """One key per sample of the batch ``inputs`` (N × ...)."""
        array = inputs.detach().cpu().contiguous().numpy()
        kind = (tuple(array.shape[1:]), str(array.dtype))
        return [(kind, hashlib.blake2b(row.tobytes(), digest_size=16).digest()) for row in array]

    def get(self, keys: Sequence[Hashable]) -> list[Tensor] | None:
        """The stored tensors of every key, stacked per field; None unless all keys are stored."""
        rows = [self._rows.get(key) for key in keys]
        stored = [row for row in rows if row is not None]
        if not rows or len(stored) < len(rows):
            self.misses += 1
            return None
        self.hits += 1
        return [torch.stack(field) for field in zip(*stored, strict=True)]  # every row has one tensor per field

    def put(self, keys: Sequence[Hashable], batch: Sequence[Tensor]) -> None:
        """Store row ``i`` of each tensor in ``batch`` under ``keys[i]`` (while there is room)."""
        batch = [t.detach() for t in batch]
        per_sample = sum(t[0].numel() * t.element_size() for t in batch) if len(keys) else 0
        for i, key in enumerate(keys):
            if key in self._rows:
                continue
            if self.nbytes + per_sample > self.max_bytes:
                self.full = True
                return
            # clone: a view would keep the whole batch tensor (and its storage) alive per row
            self._rows[key] = tuple(t[i].clone() for t in batch)
            self.nbytes += per_sample
