"""Pattern ``conv_bn``: a (non-depthwise) Conv1d/2d/3d followed by its BatchNorm.

Claims what :mod:`.conv_bn_act` and :mod:`.depthwise_bn` leave: a conv + BatchNorm with no
ReLU/ReLU6 as the BatchNorm's only consumer, e.g. MobileNetV2's linear bottleneck projection.

Example:
    >>> ConvBN().claim(bn_node, dict(gm.named_modules())).label
    'conv_bn'
"""

from __future__ import annotations

from torch import fx

from edgeopt.fuse.pattern import CONV_TYPES, Candidate, Modules, Pattern, is_depthwise, module_of, producer_of


class ConvBN(Pattern):
    """conv → BatchNorm, for convs that are not depthwise (those go to :class:`DepthwiseConvBN`)."""

    name = "conv_bn"

    def claim(self, bn: fx.Node, modules: Modules) -> Candidate | None:
        producer = producer_of(bn)
        conv = module_of(producer, modules)
        if producer is None or not isinstance(conv, CONV_TYPES) or is_depthwise(conv):
            return None
        return Candidate(self.name, producer, bn)
