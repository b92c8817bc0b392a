"""The Pareto front of a study's feasible trials, and its hypervolume.

Both are computed here from the trials' recorded values rather than with Optuna's
``best_trials`` so that infeasible trials (constraint values > 0) never enter the front and
duplicates of one network (see :mod:`edgeopt.search.params`) count once.

Example:
    >>> pareto_indices([(90.0, 2.0), (95.0, 3.0), (89.0, 2.5)], ["maximize", "minimize"])
    [0, 1]
"""

from __future__ import annotations

from collections.abc import Sequence


def _dominates(a: Sequence[float], b: Sequence[float], signs: Sequence[float]) -> bool:
    better_or_equal = all(s * x <= s * y for x, y, s in zip(a, b, signs, strict=True))
    return better_or_equal and any(s * x < s * y for x, y, s in zip(a, b, signs, strict=True))


def _signs(directions: Sequence[str]) -> list[float]:
    # Minimisation sign per objective: maximised values are negated.
    return [-1.0 if d == "maximize" else 1.0 for d in directions]


def pareto_indices(points: Sequence[Sequence[float]], directions: Sequence[str]) -> list[int]:
    """Indices of the non-dominated points (the first of equal points only), in input order."""
    signs = _signs(directions)
    kept: list[int] = []
    for i, p in enumerate(points):
        if any(_dominates(q, p, signs) for q in points):
            continue
        if any(list(points[j]) == list(p) for j in kept):
            continue
        kept.append(i)
    return kept


def hypervolume_2d(points: Sequence[Sequence[float]], reference: Sequence[float], directions: Sequence[str]) -> float:
    """Area dominated by ``points`` and bounded by ``reference`` (two objectives).

    Each objective is turned into a minimisation; points not better than the reference in both
    objectives add nothing. Units are the objectives' (accuracy points × ms, for example).

    Raises:
        ValueError: not two objectives.
    """
    if len(directions) != 2:
        raise ValueError("hypervolume_2d takes two objectives")
    signs = _signs(directions)
    ref = [s * r for s, r in zip(signs, reference, strict=True)]
    flipped = sorted({(signs[0] * p[0], signs[1] * p[1]) for p in points if signs[0] * p[0] < ref[0]
                      and signs[1] * p[1] < ref[1]})
    area, best_y = 0.0, ref[1]
    for x, y in flipped:
        if y < best_y:
            area += (ref[0] - x) * (best_y - y)
            best_y = y
    return area


def dominated_by(point: Sequence[float], front: Sequence[Sequence[float]], directions: Sequence[str]) -> bool:
    """Whether some member of ``front`` is at least as good as ``point`` everywhere and better somewhere."""
    signs = _signs(directions)
    return any(_dominates(q, point, signs) for q in front)
