"""Pruning: unstructured magnitude masks with schedules, and structured channel pruning that
rebuilds smaller layers.

Unstructured pruning zeroes individual weights: the file compresses, but a dense runtime does not
run it faster. Structured pruning removes whole channels and rebuilds ``Conv2d``/``BatchNorm2d``/
``Linear`` modules, so the model is physically smaller and faster everywhere.

Names are imported lazily (PEP 562).

Example:
    >>> from edgeopt import prune
    >>> sparse = prune.magnitude(model, sparsity=0.8, scope="global")    # masked copy
    >>> prune.sparsity_report(sparse).total_sparsity
    0.8
    >>> small = prune.structured(model, 0.5, torch.zeros(1, 1, 28, 28), importance="l1")
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from edgeopt.utils.lazy import lazy_exports

# public name -> module that defines it
_EXPORTS: dict[str, str] = {
    # (no module is named like a name here: importing a submodule binds it on the package,
    # so edgeopt.prune.magnitude would become that module instead of the function)
    "magnitude": "edgeopt.prune.unstructured",
    "finalize": "edgeopt.prune.unstructured",
    "default_exclude": "edgeopt.prune.unstructured",
    "depthwise_layers": "edgeopt.prune.unstructured",
    "restore_masks": "edgeopt.prune.masks",
    "polynomial_sparsity": "edgeopt.prune.schedule",
    "gradual_magnitude": "edgeopt.prune.schedule",
    "SparsityReport": "edgeopt.prune.sparsity",
    "sparsity_report": "edgeopt.prune.sparsity",
    # structured
    "structured": "edgeopt.prune.channel_pruning",
    "iterative_structured": "edgeopt.prune.iterative",
    "recalibrate_batchnorm": "edgeopt.prune.bn_recalibration",
    "channel_groups": "edgeopt.prune.graph",
    "ChannelGroup": "edgeopt.prune.graph",
    "channel_importance": "edgeopt.prune.importance",
    "IMPORTANCE_CRITERIA": "edgeopt.prune.importance",
    # the transforms (recipe steps, CLI options, lineage entries)
    "StructuredPrune": "edgeopt.prune.transforms",
    "MagnitudePrune": "edgeopt.prune.transforms",
}

# Literal, not computed from _EXPORTS: mypy reads only a literal __all__ and would export nothing.
__all__ = [
    "IMPORTANCE_CRITERIA",
    "ChannelGroup",
    "MagnitudePrune",
    "SparsityReport",
    "StructuredPrune",
    "channel_groups",
    "channel_importance",
    "default_exclude",
    "depthwise_layers",
    "finalize",
    "gradual_magnitude",
    "iterative_structured",
    "magnitude",
    "polynomial_sparsity",
    "recalibrate_batchnorm",
    "restore_masks",
    "sparsity_report",
    "structured",
]

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())

if TYPE_CHECKING:  # for type checkers and IDEs; not executed at run time
    from edgeopt.prune.bn_recalibration import recalibrate_batchnorm as recalibrate_batchnorm
    from edgeopt.prune.channel_pruning import structured as structured
    from edgeopt.prune.graph import ChannelGroup as ChannelGroup, channel_groups as channel_groups
    from edgeopt.prune.importance import (
        IMPORTANCE_CRITERIA as IMPORTANCE_CRITERIA,
        channel_importance as channel_importance,
    )
    from edgeopt.prune.iterative import iterative_structured as iterative_structured
    from edgeopt.prune.masks import restore_masks as restore_masks
    from edgeopt.prune.schedule import (
        gradual_magnitude as gradual_magnitude,
        polynomial_sparsity as polynomial_sparsity,
    )
    from edgeopt.prune.sparsity import SparsityReport as SparsityReport, sparsity_report as sparsity_report
    from edgeopt.prune.transforms import MagnitudePrune as MagnitudePrune, StructuredPrune as StructuredPrune
    from edgeopt.prune.unstructured import (
        default_exclude as default_exclude,
        depthwise_layers as depthwise_layers,
        finalize as finalize,
        magnitude as magnitude,
    )
