"""The training transform: ``Train`` fine-tunes a model with the one training loop.

.. code-block:: yaml

    - type: train                 # fine-tune the previous candidate
      train: {epochs: 3, lr: 1.0e-3}

A recipe step may start it from a new model (``model: {source: ..., kwargs: ...}``, e.g. a
distillation teacher); that option belongs to the step, like ``input``, not to the transform.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field
from torch import nn

from edgeopt.train.config import TrainConfig
from edgeopt.train.loop import fit
from edgeopt.transform import Inputs, Result, Transform, register_transform


@register_transform
class Train(Transform):
    """Train with :func:`edgeopt.train.fit` (AdamW/SGD, cosine schedule, best epoch restored)."""

    type: Literal["train"] = "train"
    train: TrainConfig = Field(default_factory=TrainConfig)

    trains: ClassVar[bool] = True

    def apply(self, model: nn.Module, inputs: Inputs) -> Result:
        data = inputs.need_data("training")
        result = fit(model, data.train, data.val, self.train)
        return Result(model=model, report={"train": result.to_dict()},
                      metrics={"best_val_accuracy": result.best_val_acc})
