"""``distill``: train the candidate as a student of a teacher (:func:`edgeopt.distill.distill`).

The teacher is an earlier candidate (e.g. a ``train`` step with its own ``model``) or a
checkpoint file.

.. code-block:: yaml

    - type: distill
      teacher: teacher             # a candidate name, or a path to an edgeopt checkpoint
      temperature: 4.0
      alpha: 0.7
      train: {epochs: 5, lr: 2.0e-3}
      features: ["features.6:features.6"]     # optional hint layers, teacher:student
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import Field

from edgeopt.pipeline.context import StepContext, StepOutput
from edgeopt.pipeline.registry import StepConfig, register_step
from edgeopt.pipeline.sources import ModelSource
from edgeopt.train import TrainConfig


@register_step
class DistillStep(StepConfig):
    """Knowledge distillation of the input candidate from ``teacher``."""

    type: Literal["distill"] = "distill"
    teacher: str = Field(min_length=1)
    temperature: float = Field(default=4.0, gt=0)
    alpha: float = Field(default=0.7, ge=0, le=1)
    features: list[str] | None = None
    feature_weight: float = Field(default=1.0, ge=0)
    train: TrainConfig = Field(default_factory=TrainConfig)

    trains: ClassVar[bool] = True

    def teacher_is_file(self) -> bool:
        """True when ``teacher`` names a checkpoint file rather than a candidate."""
        return ModelSource(source=self.teacher).is_file()

    def references(self) -> dict[str, str]:
        refs = super().references()
        if not self.teacher_is_file():
            refs["teacher"] = self.teacher
        return refs

    def run(self, ctx: StepContext) -> StepOutput:
        from edgeopt.distill import distill

        teacher = self._teacher(ctx)
        result = distill(ctx.input_model(), teacher, ctx.data.train, ctx.data.val, self.train,
                         temperature=self.temperature, alpha=self.alpha, features=self.features,
                         feature_weight=self.feature_weight)
        return StepOutput(ctx.derive(result.model), details={"distill": result.to_dict()},
                          metrics={"best_val_accuracy": result.train_result.best_val_acc})

    def _teacher(self, ctx: StepContext) -> Any:
        if not self.teacher_is_file():
            return ctx.model_of(self.teacher)
        from edgeopt.models import load_model

        return load_model(str(Path(self.teacher)))
