"""Pattern ``depthwise_conv_bn`` (``…_relu``, ``…_relu6``): BatchNorm after a depthwise conv.

A depthwise conv (``groups == in_channels``) has weights of shape ``(out, 1, k, k)``: one filter
per output channel, exactly like a standard conv's ``(out, in, k, k)`` along dim 0. Folding a
BatchNorm scales dim 0 (output channels), never the input-channel dim, so the same arithmetic
is exact for both (also with a channel multiplier, ``out = m * in``). This pattern exists so the
general passes can *defer* depthwise convs to it: the report counts them apart (they are most of
MobileNet's BatchNorms) and the tests pin the depthwise case on its own.

Example:
    >>> DepthwiseConvBN().claim(bn_node, dict(gm.named_modules())).label
    'depthwise_conv_bn_relu'
"""

from __future__ import annotations

from torch import fx

from edgeopt.fuse.pattern import (
    Candidate,
    Modules,
    Pattern,
    activation_after,
    is_depthwise,
    module_of,
    producer_of,
)


class DepthwiseConvBN(Pattern):
    """depthwise conv → BatchNorm [→ ReLU/ReLU6]; the activation stays after the folded conv."""

    name = "depthwise_conv_bn"

    def claim(self, bn: fx.Node, modules: Modules) -> Candidate | None:
        producer = producer_of(bn)
        if producer is None or not is_depthwise(module_of(producer, modules)):
            return None
        found = activation_after(bn, modules)
        if found is None:
            return Candidate(self.name, producer, bn)
        activation, act_name = found
        return Candidate(f"{self.name}_{act_name}", producer, bn, activation)
