"""Pattern ``linear_bn``: a Linear layer followed by a BatchNorm1d over its output features.

BatchNorm1d normalises dim 1. That is the Linear's feature dim only for 2-D ``(N, features)``
outputs; on a 3-D ``(N, L, features)`` output it would normalise ``L``, and folding into the
Linear's rows would be wrong. :mod:`.safety` checks the recorded output shape.

Example:
    >>> LinearBN().claim(bn_node, dict(gm.named_modules())).label
    'linear_bn'
"""

from __future__ import annotations

from torch import fx, nn

from edgeopt.fuse.pattern import Candidate, Modules, Pattern, module_of, producer_of


class LinearBN(Pattern):
    """Linear → BatchNorm1d."""

    name = "linear_bn"

    def claim(self, bn: fx.Node, modules: Modules) -> Candidate | None:
        producer = producer_of(bn)
        if producer is None or not isinstance(module_of(producer, modules), nn.Linear):
            return None
        return Candidate(self.name, producer, bn)
