"""Exact cost analysis: per-layer MACs, parameters and activation memory; conv comparisons; sizes.

Example:
    >>> from edgeopt.analysis import profile, format_profile_table
    >>> p = profile(model, (1, 3, 224, 224))  # doctest: +SKIP
    >>> p.macs, p.params, p.peak_activation_bytes  # doctest: +SKIP
"""

from edgeopt.analysis.conv_compare import ConvComparison, compare_conv
from edgeopt.analysis.profile import profile
from edgeopt.analysis.results import LayerCost, ModelProfile
from edgeopt.analysis.size import state_dict_bytes
from edgeopt.analysis.tables import format_comparison_table, format_profile_table
from edgeopt.utils.units import format_bytes, format_count

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
