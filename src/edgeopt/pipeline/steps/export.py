"""``export``: write the candidate's model as ONNX and/or ExecuTorch ``.pte``, parity-checked.

Adds the files to the candidate (no new candidate). A quantized candidate already has its int8
file (made by its quantize step); export the float candidate it came from instead.

.. code-block:: yaml

    - type: export
      input: baseline              # the fp32 reference artifact
      formats: [onnx, executorch]
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import Field

from edgeopt.errors import EdgeoptError
from edgeopt.pipeline.context import StepContext, StepOutput
from edgeopt.pipeline.registry import StepConfig, register_step

SUFFIXES = {"onnx": ".onnx", "executorch": ".pte"}


@register_step
class ExportStep(StepConfig):
    """Export with :func:`edgeopt.export.onnx` / :func:`edgeopt.export.executorch`."""

    type: Literal["export"] = "export"
    formats: list[Literal["onnx", "executorch"]] = Field(default_factory=lambda: ["onnx"], min_length=1)
    parity_samples: int = Field(default=64, ge=1, description="test images the parity check runs")

    makes_candidate: ClassVar[bool] = False

    def run(self, ctx: StepContext) -> StepOutput:
        cand = ctx.input
        if cand.is_quantized:
            raise EdgeoptError(
                f"candidate {cand.name!r} is quantized: its int8 file was written by its quantize step",
                hint=f"export the float candidate instead (input: {cand.parent})")
        model = ctx.input_model()
        for fmt in dict.fromkeys(self.formats):
            path = ctx.step_dir / f"{cand.name}{SUFFIXES[fmt]}"
            cand = cand.with_artifact(artifact_entry(self._export(fmt, model, ctx, path), ctx))
        return StepOutput(cand)

    def _export(self, fmt: str, model: Any, ctx: StepContext, path: Path) -> Any:
        from edgeopt import export

        if fmt == "onnx":
            parity = ctx.data.test.tensors[0][: self.parity_samples]
            return export.onnx(model, ctx.example_input, path, parity_data=parity)
        return export.executorch(model, ctx.example_input, path)


def artifact_entry(artifact: Any, ctx: StepContext) -> dict[str, Any]:
    """An ``Artifact`` as results.json records it: path relative to the run dir, no measurements yet."""
    entry = artifact.to_dict()
    entry.update(path=ctx.relative(Path(artifact.path)), measurements=[])
    return entry
