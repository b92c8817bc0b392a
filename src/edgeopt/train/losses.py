"""Training losses: the :class:`LossFn` protocol and the default cross-entropy loss."""

from __future__ import annotations

from typing import NamedTuple, Protocol

import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["LossFn", "LossOutput", "cross_entropy_loss"]


class LossOutput(NamedTuple):
    """What a :class:`LossFn` returns: the scalar loss to minimise and the model's logits."""

    loss: Tensor
    logits: Tensor


class LossFn(Protocol):
    """Runs the model on a batch and returns ``(loss, logits)``.

    The loss runs the forward pass itself so that distillation can run a teacher beside the
    student and QAT can wrap the model; the logits are used for the training accuracy.

    Example:
        >>> def my_loss(model, inputs, targets):
        ...     logits = model(inputs)
        ...     return LossOutput(F.cross_entropy(logits, targets), logits)
    """

    def __call__(self, model: nn.Module, inputs: Tensor, targets: Tensor) -> LossOutput: ...


def cross_entropy_loss(label_smoothing: float = 0.0) -> LossFn:
    """The default loss: cross-entropy on the model's logits, with optional label smoothing.

    Example:
        >>> loss, logits = cross_entropy_loss(0.1)(model, inputs, targets)
    """

    def loss_fn(model: nn.Module, inputs: Tensor, targets: Tensor) -> LossOutput:
        logits = model(inputs)
        return LossOutput(F.cross_entropy(logits, targets, label_smoothing=label_smoothing), logits)

    return loss_fn
