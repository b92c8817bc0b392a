"""Fold a BatchNorm's eval-mode affine transform into the conv or linear layer before it.

In eval mode ``bn(y) = (y - mean) / sqrt(var + eps) * gamma + beta`` is a per-channel affine
map, so ``bn(W x + b) = W' x + b'`` with ``W' = W * s`` (per output channel) and
``b' = (b - mean) * s + beta``, ``s = gamma / sqrt(var + eps)``. The arithmetic is torch's own
(``torch.nn.utils.fusion``), run in float64 and rounded once to the layer's dtype, so the folded
weights are the correctly rounded values rather than the result of several float32 roundings.

Example:
    >>> folded = folded_layer(conv, bn)      # a new Conv2d with a bias; conv and bn untouched
"""

from __future__ import annotations

import copy

import torch
from torch import fx, nn
from torch.nn.modules.batchnorm import _BatchNorm
from torch.nn.utils.fusion import fuse_conv_bn_weights, fuse_linear_bn_weights

from edgeopt.fuse.pattern import BATCHNORM_TYPES, CONV_TYPES, Candidate, FoldableLayer


def folded_layer(layer: FoldableLayer, bn: _BatchNorm) -> FoldableLayer:
    """A copy of ``layer`` (Conv1d/2d/3d or Linear) that computes ``bn(layer(x))`` in eval mode.

    Raises:
        ValueError: ``bn`` has no running statistics (``track_running_stats=False``).

    Example:
        >>> conv, bn = nn.Conv2d(3, 8, 3, bias=False).eval(), nn.BatchNorm2d(8).eval()
        >>> folded_layer(conv, bn).bias.shape
        torch.Size([8])
    """
    if bn.running_mean is None or bn.running_var is None:
        raise ValueError("a BatchNorm without running statistics cannot be folded")
    dtype = layer.weight.dtype
    ones = torch.ones_like(bn.running_mean, dtype=torch.float64)
    gamma = bn.weight.detach().double() if bn.weight is not None else ones
    beta = bn.bias.detach().double() if bn.bias is not None else torch.zeros_like(ones)
    weight_in = layer.weight.detach().double()
    bias_in = layer.bias.detach().double() if layer.bias is not None else None
    mean, var = bn.running_mean.double(), bn.running_var.double()
    if isinstance(layer, nn.Linear):
        weight, bias = fuse_linear_bn_weights(weight_in, bias_in, mean, var, bn.eps, gamma, beta)
    else:
        weight, bias = fuse_conv_bn_weights(weight_in, bias_in, mean, var, bn.eps, gamma, beta)
    new = copy.deepcopy(layer)
    requires_grad = layer.weight.requires_grad
    new.weight = nn.Parameter(weight.detach().to(dtype), requires_grad=requires_grad)
    new.bias = nn.Parameter(bias.detach().to(dtype), requires_grad=requires_grad)
    return new


def apply_fold(gm: fx.GraphModule, candidate: Candidate) -> None:
    """Replace the producer by its folded copy and route the BatchNorm's users to it.

    The BatchNorm node is erased; its module is removed later with the other unused ones.
    """
    name = str(candidate.producer.target)
    layer = gm.get_submodule(name)
    bn = gm.get_submodule(str(candidate.bn.target))
    if not isinstance(layer, (nn.Linear, *CONV_TYPES)) or not isinstance(bn, BATCHNORM_TYPES):  # what patterns claim
        raise TypeError(f"cannot fold {type(bn).__name__} into {type(layer).__name__}")
    parent_name, _, attr = name.rpartition(".")
    setattr(gm.get_submodule(parent_name), attr, folded_layer(layer, bn))
    candidate.bn.replace_all_uses_with(candidate.producer)
    gm.graph.erase_node(candidate.bn)
