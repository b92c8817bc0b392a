"""Entropy calibration: the clipping threshold with the least KL divergence (TensorRT's method).

For each candidate threshold ``t`` (a symmetric window ``[-t, t]`` of the tensor's histogram,
which ONNX Runtime's collector gathers), the values beyond ``t`` are added to the edge bins
(clipping), the window is folded into as many bins as the integer type has levels there, spread
back over the bins that held values, and compared with the clipped distribution: the ``t`` with
the smallest ``KL(p ‖ q)`` wins (MXNet's / TensorRT's algorithm; the zero bins are smoothed with
ε = 10⁻⁴ as ONNX Runtime does). The bin holding zero is a level of its own, as in the MSE search:
zero is always exactly representable (the zero point), and a ReLU output's spike of exact zeros,
spread over its neighbours when folded, would otherwise dominate the divergence and push every
threshold down to the narrowest window (the mnist5k MobileNet's ReLU outputs were clipped to a
third of their range: 95.4 % instead of 98.1 %).

That fix is not the whole story. On the MobileNet trained by ``benchmarks/quantization_methods.py``
(seed 0) entropy still loses 2.7 points (95.9 % vs 98.6 % fp32): on the first ReLU outputs the KL
optimum clips at 0.36 of the maximum where the squared-error optimum is 0.90, and a finer histogram
(0.44) or proportional bin-to-level mapping (0.37) barely moves it. It is the KL criterion on a thin,
long tail, not a coding error; ``calibration="auto"`` measures the methods and avoids it there.

Why not ONNX Runtime's own search: it folds every window into 128 bins whatever the tensor, i.e.
64 levels on ``[0, t]`` for a ReLU output that uint8 covers with 256, so its optimum clips far too
much (the mnist5k MobileNet fell to 96.7 % with 2048 bins, 1.4 points below float); and it loops
in Python over every candidate and bin (87 s for that model's 60 tensors). Here the window is
folded into ``2 × levels`` bins over ``[-t, t]`` (512 for a tensor with no negative values under
uint8: 256 levels on ``[0, t]``; 256 otherwise), and each candidate is a handful of array operations.

Example:
    >>> hist, edges = np.histogram(np.random.default_rng(0).exponential(size=100_000), 2048, range=(-12, 12))
    >>> lo, hi = entropy_range(hist, edges, 0.0, 11.5)
    >>> 0 < hi < 11.5
    True
"""

from __future__ import annotations

import numpy as np

EPS = 1e-4


def _smooth(p: np.ndarray) -> np.ndarray | None:
    zeros = p == 0
    n_zeros = int(zeros.sum())
    n_nonzeros = p.size - n_zeros
    if n_nonzeros == 0:
        return None
    eps1 = EPS * n_zeros / n_nonzeros
    if eps1 >= 1.0:
        return None
    out = p.astype(np.float64)
    out += np.where(zeros, EPS, -eps1)
    return out if bool((out > 0).all()) else None


def _kl(p: np.ndarray, q: np.ndarray) -> float:
    p = p / p.sum()
    q = q / q.sum()
    return float(np.sum(p * np.log(p / q)))


def entropy_range(
    hist: np.ndarray, edges: np.ndarray, minimum: float, maximum: float, *, levels: int = 256,
    signed_levels: int = 256, stride: int = 2,
) -> tuple[float, float]:
    """The ``(lo, hi)`` range whose clipping threshold minimises the KL divergence.

    Args:
        hist: Counts of a histogram symmetric around zero (ORT's ``collect_value``).
        edges: Its bin edges.
        minimum, maximum: The observed extremes (the result is clamped to them).
        levels: Integer levels on ``[0, t]`` for a tensor without negative values (uint8: 256,
            symmetric int8: 128).
        signed_levels: Integer levels on ``[-t, t]`` for a tensor with negative values (256).
        stride: Candidates every ``stride`` bins (2: 0.1 % of the range with 2048 bins).

    Returns:
        ``(lo, hi)``, containing zero.
    """
    counts = np.asarray(hist, np.float64)
    n = counts.size
    zero = n // 2
    folded = 2 * levels if minimum >= 0 else signed_levels
    half = folded // 2
    if n < folded or counts.sum() <= 0:
        return min(float(minimum), 0.0), max(float(maximum), 0.0)
    cumulative = np.concatenate([[0.0], np.cumsum(counts)])
    best, best_i = np.inf, zero
    for i in range(half, zero + 1, stride):
        start, end = zero - i, min(zero + i + 1, n)
        sliced = counts[start:end]
        p = sliced.copy()
        p[0] += cumulative[start]
        p[-1] += cumulative[n] - cumulative[end]
        merged = max(1, sliced.size // folded)
        index = np.minimum(np.arange(sliced.size) // merged, folded - 1)
        index[zero - start] = folded  # zero is exact (the zero point): its bin is a level of its own
        nonzero = p != 0
        quantized = np.bincount(index, weights=sliced, minlength=folded + 1)
        norm = np.bincount(index, weights=nonzero.astype(np.float64), minlength=folded + 1)
        q = np.where(nonzero, quantized[index] / np.maximum(norm[index], 1.0), 0.0)
        ps, qs = _smooth(p), _smooth(q)
        divergence = np.inf if ps is None or qs is None else _kl(ps, qs)
        if divergence < best:
            best, best_i = divergence, i
    lo = max(float(edges[zero - best_i]), float(minimum))
    hi = min(float(edges[min(zero + best_i + 1, n)]), float(maximum))
    return min(lo, 0.0), max(hi, 0.0)
