"""``prune.magnitude``: zero the smallest weights (unstructured), optionally fine-tune, finalize.

The zeros make a smaller compressed file, not a faster dense model (DESIGN.md, principle 2):
``sparsity`` and ``compressed_bytes`` land in the candidate's metrics.

.. code-block:: yaml

    - type: prune.magnitude
      sparsity: 0.8
      scope: global                # or layer
      fine_tune: {epochs: 2, lr: 1.0e-3}     # masks stay applied while training
    - type: prune.magnitude
      sparsity: 0.9
      schedule: gradual            # prune → fine-tune in `pruning_steps` steps (Zhu & Gupta)
      pruning_steps: 4
      fine_tune: {epochs: 1}
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field, model_validator

from edgeopt.pipeline.context import StepContext, StepOutput
from edgeopt.pipeline.registry import StepConfig, register_step
from edgeopt.train import TrainConfig


@register_step
class MagnitudePruneStep(StepConfig):
    """Magnitude pruning via :func:`edgeopt.prune.magnitude` / :func:`edgeopt.prune.gradual_magnitude`."""

    type: Literal["prune.magnitude"] = "prune.magnitude"
    sparsity: float | None = Field(default=None, gt=0, lt=1)
    threshold: float | None = Field(default=None, ge=0)
    scope: Literal["global", "layer"] = "global"
    exclude: list[str] | None = None
    schedule: Literal["oneshot", "gradual"] = "oneshot"
    initial_sparsity: float = Field(default=0.0, ge=0, lt=1)
    pruning_steps: int = Field(default=5, ge=1)
    fine_tune: TrainConfig | None = None

    trains: ClassVar[bool] = True

    @model_validator(mode="after")
    def _one_amount(self) -> MagnitudePruneStep:
        if (self.sparsity is None) == (self.threshold is None):
            raise ValueError("give exactly one of sparsity or threshold")
        if self.schedule == "gradual" and (self.sparsity is None or self.fine_tune is None):
            raise ValueError("schedule: gradual needs sparsity and fine_tune")
        return self

    def run(self, ctx: StepContext) -> StepOutput:
        from edgeopt import prune
        from edgeopt.train import fit

        model = ctx.input_model()
        details: dict[str, Any] = {}
        if self.schedule == "gradual":
            assert self.sparsity is not None
            model, details["schedule"] = prune.gradual_magnitude(
                model, ctx.data.train, ctx.data.val, final_sparsity=self.sparsity,
                initial_sparsity=self.initial_sparsity, steps=self.pruning_steps, config=self.fine_tune,
                scope=self.scope, exclude=self.exclude)
        else:
            model = prune.magnitude(model, self.sparsity, threshold=self.threshold, scope=self.scope,
                                    exclude=self.exclude)
            if self.fine_tune is not None:
                details["fine_tune"] = fit(model, ctx.data.train, ctx.data.val, self.fine_tune).to_dict()
        model = prune.finalize(model)
        report = prune.sparsity_report(model)
        details["sparsity"] = report.to_dict()
        return StepOutput(ctx.derive(model), details=details,
                          metrics={"sparsity": report.total_sparsity, "compressed_bytes": report.compressed_bytes})
