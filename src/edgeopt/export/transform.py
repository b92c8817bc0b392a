"""The export transform: ``Export`` writes the model as ONNX, ExecuTorch ``.pte`` and/or OpenVINO IR, parity-checked.

It adds files to its input and makes no new model (a recipe annotates the input candidate).

.. code-block:: yaml

    - type: export
      input: baseline              # the fp32 reference artifact
      formats: [onnx, executorch]  # or openvino: model.xml + model.bin
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, field_validator
from torch import nn

from edgeopt.artifact import Artifact, artifact_suffix
from edgeopt.transform import Inputs, Result, Transform, register_transform

ExportFormat = Literal["onnx", "executorch", "openvino"]


def _onnx_only() -> list[ExportFormat]:
    return ["onnx"]


@register_transform
class Export(Transform):
    """Export with :func:`edgeopt.export.export_onnx` / ``export_executorch`` / ``export_openvino``."""

    type: Literal["export"] = "export"
    formats: list[ExportFormat] = Field(default_factory=_onnx_only, min_length=1)
    opset: int = Field(default=18, ge=18)

    @field_validator("opset")
    @classmethod
    def _known_opset(cls, opset: int) -> int:
        # torch's converter fails quietly on an opset onnx does not know and writes opset 18.
        import onnx.defs

        newest = int(onnx.defs.onnx_opset_version())
        if opset > newest:
            raise ValueError(f"opset {opset} is newer than the installed onnx knows (at most {newest})")
        return opset
    parity_samples: int = Field(default=64, ge=1, description="test images the parity check runs")

    makes_candidate: ClassVar[bool] = False

    def apply(self, model: nn.Module, inputs: Inputs) -> Result:
        return Result(artifacts=tuple(self._export(fmt, model, inputs) for fmt in dict.fromkeys(self.formats)))

    def _export(self, fmt: ExportFormat, model: nn.Module, inputs: Inputs) -> Artifact:
        from edgeopt.export import export_executorch, export_onnx, export_openvino

        path = inputs.path(artifact_suffix(fmt, "fp32"))
        if fmt == "executorch":  # a .pte's input shape is static: the example's
            return export_executorch(model, inputs.example, path)
        parity = None
        if inputs.data is not None:  # drawn across classes: a split may keep its source's class order
            from edgeopt.data.sampling import calibration_subset

            parity = calibration_subset(inputs.data.test, self.parity_samples, seed=0).tensors[0]
        if fmt == "openvino":  # through edgeopt's ONNX export at the default opset
            return export_openvino(model, inputs.example, path, parity_data=parity)
        return export_onnx(model, inputs.example, path, opset=self.opset, parity_data=parity)
