"""The units a latency table is keyed by: a MAC layer and the ops a runtime fuses after it.

A *unit* is what :mod:`edgeopt.runtime.layer_map` calls a layer: a conv / linear row of the
profile plus the rows after it up to the next one (BatchNorm, activation, the residual add, the
SE pooling and gate). Its key names everything its latency depends on::

    conv5x5/s2/gdw:144>144@14x14|hswish,pool
    conv1x1/s1/g1:36>144@1x1|hsigmoid,mul@144x14x14
    linear:1280>1000|

(kernel, stride, groups — ``dw`` for depthwise —, channels in > out, output size; then the tail:
activations, pooling, adds, and a multiply with the shape it scales). BatchNorm, dropout and
reshapes are left out of the key: every exporter folds or drops them.

Keys come two ways, which must agree (``tests/latency`` checks they do): from any model's
profile (:func:`profile_units`, for models from anywhere) and straight from an architecture of a
space without building it (:func:`arch_units`, microseconds, for search).

Example:
    >>> [u.key for u in arch_units(arch, space)][:2]
    ['conv3x3/s2/g1:3>16@112x112|relu', 'conv3x3/s1/gdw:16>16@112x112|relu']
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from edgeopt.models.space_net import se_channels
from edgeopt.models.spaces import Arch, SearchSpace

if TYPE_CHECKING:
    from torch import nn

    from edgeopt.analysis.results import LayerCost, ModelProfile

_FREE = ("batchnorm", "dropout", "identity", "flatten", "view", "reshape", "getitem", "contiguous")
_ACTS = {"relu": "relu", "relu6": "relu6", "hardtanh": "relu6", "hardswish": "hswish", "hswish": "hswish",
         "hardsigmoid": "hsigmoid", "sigmoid": "sigmoid", "silu": "silu", "gelu": "gelu", "tanh": "tanh"}


@dataclass(frozen=True)
class Unit:
    """One unit of a model.

    Attributes:
        key: The table key (see the module docstring).
        name: Where it is in the model (its MAC row's name).
        kind: ``conv``, ``dwconv``, ``linear`` or ``other`` (the fallback model's families).
        macs: Multiply-adds.
        bytes: Weights + input + output of the MAC row at fp32, plus the outputs of the tail's adds
            and multiplies (a feature of the fallback model, not a measurement).
        rows: The profile rows it covers.
    """

    key: str
    name: str
    kind: str
    macs: int
    bytes: int
    rows: tuple[str, ...] = ()


def conv_key(kernel: int, stride: int, groups: str, cin: int, cout: int, out_hw: tuple[int, int]) -> str:
    """The MAC part of a conv unit's key."""
    return f"conv{kernel}x{kernel}/s{stride}/g{groups}:{cin}>{cout}@{out_hw[0]}x{out_hw[1]}"


def tail_token(op_type: str, shape: Sequence[int] | None = None) -> str | None:
    """A tail row's part of the key (None for rows every exporter folds away)."""
    low = op_type.lower()
    if any(word in low for word in _FREE):
        return None
    if low in _ACTS:
        return _ACTS[low]
    if "pool" in low or low == "mean":
        return "pool"
    if low in ("add", "iadd", "sub"):
        return "add"
    dims = "x".join(str(d) for d in (shape or ())[1:])
    return f"{low}@{dims}" if dims else low


def _out_hw(size: int, kernel: int, stride: int) -> int:
    return (size + 2 * (kernel // 2) - kernel) // stride + 1


# ---------------------------------------------------------------------------------------------
# From an architecture (no model built)


def arch_units(arch: Arch, space: SearchSpace) -> list[Unit]:
    """The units of an architecture of ``space``, in execution order, computed from its choices."""
    units: list[Unit] = []
    size = _out_hw(arch.resolution, 3, 2)
    channels = space.channels(space.stem_channels, arch.width)
    units.append(_conv("stem.0", 3, 2, "1", space.in_chans, channels, size, [space.stem_act], arch.resolution))
    index = 0
    for stage, configs in zip(space.stages, arch.stages, strict=True):
        out = space.channels(stage.channels, arch.width)
        for position, config in enumerate(configs):
            stride = stage.stride if position == 0 else 1
            units += block_units(f"blocks.{index}", channels, out, stride, size, config.kernel, config.expansion,
                                 config.se, config.act)
            size = _out_hw(size, config.kernel, stride)
            channels = out
            index += 1
    head = space.head(arch.width)
    units.append(_conv("head.0", 1, 1, "1", channels, head, size, [space.head_act, "pool"], size))
    units.append(Unit(f"linear:{head}>{space.num_classes}|", "classifier", "linear", head * space.num_classes,
                      4 * (head * space.num_classes + 2 * space.num_classes + head)))
    return units


def block_units(prefix: str, cin: int, cout: int, stride: int, size: int, kernel: int, expansion: int,
                se: bool, act: str) -> list[Unit]:
    """The units of one inverted-residual block whose input is ``cin`` × ``size`` × ``size``."""
    hidden = cin * expansion
    out = _out_hw(size, kernel, stride)
    units = []
    if expansion != 1:
        units.append(_conv(f"{prefix}.expand.0", 1, 1, "1", cin, hidden, size, [act], size))
    units.append(_conv(f"{prefix}.dw.0", kernel, stride, "dw", hidden, hidden, out, [act, *(["pool"] if se else [])],
                       size))
    if se:
        reduced = se_channels(hidden)
        units.append(_conv(f"{prefix}.se.fc1", 1, 1, "1", hidden, reduced, 1, ["relu"], 1, bias=True))
        units.append(_conv(f"{prefix}.se.fc2", 1, 1, "1", reduced, hidden, 1, ["hsigmoid", f"mul@{hidden}x{out}x{out}"],
                           1, bias=True, extra_bytes=4 * hidden * out * out))
    residual = stride == 1 and cin == cout
    units.append(_conv(f"{prefix}.project.0", 1, 1, "1", hidden, cout, out, ["add"] if residual else [], out,
                       extra_bytes=4 * cout * out * out if residual else 0))
    return units


def _conv(name: str, kernel: int, stride: int, groups: str, cin: int, cout: int, out: int, tail: list[str],
          in_size: int, *, bias: bool = False, extra_bytes: int = 0) -> Unit:
    dw = groups == "dw"
    macs = out * out * cout * (1 if dw else cin) * kernel * kernel
    weights = cout * (1 if dw else cin) * kernel * kernel + (cout if bias else 0)
    nbytes = 4 * (weights + cin * in_size * in_size + cout * out * out) + extra_bytes
    key = conv_key(kernel, stride, groups, cin, cout, (out, out)) + "|" + ",".join(tail)
    return Unit(key, name, "dwconv" if dw else "conv", macs, nbytes)


# ---------------------------------------------------------------------------------------------
# From a model's profile


def profile_units(model: nn.Module, profile: ModelProfile) -> list[Unit]:
    """The units of any profiled model: one per MAC row (rows before the first one join it).

    Args:
        model: The model (its conv and linear modules give kernel, stride and groups).
        profile: Its profile (:func:`edgeopt.analysis.profile`).
    """
    from torch import nn

    rows = profile.layers
    starts = [i for i, row in enumerate(rows) if row.macs > 0]
    if not starts:
        return []
    units = []
    for n, start in enumerate(starts):
        end = starts[n + 1] if n + 1 < len(starts) else len(rows)
        first = 0 if n == 0 else start
        mac = rows[start]
        tail = [t for row in rows[start + 1 : end]
                if (t := tail_token(row.op_type, _shape(row.output_shape))) is not None]
        module = _module(model, mac.name)
        if isinstance(module, nn.Conv2d):
            key, kind = _conv_module_key(module, mac), "dwconv" if "(dw)" in mac.op_type else "conv"
        elif isinstance(module, nn.Linear):
            key, kind = f"linear:{module.in_features}>{module.out_features}", "linear"
        else:
            key, kind = f"{mac.op_type.lower()}:macs{mac.macs}", "other"
        covered = rows[first:end]
        nbytes = 4 * mac.params + mac.input_bytes + mac.activation_bytes + sum(
            row.activation_bytes for row in rows[start + 1 : end] if row.op_type.lower() in ("mul", "add"))
        units.append(Unit(key + "|" + ",".join(tail), mac.name, kind, mac.macs, nbytes,
                          tuple(row.name for row in covered)))
    return units


def _conv_module_key(module: Any, row: LayerCost) -> str:
    kernel = module.kernel_size[0]
    stride = module.stride[0]
    depthwise = module.groups > 1 and module.groups == module.in_channels == module.out_channels
    groups = "dw" if depthwise else str(module.groups)
    shape = _shape(row.output_shape) or (1, module.out_channels, 0, 0)
    return conv_key(kernel, stride, groups, module.in_channels, module.out_channels, (shape[-2], shape[-1]))


def _module(model: nn.Module, name: str) -> nn.Module | None:
    try:
        return model.get_submodule(name)
    except AttributeError:
        return None


def _shape(shape: Any) -> tuple[int, ...] | None:
    if isinstance(shape, (tuple, list)) and shape and all(isinstance(d, int) for d in shape):
        return tuple(shape)
    return None
