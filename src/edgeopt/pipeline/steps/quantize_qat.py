"""``quantize.qat``: quantization-aware training into an int8 artifact (:func:`edgeopt.quantize.qat`).

.. code-block:: yaml

    - type: quantize.qat
      backend: onnxruntime         # or executorch (.pte)
      train: {epochs: 2, lr: 1.0e-4}
      calibration_samples: 256     # observers start from these images' ranges
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from edgeopt.pipeline.context import StepContext, StepOutput
from edgeopt.pipeline.registry import StepConfig, register_step
from edgeopt.pipeline.steps.quantize_ptq import INT8_SUFFIXES, check_float, quantized_output
from edgeopt.train import TrainConfig


@register_step
class QatStep(StepConfig):
    """Fine-tune with fake quantization, then export the int8 artifact and measure it."""

    type: Literal["quantize.qat"] = "quantize.qat"
    backend: Literal["onnxruntime", "executorch"] = "onnxruntime"
    train: TrainConfig = Field(default_factory=lambda: TrainConfig(epochs=2, lr=1e-4))
    calibration_samples: int = Field(default=256, ge=1)

    trains: ClassVar[bool] = True

    def run(self, ctx: StepContext) -> StepOutput:
        from edgeopt import quantize
        from edgeopt.data import calibration_subset

        check_float(ctx)
        path = ctx.step_dir / f"{ctx.name}{INT8_SUFFIXES[self.backend]}"
        calib = calibration_subset(ctx.data.train, self.calibration_samples, seed=0)
        result = quantize.qat(ctx.input_model(), ctx.data.train, ctx.data.val, self.train,
                              backend=self.backend, path=path, eval_data=ctx.data.test, calibration_data=calib)
        return quantized_output(ctx, result)
