"""``quantize.ptq``: post-training int8 quantization into an artifact (:func:`edgeopt.quantize.ptq`).

The new candidate keeps the float model it came from; what it ships is the int8 file, and its
test accuracy is measured on that file in its runtime.

.. code-block:: yaml

    - type: quantize.ptq
      backend: onnxruntime         # int8 QDQ .onnx; or executorch (XNNPACK .pte)
      calibration: minmax
      calibration_samples: 256
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field

from edgeopt.errors import EdgeoptError
from edgeopt.pipeline.context import StepContext, StepOutput
from edgeopt.pipeline.registry import StepConfig, register_step
from edgeopt.pipeline.steps.export import artifact_entry

INT8_SUFFIXES = {"onnxruntime": ".int8.onnx", "executorch": ".int8.pte"}


@register_step
class PtqStep(StepConfig):
    """Static post-training quantization, calibrated on training images."""

    type: Literal["quantize.ptq"] = "quantize.ptq"
    backend: Literal["onnxruntime", "executorch"] = "onnxruntime"
    calibration: str = "minmax"
    calibration_samples: int = Field(default=256, ge=1)
    max_drop: float | None = Field(default=None, ge=0, description="accuracy points allowed to be lost")
    # ExecuTorch: the .pte must match its PT2E reference; off only for untrained models (tests).
    check: bool = True

    trains: ClassVar[bool] = False

    def run(self, ctx: StepContext) -> StepOutput:
        from edgeopt import quantize
        from edgeopt.data import calibration_subset

        check_float(ctx)
        calib = calibration_subset(ctx.data.train, self.calibration_samples, seed=0)
        path = ctx.step_dir / f"{ctx.name}{INT8_SUFFIXES[self.backend]}"
        result = quantize.ptq(ctx.input_model(), calib, backend=self.backend, path=path,
                              calibration=self.calibration, example_input=ctx.example_input,
                              eval_data=ctx.data.test, max_drop=self.max_drop, check=self.check)
        return quantized_output(ctx, result)


def check_float(ctx: StepContext) -> None:
    """Quantizing an already quantized candidate is a recipe mistake."""
    if ctx.input.is_quantized:
        raise EdgeoptError(f"candidate {ctx.input.name!r} is already quantized",
                           hint=f"quantize its float parent instead (input: {ctx.input.parent})")


def quantized_output(ctx: StepContext, result: Any) -> StepOutput:
    """The new candidate: the float model, the int8 artifact, accuracy measured on that artifact.

    ``result`` is a :class:`edgeopt.quantize.QuantizationResult`.
    """
    cand = ctx.derive(ctx.input_model(), artifacts=(artifact_entry(result.artifact, ctx),))
    metrics: dict[str, Any] = {"float_accuracy": result.float_accuracy, "accuracy_source": "artifact"}
    if result.int8_accuracy is not None:
        metrics["test_accuracy"] = result.int8_accuracy
    return StepOutput(cand, details={"quantization": result.to_dict()}, metrics=metrics)
