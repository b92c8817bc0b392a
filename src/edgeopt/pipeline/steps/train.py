"""``train``: fine-tune the input candidate, or train a new model (e.g. a distillation teacher).

.. code-block:: yaml

    - type: train                 # fine-tune the previous candidate
      train: {epochs: 3, lr: 1.0e-3}
    - type: train                 # a new root model, here a wider teacher
      name: teacher
      model: {source: mobilenet_v1, kwargs: {width_mult: 1.0, stem_stride: 1}}
      train: {epochs: 20, lr: 5.0e-3, augment_shift: 1}
"""

from __future__ import annotations

from typing import ClassVar, Literal

from edgeopt.pipeline.context import StepContext, StepOutput
from edgeopt.pipeline.registry import StepConfig, register_step
from edgeopt.pipeline.sources import ModelSource
from edgeopt.train import TrainConfig


@register_step
class TrainStep(StepConfig):
    """Train with :func:`edgeopt.train.fit`: the input's model, or a fresh ``model``."""

    type: Literal["train"] = "train"
    model: ModelSource | None = None
    train: TrainConfig

    trains: ClassVar[bool] = True

    def run(self, ctx: StepContext) -> StepOutput:
        from edgeopt.train import fit, seed_everything

        if self.model is None:
            model = ctx.input_model()
            changes = {}
        else:
            seed_everything(self.train.seed)  # the initial weights too, so a run is repeatable
            model, kwargs = self.model.build(ctx.data)
            entry = {"step": self.type, "name": ctx.name, "config": self.model_dump(mode="json")}
            # A new model starts a lineage of its own: it was not made from the input.
            changes = {"parent": None, "lineage": (entry,), "model_info": self.model.info(kwargs)}
        result = fit(model, ctx.data.train, ctx.data.val, self.train)
        return StepOutput(ctx.derive(model, **changes), details={"train": result.to_dict()},
                          metrics={"best_val_accuracy": result.best_val_acc})
