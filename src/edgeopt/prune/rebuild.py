"""Rebuild layers smaller: new Conv2d / BatchNorm / Linear modules holding the kept slices.

The result is an ordinary ``nn.Module`` (no masks, no hooks): fewer parameters, fewer MACs, and a
smaller, faster artifact in every runtime. :func:`resize_like` does the reverse trip for loading:
it shrinks a freshly built model to the shapes of a pruned state dict.

Example:
    >>> graph = analyse(model, x)
    >>> small = rebuild(copy.deepcopy(model), graph, pruned_units={12, 13})
    >>> small(x).shape == model(x).shape
    True
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

from torch import Tensor, nn
from torch.nn.modules.batchnorm import _BatchNorm

from edgeopt.errors import EdgeoptError
from edgeopt.prune.graph import ChannelGraph


def kept(units: list[int], pruned: Collection[int]) -> list[int]:
    """Positions whose unit is not pruned."""
    return [i for i, u in enumerate(units) if u not in pruned]


def rebuild(model: nn.Module, graph: ChannelGraph, pruned: Collection[int]) -> nn.Module:
    """Replace every layer that loses channels by a smaller copy, in place; return ``model``.

    Args:
        model: The model to shrink (the caller passes a copy; its module names match ``graph``).
        graph: The channel analysis of the model.
        pruned: Units to remove.
    """
    pruned = set(pruned)
    for name, use in graph.layers.items():
        module = model.get_submodule(name)
        keep_out = kept(use.out_slots, pruned)
        keep_in = kept(use.in_slots, pruned)
        if len(keep_out) == len(use.out_slots) and len(keep_in) == len(use.in_slots):
            continue
        new: nn.Module
        if isinstance(module, nn.Conv2d):
            new = shrink_conv(module, keep_out, keep_in)
        elif isinstance(module, nn.Linear):
            new = shrink_linear(module, keep_out, keep_in)
        elif isinstance(module, _BatchNorm):
            new = shrink_batchnorm(module, keep_out)
        else:  # the channel analysis records only these layer types
            raise AssertionError(f"cannot shrink a {type(module).__name__} ({name})")
        new.train(module.training)
        _replace(model, name, new)
    return model


def _replace(model: nn.Module, name: str, new: nn.Module) -> None:
    parent_name, _, child = name.rpartition(".")
    setattr(model.get_submodule(parent_name) if parent_name else model, child, new)


def _copy(dst: Tensor | None, src: Tensor | None) -> None:
    if dst is not None and src is not None:
        dst.data.copy_(src)
        if isinstance(src, nn.Parameter):
            dst.requires_grad_(src.requires_grad)


def conv_layout(conv: nn.Conv2d) -> tuple[int, int, int]:
    """(groups, input channels per group, output channels per group)."""
    g = conv.groups
    return g, conv.in_channels // g, conv.out_channels // g


def shrink_conv(conv: nn.Conv2d, keep_out: list[int], keep_in: list[int]) -> nn.Conv2d:
    """A Conv2d with the kept output and input channels (group structure kept).

    A depthwise conv (one input channel per group) keeps one group per kept channel; another
    grouped conv keeps its group count and the same within-group channels in every group.
    """
    g, cin_g, _ = conv_layout(conv)
    if g > 1 and cin_g == 1:
        groups, within = len(keep_in), [0]
    else:
        groups, within = g, sorted({p % cin_g for p in keep_in})
    if len(within) * groups != len(keep_in) or len(keep_out) % groups:
        raise AssertionError(f"channel selection breaks the group structure of a conv ({conv})")
    new = _conv_like(conv, len(keep_in), len(keep_out), groups)
    _copy(new.weight, conv.weight.detach()[keep_out][:, within])
    if conv.bias is not None:
        _copy(new.bias, conv.bias.detach()[keep_out])
    new.weight.requires_grad_(conv.weight.requires_grad)
    return new


def _conv_like(conv: nn.Conv2d, in_ch: int, out_ch: int, groups: int) -> nn.Conv2d:
    padding = conv.padding if isinstance(conv.padding, str) else _pair(conv.padding)
    return nn.Conv2d(in_ch, out_ch, _pair(conv.kernel_size), _pair(conv.stride), padding, _pair(conv.dilation),
                     groups, conv.bias is not None, conv.padding_mode,
                     device=conv.weight.device, dtype=conv.weight.dtype)


def _pair(sizes: tuple[int, ...]) -> tuple[int, int]:
    """A Conv2d's kernel size, stride, padding or dilation (torch types them as any-length tuples)."""
    height, width = sizes
    return height, width


