"""``prune.structured``: remove whole channels and rebuild smaller layers, optionally fine-tune.

.. code-block:: yaml

    - type: prune.structured
      ratio: 0.5                   # fraction of channels removed
      importance: l1
      scope: uniform               # or global
      round_to: 8                  # keep channel counts multiples of 8
      fine_tune: {epochs: 3, lr: 1.0e-3}
      rounds: 1                    # > 1: prune → fine-tune in rounds (needs fine_tune)
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field, model_validator

from edgeopt.pipeline.context import StepContext, StepOutput
from edgeopt.pipeline.registry import StepConfig, register_step
from edgeopt.train import TrainConfig

# The data-driven criterion (taylor) scores channels on this many training samples.
IMPORTANCE_SAMPLES = 256


@register_step
class StructuredPruneStep(StepConfig):
    """Channel pruning via :func:`edgeopt.prune.structured` / :func:`edgeopt.prune.iterative_structured`.

    ``importance: taylor`` scores channels on ``IMPORTANCE_SAMPLES`` training images."""

    type: Literal["prune.structured"] = "prune.structured"
    ratio: float = Field(gt=0, lt=1)
    importance: str = "l1"
    scope: Literal["uniform", "global"] = "uniform"
    round_to: int | None = Field(default=None, ge=1)
    exclude: list[str] | None = None
    rounds: int = Field(default=1, ge=1)
    fine_tune: TrainConfig | None = None

    trains: ClassVar[bool] = True

    @model_validator(mode="after")
    def _rounds_need_training(self) -> StructuredPruneStep:
        if self.rounds > 1 and self.fine_tune is None:
            raise ValueError("rounds > 1 prunes and fine-tunes in turn: give fine_tune")
        return self

    def run(self, ctx: StepContext) -> StepOutput:
        from edgeopt import prune
        from edgeopt.data import calibration_subset
        from edgeopt.train import fit

        model = ctx.input_model()
        details: dict[str, Any] = {}
        options = {"importance": self.importance, "scope": self.scope, "round_to": self.round_to,
                   "exclude": self.exclude}
        if self.rounds > 1:
            model, details["rounds"] = prune.iterative_structured(
                model, self.ratio, ctx.example_input, ctx.data.train, ctx.data.val, self.fine_tune,
                rounds=self.rounds, **options)
        else:
            from edgeopt.prune.structured import structured_with_report

            scoring = calibration_subset(ctx.data.train, IMPORTANCE_SAMPLES) if self.importance == "taylor" else None
            model, report = structured_with_report(model, self.ratio, ctx.example_input, data=scoring, **options)
            details["pruning"] = report.to_dict()
            from edgeopt.prune.bn_recalibration import recalibrate_batchnorm

            recalibrate_batchnorm(model, ctx.data.train)  # stale BN statistics alone give chance accuracy
            if self.fine_tune is not None:
                details["fine_tune"] = fit(model, ctx.data.train, ctx.data.val, self.fine_tune).to_dict()
        return StepOutput(ctx.derive(model), details=details)
