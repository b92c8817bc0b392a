"""The fusion transform: ``Fuse`` folds BatchNorm into the conv/linear before it.

.. code-block:: yaml

    - type: fuse

Which layers fold depends on the graph only, never on the weights, so replaying a fusion on a
freshly built model of the same architecture folds the same layers (checked against the record).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from torch import Tensor, nn

from edgeopt.errors import EdgeoptError
from edgeopt.transform import Inputs, Result, Transform, register_transform, traced_input


@register_transform
class Fuse(Transform):
    """Fold conv+BN(+ReLU/ReLU6), depthwise+BN and linear+BN1d; checked against the input."""

    type: Literal["fuse"] = "fuse"

    def apply(self, model: nn.Module, inputs: Inputs) -> Result:
        from edgeopt.fuse.fuser import fuse_with_report

        fused, report = fuse_with_report(model, inputs.example)
        record = {"fusions": [[f.pattern, f.into] for f in report.fused]}
        return Result(model=fused, record=record, report={"fusion": report.to_dict()})

    def replay(self, model: nn.Module, record: Mapping[str, Any], example: Tensor) -> nn.Module:
        """Fuse again and check that the same layers folded."""
        from edgeopt.fuse.fuser import fuse_with_report

        fused, report = fuse_with_report(model, traced_input(example))
        expected = record.get("fusions")
        if expected is not None and [[f.pattern, f.into] for f in report.fused] != [list(f) for f in expected]:
            raise EdgeoptError("fusing the model again folds other layers than the saved model",
                               hint="the model's code changed since the file was written")
        return fused
