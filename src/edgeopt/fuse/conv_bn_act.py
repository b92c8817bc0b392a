"""Pattern ``conv_bn_relu`` / ``conv_bn_relu6``: a conv, its BatchNorm, then a ReLU or ReLU6.

The BatchNorm is folded into the conv and the activation is kept as it is, right after the
folded conv (a module stays a module, ``F.relu`` stays a function call). We deliberately do not
build a fused conv+activation module: every consumer of the fused model already fuses a conv with
the activation that follows it (ONNX Runtime's Conv+Relu/Clip graph fusion, XNNPACK's output
clamp, the PT2E quantizers' conv→relu annotation), and all of them look for a plain conv followed
by a plain activation. A custom module would only add a class that ``torch.export``, the profiler
and the pruner must trace through. The pattern exists so the report names the whole block.

Example:
    >>> ConvBNAct().claim(bn_node, dict(gm.named_modules())).label
    'conv_bn_relu6'
"""

from __future__ import annotations

from torch import fx

from edgeopt.fuse.pattern import (
    CONV_TYPES,
    Candidate,
    Modules,
    Pattern,
    activation_after,
    is_depthwise,
    module_of,
    producer_of,
)


class ConvBNAct(Pattern):
    """conv → BatchNorm → ReLU/ReLU6 (the BatchNorm's only consumer), for non-depthwise convs."""

    name = "conv_bn_act"

    def claim(self, bn: fx.Node, modules: Modules) -> Candidate | None:
        producer = producer_of(bn)
        conv = module_of(producer, modules)
        if producer is None or not isinstance(conv, CONV_TYPES) or is_depthwise(conv):
            return None
        found = activation_after(bn, modules)
        if found is None:
            return None
        activation, act_name = found
        return Candidate(f"conv_bn_{act_name}", producer, bn, activation)
