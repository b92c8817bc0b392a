"""Exact cost analysis: per-layer MACs, parameters and activation memory; conv comparisons; sizes.

Example:
    >>> from edgeopt.analysis import profile, format_profile_table
    >>> p = profile(model, (1, 3, 224, 224))  # doctest: +SKIP
    >>> p.macs, p.params, p.peak_activation_bytes  # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from edgeopt.utils.lazy import lazy_exports

# public name -> module that defines it
_EXPORTS: dict[str, str] = {
    "compare_conv": "edgeopt.analysis.conv_compare",
    "ConvComparison": "edgeopt.analysis.conv_compare",
    "profile": "edgeopt.analysis.profiler",
    "LayerCost": "edgeopt.analysis.results",
    "ModelProfile": "edgeopt.analysis.results",
    "state_dict_bytes": "edgeopt.analysis.size",
    "format_comparison_table": "edgeopt.analysis.tables",
    "format_profile_table": "edgeopt.analysis.tables",
    "format_bytes": "edgeopt.utils.units",
    "format_count": "edgeopt.utils.units",
}

__all__ = [
    "ConvComparison",
    "LayerCost",
    "ModelProfile",
    "compare_conv",
    "format_bytes",
    "format_comparison_table",
    "format_count",
    "format_profile_table",
    "profile",
    "state_dict_bytes",
]

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())

if TYPE_CHECKING:  # for type checkers and IDEs; not executed at run time
    from edgeopt.analysis.conv_compare import ConvComparison as ConvComparison, compare_conv as compare_conv
    from edgeopt.analysis.profiler import profile as profile
    from edgeopt.analysis.results import LayerCost as LayerCost, ModelProfile as ModelProfile
    from edgeopt.analysis.size import state_dict_bytes as state_dict_bytes
    from edgeopt.analysis.tables import (
        format_comparison_table as format_comparison_table,
        format_profile_table as format_profile_table,
    )
    from edgeopt.utils.units import format_bytes as format_bytes, format_count as format_count
