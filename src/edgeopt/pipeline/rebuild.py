"""Rebuild a candidate's model from its checkpoint after a resume, whatever its steps did to it.

A step checkpoint holds weights only (read with ``weights_only=True``; nothing pickled is run).
The architecture is rebuilt from the root model (the recipe's model, or a train step's own) by
replaying each step's :meth:`~edgeopt.pipeline.registry.StepConfig.rebuild` along the lineage:
by default that resizes convs, norms and linears to the saved shapes (structured pruning), and
steps that change the graph (fuse) replay their change.

Example:
    >>> small = conform_to_state(create_model("simple_cnn"), pruned_state)
    >>> small.load_state_dict(pruned_state)
"""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

# Module types whose size is read off their saved weight's shape.
_RESIZABLE = (nn.Conv2d, nn.BatchNorm2d, nn.Linear)


def conform_to_state(model: nn.Module, state: dict[str, Any]) -> nn.Module:
    """Resize ``model``'s Conv2d/BatchNorm2d/Linear layers in place to the shapes in ``state``.

    Depthwise convolutions stay depthwise (``groups`` follows the channel count). Layers whose
    weights are not in ``state`` are left alone. Returns ``model``.
    """
    for name, module in list(model.named_modules()):
        weight = state.get(f"{name}.weight" if name else "weight")
        if not isinstance(module, _RESIZABLE) or not isinstance(weight, Tensor):
            continue
        if tuple(weight.shape) == tuple(module.weight.shape):
            continue
        has_bias = isinstance(state.get(f"{name}.bias" if name else "bias"), Tensor)
        _replace(model, name, _resized(module, tuple(weight.shape), has_bias))
    return model


def _resized(module: nn.Module, shape: tuple[int, ...], bias: bool) -> nn.Module:
    if isinstance(module, nn.Conv2d):
        out_ch, in_per_group = shape[0], shape[1]
        depthwise = module.groups > 1 and module.groups == module.in_channels == module.out_channels
        groups = out_ch if depthwise else module.groups
        return nn.Conv2d(in_per_group * groups, out_ch, module.kernel_size, module.stride, module.padding,
                         module.dilation, groups, bias=bias, padding_mode=module.padding_mode)
    if isinstance(module, nn.BatchNorm2d):
        return nn.BatchNorm2d(shape[0], module.eps, module.momentum, module.affine, module.track_running_stats)
    assert isinstance(module, nn.Linear)
    return nn.Linear(shape[1], shape[0], bias=bias)


def _replace(model: nn.Module, name: str, new: nn.Module) -> None:
    parent_name, _, child = name.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    setattr(parent, child, new)
