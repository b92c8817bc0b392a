"""Operator fusion: fold BatchNorm into the conv or linear layer before it (torch.fx passes).

One pattern per file: ``conv_bn``, ``conv_bn_act`` (conv → bn → relu/relu6), ``depthwise_bn``
(depthwise conv → bn), ``linear_bn`` (Linear → BatchNorm1d). Each fold is checked to be exact
(single consumer, running statistics, matching channels), and the fused model is checked against
the original before it is returned. Details: docs/fusion.md.

Names are imported lazily (PEP 562).

Example:
    >>> from edgeopt.fuse import fuse_with_report
    >>> fused, report = fuse_with_report(model, torch.randn(1, 1, 28, 28))
    >>> print(report.summary())
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from edgeopt.utils.lazy import lazy_exports

# public name -> module that defines it
_EXPORTS: dict[str, str] = {
    "fuse": "edgeopt.fuse.fuser",
    "fuse_with_report": "edgeopt.fuse.fuser",
    "PATTERNS": "edgeopt.fuse.fuser",
    "FusionReport": "edgeopt.fuse.report",
    "Fusion": "edgeopt.fuse.report",
    "Skipped": "edgeopt.fuse.report",
    "folded_layer": "edgeopt.fuse.fold",
    "Fuse": "edgeopt.fuse.transform",
}

# Literal, not sorted(_EXPORTS): mypy reads only a literal __all__ and would export nothing.
__all__ = [
    "PATTERNS",
    "Fuse",
    "Fusion",
    "FusionReport",
    "Skipped",
    "folded_layer",
    "fuse",
    "fuse_with_report",
]

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())

if TYPE_CHECKING:  # for type checkers and IDEs; not executed at run time
    from edgeopt.fuse.fold import folded_layer as folded_layer
    from edgeopt.fuse.fuser import PATTERNS as PATTERNS, fuse as fuse, fuse_with_report as fuse_with_report
    from edgeopt.fuse.report import Fusion as Fusion, FusionReport as FusionReport, Skipped as Skipped
    from edgeopt.fuse.transform import Fuse as Fuse
