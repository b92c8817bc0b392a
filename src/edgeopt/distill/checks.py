"""Checks that a teacher and a student can be distilled on some data, before training starts.

Both models run once in eval mode on two training samples: a model that cannot take the data's
inputs, logits that are not N × classes, or a student predicting another number of classes
than the teacher is a clear :class:`EdgeoptError` here rather than a shape error mid-training.
The same pass records the shapes of the hinted feature maps, to build the adapters.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn.modules.conv import _ConvNd
from torch.utils.data import Dataset

from edgeopt.distill.features import FeatureCapture
from edgeopt.errors import EdgeoptError
from edgeopt.utils.modes import preserve_modes

__all__ = ["check_same_classes", "example_inputs", "probe"]


def example_inputs(data: Dataset[Any], device: torch.device, n: int = 2) -> Tensor:
    """The inputs of the first ``n`` samples of ``data``, as one batch."""
    size = len(data)  # type: ignore[arg-type]  # map-style datasets have __len__; torch's Dataset type omits it
    if size == 0:
        raise EdgeoptError("the training data is empty")
    samples = [data[i] for i in range(min(n, size))]
    inputs = [s[0] if isinstance(s, (tuple, list)) else s for s in samples]
    return torch.stack(inputs).to(device)


def probe(
    model: nn.Module, role: str, inputs: Tensor, layers: Sequence[str] = ()
) -> tuple[int, list[tuple[int, ...]]]:
    """Run ``model`` once; return its number of classes and each hinted layer's sample shape.

    Raises:
        EdgeoptError: The model cannot run on ``inputs`` or does not return N × K logits.
    """
    with preserve_modes(model), torch.no_grad(), FeatureCapture(model, layers, role) as capture:
        model.eval()
        try:
            logits = model(inputs)
        except RuntimeError as err:
            raise _input_error(model, role, inputs, err) from err
        features = capture.outputs() if layers else []
    if not isinstance(logits, Tensor) or logits.ndim != 2:
        shape = tuple(logits.shape) if isinstance(logits, Tensor) else type(logits).__name__
        raise EdgeoptError(f"the {role} returns {shape}, not N × classes logits",
                           hint="distillation needs a classifier that outputs one logit per class")
    return int(logits.shape[-1]), [tuple(f.shape[1:]) for f in features]


def check_same_classes(student_classes: int, teacher_classes: int) -> None:
    """Raise unless the student predicts as many classes as the teacher."""
    if student_classes != teacher_classes:
        raise EdgeoptError(
            f"the student predicts {student_classes} classes but the teacher predicts {teacher_classes}",
            hint=f"build the student with num_classes={teacher_classes}",
        )


def _input_error(model: nn.Module, role: str, inputs: Tensor, err: Exception) -> EdgeoptError:
    shape = tuple(inputs.shape[1:])
    first = next((m for m in model.modules() if isinstance(m, (_ConvNd, nn.Linear))), None)
    if isinstance(first, _ConvNd) and inputs.ndim >= 3 and first.in_channels != inputs.shape[1]:
        return EdgeoptError(
            f"the {role} expects {first.in_channels} input channels but the data's inputs are {shape}",
            hint=f"use a {role} built for {inputs.shape[1]}-channel inputs",
        )
    reason = str(err).strip().splitlines()[0][:200] if str(err).strip() else type(err).__name__
    return EdgeoptError(
        f"the {role} ({type(model).__name__}) cannot run on the data's inputs of shape {shape}: {reason}",
        hint=f"use a {role} built for this data's input size and channels",
    )
