"""The pruning transforms: ``StructuredPrune`` (smaller layers) and ``MagnitudePrune`` (zeros).

Recipe steps, CLI options and lineage entries are these configs (see :mod:`edgeopt.transform`).

.. code-block:: yaml

    - type: prune.structured
      ratio: 0.5                   # fraction of channels removed
      importance: l1               # l1, l2, bn_scale, taylor (scored on 256 training images)
      scope: uniform               # or global
      round_to: 8                  # keep channel counts multiples of 8
      fine_tune: {epochs: 3, lr: 1.0e-3}
      rounds: 1                    # > 1: prune → fine-tune in rounds (needs fine_tune)
    - type: prune.magnitude
      sparsity: 0.8                # or threshold: 1.0e-3
      scope: global                # or layer
      schedule: gradual            # prune → fine-tune in `pruning_steps` steps (Zhu & Gupta)
      pruning_steps: 4
      fine_tune: {epochs: 1}
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Literal

from pydantic import Field, model_validator
from torch import Tensor, nn

from edgeopt.train import TrainConfig, fit
from edgeopt.transform import Inputs, Result, Transform, register_transform

# The data-driven criterion (taylor) scores channels on this many training samples.
IMPORTANCE_SAMPLES = 256


@register_transform
class StructuredPrune(Transform):
    """Remove whole channels and rebuild smaller layers (:func:`edgeopt.prune.structured`).

    BatchNorm statistics are re-estimated on the training data after pruning (stale statistics
    alone take a pruned model to chance accuracy), then the model is fine-tuned if asked.
    """

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
    def _rounds_need_training(self) -> StructuredPrune:
        if self.rounds > 1 and self.fine_tune is None:
            raise ValueError("rounds > 1 prunes and fine-tunes in turn: give fine_tune")
        return self

    def apply(self, model: nn.Module, inputs: Inputs) -> Result:
        from edgeopt.data import calibration_subset
        from edgeopt.prune.bn_recalibration import recalibrate_batchnorm
        from edgeopt.prune.channel_pruning import structured_with_report
        from edgeopt.prune.importance import check_criterion
        from edgeopt.prune.iterative import iterative_structured

        check_criterion(self.importance)
        before = {k: tuple(v.shape) for k, v in model.state_dict().items()}
        needs_data = self.importance == "taylor" or self.fine_tune is not None
        data = inputs.need_data(f"{self.type} with {self.importance} importance or fine_tune") if needs_data \
            else inputs.data
        scoring = calibration_subset(data.train, IMPORTANCE_SAMPLES) if self.importance == "taylor" and data else None
        options: dict[str, Any] = {"importance": self.importance, "scope": self.scope, "round_to": self.round_to,
                                   "exclude": self.exclude}
        report: dict[str, Any] = {}
        if self.fine_tune is not None and data is not None:
            small, report["rounds"] = iterative_structured(
                model, self.ratio, inputs.example, data.train, data.val, self.fine_tune, rounds=self.rounds,
                importance_data=scoring, **options)
        else:
            small, pruning = structured_with_report(model, self.ratio, inputs.example, data=scoring, **options)
            report["pruning"] = pruning.to_dict()
            if data is not None:
                recalibrate_batchnorm(small, data.train)
        shapes = {k: list(v.shape) for k, v in small.state_dict().items() if before.get(k) != tuple(v.shape)}
        return Result(model=small, record={"shapes": shapes}, report=report)

    def replay(self, model: nn.Module, record: Mapping[str, Any], example: Tensor) -> nn.Module:
        """Resize the layers to the recorded shapes."""
        from edgeopt.prune.rebuild import resize_like

        return resize_like(model, record.get("shapes") or {})


@register_transform
class MagnitudePrune(Transform):
    """Zero the smallest weights (unstructured), optionally fine-tune, then make the zeros permanent.

    The zeros make a smaller compressed file, not a faster dense model (DESIGN.md, principle 2):
    ``sparsity`` and ``compressed_bytes`` are reported.
    """

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
    def _one_amount(self) -> MagnitudePrune:
        if (self.sparsity is None) == (self.threshold is None):
            raise ValueError("give exactly one of sparsity or threshold")
        if self.schedule == "gradual" and (self.sparsity is None or self.fine_tune is None):
            raise ValueError("schedule: gradual needs sparsity and fine_tune")
        return self

    def apply(self, model: nn.Module, inputs: Inputs) -> Result:
        from edgeopt import prune

        report: dict[str, Any] = {}
        if self.schedule == "gradual":
            assert self.sparsity is not None and self.fine_tune is not None  # checked on validation
            data = inputs.need_data("gradual magnitude pruning")
            model, report["schedule"] = prune.gradual_magnitude(
                model, data.train, data.val, final_sparsity=self.sparsity, initial_sparsity=self.initial_sparsity,
                steps=self.pruning_steps, config=self.fine_tune, scope=self.scope, exclude=self.exclude)
        else:
            model = prune.magnitude(model, self.sparsity, threshold=self.threshold, scope=self.scope,
                                    exclude=self.exclude)
            if self.fine_tune is not None:
                data = inputs.need_data("fine-tuning")
                report["fine_tune"] = fit(model, data.train, data.val, self.fine_tune).to_dict()
        model = prune.finalize(model)
        sparsity = prune.sparsity_report(model)
        report["sparsity"] = sparsity.to_dict()
        return Result(model=model, report=report,
                      metrics={"sparsity": sparsity.total_sparsity, "compressed_bytes": sparsity.compressed_bytes})
