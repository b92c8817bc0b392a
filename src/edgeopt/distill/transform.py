"""The distillation transform: ``Distill`` trains the input model as the student of a teacher.

The teacher is another model: in a recipe an earlier candidate (e.g. a ``train`` step with its own
``model``) or a model file; on the command line a model file.

.. code-block:: yaml

    - type: distill
      teacher: teacher             # a candidate name, or a path to a model file
      temperature: 4.0
      alpha: 0.7
      train: {epochs: 5, lr: 2.0e-3}
      features: ["features.6:features.6"]     # optional hint layers, teacher:student
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field
from torch import nn

from edgeopt.loading import is_model_file
from edgeopt.train import TrainConfig
from edgeopt.transform import Inputs, Result, Transform, register_transform


@register_transform
class Distill(Transform):
    """Knowledge distillation (:func:`edgeopt.distill.distill`); the architecture is unchanged."""

    type: Literal["distill"] = "distill"
    teacher: str = Field(min_length=1)
    temperature: float = Field(default=4.0, gt=0)
    alpha: float = Field(default=0.7, ge=0, le=1)
    features: list[str] | None = None
    feature_weight: float = Field(default=1.0, ge=0)
    train: TrainConfig = Field(default_factory=TrainConfig)

    trains: ClassVar[bool] = True

    def references(self) -> dict[str, str]:
        """The teacher, when it names a model rather than a file."""
        return {} if is_model_file(self.teacher) else {"teacher": self.teacher}

    def apply(self, model: nn.Module, inputs: Inputs) -> Result:
        from edgeopt.distill.trainer import distill

        data = inputs.need_data("distillation")
        teacher = inputs.model_named(self.teacher)
        result = distill(model, teacher, data.train, data.val, self.train, temperature=self.temperature,
                         alpha=self.alpha, features=self.features, feature_weight=self.feature_weight)
        return Result(model=result.model, report={"distill": result.to_dict()},
                      metrics={"best_val_accuracy": result.train_result.best_val_acc})
