"""Per-layer work and memory traffic of a profile at a precision: the roofline's two inputs.

Conventions (docs/devices.md):

* Operations: 2 per MAC (one multiply, one add), because device peaks are quoted in FLOP/s or
  OP/s that count them so. Element-wise work (``flops_other``) is left out: those layers move
  several bytes per operation, far below every catalog device's ridge point, so their time is
  set by memory traffic anyway.
* Bytes moved: the layer's weights + the activations it reads + the activations it writes, each
  element at the precision's size (fp32 4, fp16 2, int8 1). A pure view (an aliasing row with no
  work, e.g. ``flatten``) moves nothing.

Example:
    >>> rows = layer_traffic(profile(nn.Linear(100, 10), (1, 100)), "int8")  # doctest: +SKIP
    >>> rows[0].ops, rows[0].bytes_moved  # 2 x 1000 MACs; 1010 weights + 100 in + 10 out
    (2000, 1120)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from edgeopt.analysis.results import LayerCost, ModelProfile
from edgeopt.devices.precision import element_bytes

OPS_PER_MAC = 2


@dataclass(frozen=True)
class LayerTraffic:
    """Work and traffic of one profile row at one precision.

    Attributes:
        name: Row name from the profile.
        op_type: Row op type.
        ops: Arithmetic operations (2 per MAC).
        weight_bytes: Bytes of the row's parameters.
        input_bytes: Bytes of the activations it reads.
        output_bytes: Bytes of the activations it writes.
    """

    name: str
    op_type: str
    ops: int
    weight_bytes: int
    input_bytes: int
    output_bytes: int

    @property
    def bytes_moved(self) -> int:
        """Weights + inputs + outputs."""
        return self.weight_bytes + self.input_bytes + self.output_bytes


def _numel(shape: Any) -> int:
    """Elements of a shape, or of all shapes of a multi-output row."""
    if shape and isinstance(shape[0], (tuple, list)):
        return sum(_numel(s) for s in shape)
    return math.prod(shape) if shape else 1


def activation_itemsize(layer: LayerCost) -> float:
    """Bytes per activation element the profile counted for this row (4 for fp32 models)."""
    numel = _numel(layer.output_shape)
    return layer.activation_bytes / numel if numel and layer.activation_bytes else 4.0


def profile_itemsize(profile: ModelProfile) -> float:
    """Bytes per activation element of the profile (from its first row with outputs)."""
    for layer in profile.layers:
        if _numel(layer.output_shape) and layer.activation_bytes:
            return activation_itemsize(layer)
    return 4.0


def is_pure_view(layer: LayerCost) -> bool:
    """A row that only re-labels storage (flatten, view, getitem): no work, no traffic."""
    return layer.alias and not layer.macs and not layer.flops_other


def layer_traffic(profile: ModelProfile, precision: str) -> list[LayerTraffic]:
    """Operations and bytes moved per row of ``profile`` with every tensor at ``precision``.

    Raises:
        EdgeoptError: Unknown precision.
    """
    size = element_bytes(precision)
    rows = []
    for layer in profile.layers:
        if is_pure_view(layer):
            rows.append(LayerTraffic(layer.name, layer.op_type, 0, 0, 0, 0))
            continue
        itemsize = activation_itemsize(layer)
        rows.append(LayerTraffic(
            layer.name, layer.op_type, OPS_PER_MAC * layer.macs, layer.params * size,
            round(layer.input_bytes / itemsize) * size,
            round(layer.activation_bytes / itemsize) * size))
    return rows


def weight_bytes(profile: ModelProfile, precision: str) -> int:
    """Bytes of all parameters at ``precision``."""
    return profile.params * element_bytes(precision)


def peak_activation_bytes(profile: ModelProfile, precision: str) -> int:
    """The profile's peak live activation memory, rescaled to ``precision``."""
    return round(profile.peak_activation_bytes / profile_itemsize(profile)) * element_bytes(precision)
