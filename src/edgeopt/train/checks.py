"""Diagnosis of data that doesn't fit the model: empty data, out-of-range labels, wrong shapes."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn
from torch.nn.modules.conv import _ConvNd
from torch.utils.data import Dataset

from edgeopt.errors import EdgeoptError
from edgeopt.utils.modes import preserve_modes


def _require_nonempty(data: Dataset[Any], what: str) -> None:
    if len(data) == 0:  # type: ignore[arg-type]  # map-style datasets have __len__; torch's Dataset type omits it
        raise EdgeoptError(f"the {what} data is empty")


def _is_class_labels(targets: Tensor) -> bool:
    return targets.ndim == 1 and not targets.dtype.is_floating_point and targets.numel() > 0


def _check_labels(targets: Tensor, num_classes: int, what: str) -> None:
    error = _label_error(targets, num_classes, what)
    if error is not None:
        raise error


def _label_error(targets: Tensor, num_classes: int, what: str) -> EdgeoptError | None:
    if not _is_class_labels(targets):
        return None
    top = int(targets.max())
    if top < num_classes:
        return None
    return EdgeoptError(
        f"the {what} data has label {top} but the model outputs only {num_classes} classes",
        hint=f"build the model with num_classes={top + 1}",
    )


def _diagnose(
    model: nn.Module, inputs: Tensor, targets: Tensor | None, err: Exception
) -> EdgeoptError:
    """Turn a failure on the first batch into an error that says what doesn't match."""
    first = next((m for m in model.modules() if isinstance(m, (_ConvNd, nn.Linear))), None)
    if isinstance(first, _ConvNd) and inputs.ndim >= 3:
        expected, actual = first.in_channels, inputs.shape[1]
        if expected != actual:
            return EdgeoptError(
                f"the model expects {expected} input channels but the data has {actual} "
                f"(batch shape {tuple(inputs.shape)})",
                hint=f"build the model with in_chans={actual}",
            )
    if isinstance(first, nn.Linear) and inputs.ndim == 2 and first.in_features != inputs.shape[1]:
        return EdgeoptError(
            f"the model expects {first.in_features} input features but the data has "
            f"{inputs.shape[1]} (batch shape {tuple(inputs.shape)})",
            hint="build the model for the data's input size",
        )
    if targets is not None:
        try:  # the forward may work and the loss fail on a label the logits don't cover
            with preserve_modes(model), torch.no_grad():
                model.eval()
                num_classes = model(inputs[:2]).shape[-1]
        except RuntimeError:
            num_classes = None  # the forward itself fails: give the general message
        label_error = num_classes and _label_error(targets, num_classes, "training")
        if label_error:
            return label_error
    return EdgeoptError(
        f"{type(model).__name__} failed on the first batch (shape {tuple(inputs.shape)}): {err}",
        hint="check that the model was built for this data (input channels, image size, classes)",
    )
