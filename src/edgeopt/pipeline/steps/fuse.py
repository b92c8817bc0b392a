"""``fuse``: fold BatchNorm into the conv/linear before it (:func:`edgeopt.fuse.fuse_with_report`).

.. code-block:: yaml

    - type: fuse
"""

from __future__ import annotations

from typing import Any, Literal

from torch import Tensor, nn

from edgeopt.pipeline.context import StepContext, StepOutput
from edgeopt.pipeline.registry import StepConfig, register_step


@register_step
class FuseStep(StepConfig):
    """Fuse conv+BN(+activation) and linear+BN; the result is checked against the input."""

    type: Literal["fuse"] = "fuse"

    def run(self, ctx: StepContext) -> StepOutput:
        from edgeopt.fuse import fuse_with_report

        fused, report = fuse_with_report(ctx.input_model(), ctx.example_input)
        return StepOutput(ctx.derive(fused), details={"fusion": report.to_dict()})

    def rebuild(self, model: nn.Module, state: dict[str, Any], example_input: Tensor) -> nn.Module:
        """Fuse again: which layers fold depends on the graph only, never on the weights."""
        from edgeopt.fuse import fuse
        from edgeopt.pipeline.rebuild import conform_to_state

        return conform_to_state(fuse(model, example_input), state)
