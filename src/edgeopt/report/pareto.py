"""The Pareto front of (cost, accuracy) points: the variants no other variant beats on both."""

from __future__ import annotations

from collections.abc import Sequence


def pareto_front(points: Sequence[tuple[float, float]]) -> list[int]:
    """Indices of the points on the front of minimum cost and maximum accuracy.

    A point is on the front when no other point has a cost at most as high and an accuracy at
    least as high, with one of the two strictly better. Exact duplicates are all kept (neither
    beats the other). Indices are returned by increasing cost, so the front reads left to right.

    Args:
        points: ``(cost, accuracy)`` pairs, e.g. (size in bytes, test accuracy).

    Example:
        >>> pareto_front([(10, 0.9), (5, 0.8), (7, 0.7), (20, 0.95)])
        [1, 0, 3]
    """
    front = [i for i, p in enumerate(points) if not any(_dominates(q, p) for q in points)]
    return sorted(front, key=lambda i: (points[i][0], -points[i][1]))


def _dominates(a: tuple[float, float], b: tuple[float, float]) -> bool:
    """True if ``a`` is no worse than ``b`` on both axes and better on one."""
    no_worse = a[0] <= b[0] and a[1] >= b[1]
    return no_worse and (a[0] < b[0] or a[1] > b[1])
