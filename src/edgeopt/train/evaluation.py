"""Eager-mode inference: :func:`evaluate` (accuracy and loss) and :func:`predict` (logits)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset, TensorDataset

from edgeopt.errors import EdgeoptError
from edgeopt.train.checks import _check_labels, _diagnose, _require_nonempty
from edgeopt.utils.modes import device_of, preserve_modes

__all__ = ["EvalResult", "evaluate", "predict"]


@dataclass
class EvalResult:
    """Accuracy (0..1) and mean cross-entropy loss over ``n`` samples."""

    accuracy: float
    loss: float
    n: int

    def to_dict(self) -> dict[str, Any]:
        """Plain, JSON-serialisable form (for results.json)."""
        return asdict(self)


def evaluate(model: nn.Module, data: Dataset[Any], batch_size: int = 512) -> EvalResult:
    """Accuracy and cross-entropy of ``model`` on ``data``, in eval mode, without gradients.

    Each module's train/eval mode is restored afterwards.

    Example:
        >>> evaluate(model, splits.test).accuracy
        0.97
    """
    logits, targets = _infer(model, data, batch_size)
    if targets is None:
        raise EdgeoptError("the evaluation data has no labels", hint="use predict() for logits")
    _check_labels(targets, logits.shape[-1], "evaluation")
    correct = (logits.argmax(dim=-1) == targets).sum().item()
    return EvalResult(
        accuracy=correct / len(targets),
        loss=F.cross_entropy(logits, targets).item(),
        n=len(targets),
    )


def predict(model: nn.Module, data: Dataset[Any] | Tensor, batch_size: int = 512) -> Tensor:
    """Logits of ``model`` for every sample of ``data`` (a dataset or a batch tensor), in order.

    Example:
        >>> predict(model, torch.randn(4, 1, 8, 8)).shape
        torch.Size([4, 10])
    """
    logits, _ = _infer(model, data, batch_size)
    return logits


# --- inference internals ------------------------------------------------------------------------


def _infer(
    model: nn.Module, data: Dataset[Any] | Tensor, batch_size: int
) -> tuple[Tensor, Tensor | None]:
    """Logits (and labels, if the data has them) for all of ``data`` in eval mode."""
    if isinstance(data, Tensor):
        data = TensorDataset(data)
    _require_nonempty(data, "evaluation")
    loader = DataLoader(data, batch_size=batch_size, shuffle=False)
    device = device_of(model)
    chunks: list[Tensor] = []
    labels: list[Tensor] = []
    with preserve_modes(model), torch.inference_mode():
        model.eval()
        for batch in loader:
            # Datasets yield (input, label) pairs, (input,) from TensorDataset(x), or bare inputs.
            inputs = (batch[0] if isinstance(batch, (list, tuple)) else batch).to(device)
            try:
                chunks.append(model(inputs))
            except RuntimeError as err:
                if chunks:
                    raise
                raise _diagnose(model, inputs, None, err) from err
            if isinstance(batch, (list, tuple)) and len(batch) > 1:
                labels.append(batch[1])
    # Concatenating outside inference mode gives normal tensors, usable later with autograd.
    logits = torch.cat(chunks).cpu()
    return logits, (torch.cat(labels) if labels else None)
