"""The quantization transforms: ``Ptq``, ``Qat`` and ``DynamicQuant``.

Each writes an int8 artifact and measures its accuracy on that file in its runtime; the model
itself stays the float one it came from (the int8 model *is* the artifact), so replaying them
changes nothing.

.. code-block:: yaml

    - type: quantize.ptq
      backend: onnxruntime         # int8 QDQ .onnx; or executorch (XNNPACK .pte)
      calibration: minmax          # percentile, entropy, mse, or auto (the best on held-out data)
      calibration_samples: 256
      max_drop: 0.5                # keep the fewest layers float to lose at most 0.5 points (on val)
      granularity: per_tensor      # one weight scale per tensor (MCU/NPU kernels); default per_channel
      equalize: true               # cross-layer equalization (data-free)
      bias_correction: true        # correct the mean shift of rounded weights
      weight_bits: 4               # 4-bit weights, 8-bit activations (needs per_channel)
      rounding: adaround           # learned rounding instead of nearest
    - type: quantize.qat
      backend: executorch
      train: {epochs: 2, lr: 1.0e-4}
    - type: quantize.dynamic       # int8 weights, activations quantized at run time (ONNX Runtime)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import Field, model_validator
from torch import nn

from edgeopt.artifact import artifact_suffix, format_for_runtime
from edgeopt.errors import EdgeoptError
from edgeopt.quantize.result import QuantizationResult
from edgeopt.train import TrainConfig
from edgeopt.transform import Inputs, Result, Transform, register_transform

Backend = Literal["onnxruntime", "executorch"]


def _int8_path(inputs: Inputs, backend: str) -> Path:
    return inputs.path(artifact_suffix(format_for_runtime(backend), "int8"))


@register_transform
class Ptq(Transform):
    """Static post-training int8 (:func:`edgeopt.quantize.ptq`), calibrated on training images."""

    type: Literal["quantize.ptq"] = "quantize.ptq"
    backend: Backend = "onnxruntime"
    calibration: str = "minmax"
    calibration_samples: int = Field(default=256, ge=1)
    max_drop: float | None = Field(default=None, ge=0, description="accuracy points allowed to be lost")
    # The file must match its own int8 simulation within its quantization steps (selfcheck.py).
    check: bool = True
    granularity: Literal["per_channel", "per_tensor"] = "per_channel"
    equalize: bool = False
    bias_correction: bool = False
    weight_bits: Literal[8, 4] = 8
    rounding: Literal["nearest", "adaround"] = "nearest"
    # Validation inputs the per-layer diff of the file compares on (0: no diff).
    diff_samples: int = Field(default=256, ge=0)

    @model_validator(mode="after")
    def _compatible(self) -> Ptq:
        """Refuse what :func:`edgeopt.quantize.ptq` would refuse, at recipe load rather than after earlier steps."""
        from edgeopt.quantize.api import check_executorch_options
        from edgeopt.quantize.calibration import check_method
        from edgeopt.quantize.weights import check_weight_options

        try:  # the API's own checks, so the two cannot disagree; pydantic reports ValueError per field
            check_method(self.calibration)
            check_weight_options(self.weight_bits, self.granularity == "per_channel", self.rounding)
            if self.backend == "executorch":
                check_executorch_options(self.calibration, self.max_drop, self.equalize, self.bias_correction,
                                         self.weight_bits, self.rounding)
        except EdgeoptError as exc:
            raise ValueError(str(exc)) from None
        return self

    def apply(self, model: nn.Module, inputs: Inputs) -> Result:
        from edgeopt.data import calibration_subset
        from edgeopt.quantize.api import ptq

        data = inputs.need_data("post-training quantization (calibration)")
        calib = calibration_subset(data.train, self.calibration_samples, seed=0)
        result = ptq(model, calib, backend=self.backend, path=_int8_path(inputs, self.backend),
                     calibration=self.calibration, example_input=inputs.example, eval_data=data.test,
                     val_data=data.val, max_drop=self.max_drop, check=self.check,
                     per_channel=self.granularity == "per_channel", equalize=self.equalize,
                     bias_correction=self.bias_correction, weight_bits=self.weight_bits, rounding=self.rounding,
                     diff_data=_diff_inputs(data, self.diff_samples))
        return quantized(result)


@register_transform
class Qat(Transform):
    """Fine-tune with fake quantization, then write the int8 artifact (:func:`edgeopt.quantize.qat_training`)."""

    type: Literal["quantize.qat"] = "quantize.qat"
    backend: Backend = "onnxruntime"
    train: TrainConfig = Field(default_factory=lambda: TrainConfig(epochs=2, lr=1e-4))
    calibration_samples: int = Field(default=256, ge=1)

    diff_samples: int = Field(default=256, ge=0)

    trains: ClassVar[bool] = True

    def apply(self, model: nn.Module, inputs: Inputs) -> Result:
        from edgeopt.data import calibration_subset
        from edgeopt.quantize.qat_training import qat

        data = inputs.need_data("quantization-aware training")
        calib = calibration_subset(data.train, self.calibration_samples, seed=0)
        result = qat(model, data.train, data.val, self.train, backend=self.backend,
                     path=_int8_path(inputs, self.backend), eval_data=data.test, calibration_data=calib)
        diff_inputs = _diff_inputs(data, self.diff_samples)
        if diff_inputs is not None:
            from edgeopt.quantize.layer_diff import diff

            result.diff = diff(model, result.artifact, diff_inputs)
        return quantized(result)


@register_transform
class DynamicQuant(Transform):
    """int8 weights with activations quantized at run time, for ONNX Runtime (:func:`edgeopt.quantize.dynamic`)."""

    type: Literal["quantize.dynamic"] = "quantize.dynamic"
    backend: Literal["onnxruntime"] = "onnxruntime"
    per_channel: bool = True

    def apply(self, model: nn.Module, inputs: Inputs) -> Result:
        from edgeopt.quantize.api import ort_accuracy
        from edgeopt.quantize.onnx_dynamic import dynamic

        artifact = dynamic(model, _int8_path(inputs, self.backend), example_input=inputs.example,
                           per_channel=self.per_channel)
        result = QuantizationResult(artifact, self.backend, "dynamic")
        if inputs.data is not None:
            from edgeopt.train import evaluate

            result.float_accuracy = evaluate(model, inputs.data.test).accuracy
            result.int8_accuracy = ort_accuracy(artifact.path, inputs.data.test)
        return quantized(result)


def _diff_inputs(data: Any, samples: int) -> Any:
    """``samples`` validation inputs drawn across classes (None: no diff); splits keep their
    source's order, which may be sorted by class."""
    if not samples:
        return None
    from edgeopt.data.sampling import calibration_subset

    return calibration_subset(data.val, samples, seed=0).tensors[0]


def quantized(result: QuantizationResult) -> Result:
    """A :class:`~edgeopt.quantize.QuantizationResult` as a transform result: the artifact, its
    accuracy measured on the file, the float model left as it was."""
    metrics: dict[str, Any] = {"float_accuracy": result.float_accuracy, "accuracy_source": "artifact"}
    if result.int8_accuracy is not None:
        metrics["test_accuracy"] = result.int8_accuracy
    return Result(model=None, artifacts=(result.artifact,), metrics=metrics,
                  report={"quantization": result.to_dict()})
