"""Profiler results: one :class:`LayerCost` per executed op, one :class:`ModelProfile` in all."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


def _listify(shape: Any) -> Any:
    """Shapes as (nested) lists, for JSON."""
    if isinstance(shape, (tuple, list)):
        return [_listify(s) for s in shape]
    return shape


@dataclass
class LayerCost:
    """Cost of one executed operation (a module call or a functional op) for the given batch.

    Attributes:
        name: Readable, unique row name: the module path (``features.3.conv``) or, for a
            functional op, the enclosing module path plus the op (``layers.2.add``).
        op_type: ``Conv2d``, ``Conv2d(dw)``, ``Conv2d(grouped)``, ``Linear``, ``BatchNorm2d``,
            ``ReLU``, ``add``, ``cat``, ``matmul``, ...
        output_shape: Shape of the output tensor; a tuple of shapes if the op returns several.
        params: Parameters this row uses that no earlier row used (so shared weights count once).
        macs: Multiply-adds (convs, linears, matmuls only; see the module docstring).
        activation_bytes: Bytes of its output tensors.
        flops_other: Non-MAC element-wise work (activations, norms, adds, pooling, bias adds).
        alias: True if the outputs share storage with an input (a view or an in-place op),
            so the row adds nothing to activation memory.
        input_bytes: Bytes of the activations it reads (the model input or earlier rows'
            outputs; parameters and buffers excluded), counted like ``activation_bytes``.
            The roofline estimates in :mod:`edgeopt.devices` need it for memory traffic.
    """

    name: str
    op_type: str
    output_shape: tuple[Any, ...]
    params: int
    macs: int
    activation_bytes: int
    flops_other: int = 0
    alias: bool = False
    input_bytes: int = 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form of the row."""
        row = asdict(self)
        row["output_shape"] = _listify(self.output_shape)
        return row


@dataclass
class ModelProfile:
    """Exact cost profile of a model for one input size.

    Attributes:
        macs: Total multiply-adds for the given batch.
        params: Unique parameters of the model (shared ones once; BatchNorm affine included).
        param_bytes: Bytes of those parameters.
        buffers_bytes: Bytes of the model's buffers (BatchNorm running statistics, ...).
        peak_activation_bytes: Largest sum of live activation bytes during one forward.
        peak_layer: Row (or input) at which that peak occurs.
        input_size: Shape of the example input (a tuple of shapes for several inputs).
        layers: One row per executed op, in execution order.
        flops_other: Total non-MAC element-wise work.
        method: ``"fx"`` or ``"export"``: which tracer produced the graph.
    """

    macs: int
    params: int
    param_bytes: int
    buffers_bytes: int
    peak_activation_bytes: int
    peak_layer: str
    input_size: tuple[Any, ...]
    layers: list[LayerCost] = field(default_factory=list)
    flops_other: int = 0
    method: str = "fx"

    def macs_by_op_type(self) -> dict[str, int]:
        """MACs summed per op type, largest first (types without MACs are left out).

        Example:
            >>> profile(MobileNetV1()).macs_by_op_type()  # doctest: +SKIP
            {'Conv2d': 545..., 'Conv2d(dw)': 17..., 'Linear': 1024000}
        """
        totals: dict[str, int] = {}
        for layer in self.layers:
            if layer.macs:
                totals[layer.op_type] = totals.get(layer.op_type, 0) + layer.macs
        return dict(sorted(totals.items(), key=lambda item: -item[1]))

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form: totals, MACs per op type, and one dict per row."""
        return {
            "macs": self.macs,
            "params": self.params,
            "param_bytes": self.param_bytes,
            "buffers_bytes": self.buffers_bytes,
            "peak_activation_bytes": self.peak_activation_bytes,
            "peak_layer": self.peak_layer,
            "flops_other": self.flops_other,
            "input_size": _listify(self.input_size),
            "method": self.method,
            "macs_by_op_type": self.macs_by_op_type(),
            "layers": [layer.to_dict() for layer in self.layers],
        }
