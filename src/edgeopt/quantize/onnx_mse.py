"""MSE calibration: the activation range that minimises the expected int8 quantization error.

ONNX Runtime's calibrators offer min-max, percentile and entropy (KL) but no MSE, so edgeopt
computes MSE ranges itself from the histogram ORT's :class:`HistogramCollector` gathers, and feeds
them to ``quantize_static`` like any other range (through its calibration cache).

For a tensor whose calibration values have histogram counts ``n_i`` at bin centres ``c_i``, a
candidate range ``[lo, hi]`` with 256 levels (step ``Δ = (hi - lo) / 255``) costs

    MSE(lo, hi) = Σ n_i · e_i / Σ n_i,   e_i = Δ² / 12             if lo <= c_i <= hi (rounding)
                                         e_i = (c_i - clip(c_i))²  otherwise          (clipping)

The search scales the observed range: ``[α·min, α·max]`` for ``α`` on a grid in (0, 1], and keeps
the ``α`` with the lowest cost. Small ``α`` clips outliers but quantizes the bulk finely; ``α = 1``
is min-max. The bin holding zero counts as exact: zero is always representable (the zero point),
and after a ReLU it holds most values, whose Δ²/12 charge would otherwise push the range down.

Example:
    >>> hist, edges = np.histogram(np.random.default_rng(0).normal(size=10_000), 2048)
    >>> lo, hi = mse_range(hist, edges, -4.0, 4.0)
    >>> -4.0 < lo < 0 < hi < 4.0
    True
"""

from __future__ import annotations

import numpy as np

LEVELS = 255  # steps between the 256 codes of an 8-bit type
ALPHA_GRID = np.linspace(0.02, 1.0, 200)  # 0.5 % resolution on the clipping point


def mse_range(
    hist: np.ndarray, edges: np.ndarray, minimum: float, maximum: float
) -> tuple[float, float]:
    """The ``(lo, hi)`` range minimising the expected quantization MSE of a histogram.

    Args:
        hist: Counts per bin.
        edges: Bin edges (``len(hist) + 1``).
        minimum, maximum: Smallest and largest value observed (the min-max range).

    Returns:
        ``(lo, hi)`` with ``lo <= 0 <= hi`` (a quantized range always contains zero).

    Example:
        >>> mse_range(np.array([0, 10, 0]), np.array([-1.0, 0.0, 1.0, 2.0]), 0.0, 1.0)
        (0.0, 1.0)
    """
    lo_max, hi_max = min(float(minimum), 0.0), max(float(maximum), 0.0)
    counts = np.asarray(hist, dtype=np.float64)
    total = counts.sum()
    if total <= 0 or hi_max - lo_max <= 0:
        return lo_max, hi_max
    centres = (np.asarray(edges[:-1], np.float64) + np.asarray(edges[1:], np.float64)) / 2
    exact = (np.asarray(edges[:-1]) <= 0) & (np.asarray(edges[1:]) >= 0)
    costs = [_cost(counts, centres, exact, a * lo_max, a * hi_max) / total for a in ALPHA_GRID]
    best = float(ALPHA_GRID[int(np.argmin(costs))])
    return best * lo_max, best * hi_max


def _cost(counts: np.ndarray, centres: np.ndarray, exact: np.ndarray, lo: float, hi: float) -> float:
    """Summed squared error over the histogram for the range ``[lo, hi]``."""
    step = (hi - lo) / LEVELS
    clipped = np.clip(centres, lo, hi)
    outside = (centres - clipped) ** 2
    inside = np.where(exact, 0.0, step * step / 12.0)
    error = np.where(centres == clipped, inside, outside)
    return float(np.dot(counts, error))
