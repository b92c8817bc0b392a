"""Rebuild a candidate's architecture after a resume, whatever its steps did to it.

A step checkpoint holds weights only (read with ``weights_only=True``; nothing pickled is run).
The architecture is rebuilt from the root model (the recipe's model, or a train step's own) by
replaying each step's :meth:`~edgeopt.pipeline.registry.StepConfig.rebuild` along the lineage
(see :func:`edgeopt.pipeline.models_store.restore_model`): by default that resizes convs, norms
and linears to the saved shapes (structured pruning), and steps that change the graph (fuse)
replay their change first.

Example:
    >>> small = conform_to_state(create_model("simple_cnn"), pruned_state)
    >>> small.load_state_dict(pruned_state)
"""

from __future__ import annotations

from collections.abc import Mapping

from torch import Tensor, nn


def conform_to_state(model: nn.Module, state: Mapping[str, Tensor]) -> nn.Module:
    """Resize ``model``'s Conv2d/BatchNorm/Linear layers in place to the shapes in ``state``.

    Depthwise convolutions stay depthwise; layers already of the right shape are left alone.
    Structured pruning's own :func:`edgeopt.prune.rebuild.resize_like` does the work.
    """
    from edgeopt.prune.rebuild import resize_like

    return resize_like(model, state)