def shrink_linear(linear: nn.Linear, keep_out: list[int], keep_in: list[int]) -> nn.Linear:
    """A Linear with the kept output and input features."""
    new = nn.Linear(len(keep_in), len(keep_out), linear.bias is not None,
                    device=linear.weight.device, dtype=linear.weight.dtype)
    _copy(new.weight, linear.weight.detach()[keep_out][:, keep_in])
    if linear.bias is not None:
        _copy(new.bias, linear.bias.detach()[keep_out])
    new.weight.requires_grad_(linear.weight.requires_grad)
    return new


def shrink_batchnorm(bn: _BatchNorm, keep: list[int]) -> _BatchNorm:
    """A BatchNorm of the same class with the kept channels' affine parameters and statistics.

    It has ``bn``'s device and dtype (a float64 model stays float64 throughout).
    """
    like = bn.weight if bn.affine else bn.running_mean  # None: no parameters or statistics at all
    new = type(bn)(len(keep), bn.eps, bn.momentum, bn.affine, bn.track_running_stats,
                   device=None if like is None else like.device, dtype=None if like is None else like.dtype)
    if bn.affine:
        _copy(new.weight, bn.weight.detach()[keep])
        _copy(new.bias, bn.bias.detach()[keep])
    if bn.track_running_stats:
        (mean, var, count), (new_mean, new_var, new_count) = _running_stats(bn), _running_stats(new)
        new_mean.copy_(mean[keep])
        new_var.copy_(var[keep])
        new_count.copy_(count)
    return new


def _running_stats(bn: _BatchNorm) -> tuple[Tensor, Tensor, Tensor]:
    """Running mean, variance and batch count of a BatchNorm that tracks them."""
    mean, var, count = bn.running_mean, bn.running_var, bn.num_batches_tracked
    if mean is None or var is None or count is None:
        raise EdgeoptError(f"{type(bn).__name__} has track_running_stats but no running statistics")
    return mean, var, count


def resize_like(model: nn.Module, shapes: Mapping[str, Sequence[int] | Tensor]) -> nn.Module:
    """Shrink ``model``'s Conv2d/Linear/BatchNorm modules to pruned ``shapes`` (state-dict keys).

    The way back from a pruned model to its architecture: build the original model, resize it
    to the recorded shapes (a state dict's tensors work too), then load the weights. Layers
    whose shape is unchanged are left alone; a depthwise conv stays depthwise.

    Example:
        >>> model = resize_like(create_model("mobilenet_v1", **kwargs), {"features.0.0.weight": [8, 3, 3, 3]})
    """
    for name, module in list(model.named_modules()):
        weight = _shape(shapes, f"{name}.weight" if name else "weight")
        new: nn.Module
        if isinstance(module, nn.Conv2d) and weight is not None and weight != tuple(module.weight.shape):
            g, cin_g, cout_g = conv_layout(module)
            groups = weight[0] // cout_g if g > 1 and cin_g == 1 else g
            new = _conv_like(module, weight[1] * groups, weight[0], groups)
        elif isinstance(module, nn.Linear) and weight is not None and weight != tuple(module.weight.shape):
            new = shrink_linear(module, list(range(weight[0])), list(range(weight[1])))
        elif isinstance(module, nn.modules.batchnorm._BatchNorm):
            stat = _shape(shapes, f"{name}.running_mean") or weight
            if stat is None or stat[0] == module.num_features:
                continue
            new = shrink_batchnorm(module, list(range(stat[0])))
        else:
            continue
        if not name:
            raise EdgeoptError("cannot resize a bare layer to pruned shapes",
                               hint="wrap it in a container module")
        _replace(model, name, new)
    return model


def _shape(shapes: Mapping[str, Sequence[int] | Tensor], key: str) -> tuple[int, ...] | None:
    found = shapes.get(key)
    if found is None:
        return None
    return tuple(int(d) for d in (found.shape if isinstance(found, Tensor) else found))
