"""Which channels go: per group (uniform) or ranked across groups (global), with rounding.

Example:
    >>> pruned = select_units(graph.groups, scores, ratio=0.5, scope="uniform", round_to=8)
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from edgeopt.prune.graph import ChannelGroup

SCOPES = ("uniform", "global")
GLOBAL_MAX_GROUP_RATIO = 0.9  # global ranking never empties a layer: each group keeps >= 10%


def rounding_step(group: ChannelGroup, round_to: int | None) -> int:
    """Units per step so that every layer's channel count stays a multiple of ``round_to``."""
    if not round_to:
        return 1
    return round_to // math.gcd(round_to, group.multiplicity)


def rounded_keep(keep: float, n: int, step: int) -> int:
    """``keep`` rounded to the nearest multiple of ``step`` within [step, n] (n if n < step)."""
    if n <= step:
        return n
    return min(n, max(step, round(keep / step) * step))


def select_units(groups: Sequence[ChannelGroup], scores: dict[int, float], ratio: float,
                 scope: str = "uniform", round_to: int | None = None) -> set[int]:
    """Return the units to prune.

    Args:
        groups: The prunable channel groups.
        scores: Unit -> importance (higher = keep).
        ratio: Fraction of channels to remove: of each group (uniform), or of all prunable
            channels, the least important first after normalising scores by their group's mean
            (global; each group keeps at least 10%).
        scope: ``uniform`` or ``global``.
        round_to: Keep channel counts multiples of this (e.g. 8 or 16), rounding to nearest.
    """
    keep_counts = (_uniform_keep(groups, ratio) if scope == "uniform"
                   else _global_keep(groups, scores, ratio))
    pruned: set[int] = set()
    for group in groups:
        n = group.channels
        keep = rounded_keep(keep_counts[group.index], n, rounding_step(group, round_to))
        keep = max(1, keep)
        ranked = sorted(group.units, key=lambda u: (scores[u], u))
        pruned.update(ranked[: n - keep])
    return pruned


def _uniform_keep(groups: Sequence[ChannelGroup], ratio: float) -> dict[int, float]:
    return {g.index: g.channels - math.floor(ratio * g.channels + 1e-9) for g in groups}


def _global_keep(groups: Sequence[ChannelGroup], scores: dict[int, float], ratio: float) -> dict[int, float]:
    ranked = []
    for group in groups:
        mean = sum(scores[u] for u in group.units) / group.channels
        ranked += [(scores[u] / mean if mean > 0 else 0.0, group.index) for u in group.units]
    ranked.sort()
    target = math.floor(ratio * len(ranked) + 1e-9)
    removed = {g.index: 0 for g in groups}
    cap = {g.index: math.floor(GLOBAL_MAX_GROUP_RATIO * g.channels) for g in groups}
    taken = 0
    for _, index in ranked:
        if taken >= target:
            break
        if removed[index] < cap[index]:
            removed[index] += 1
            taken += 1
    return {g.index: g.channels - removed[g.index] for g in groups}
