"""Is a file really faster than its parent? The latency ratio with a confidence interval.

A step that claims speed (int8, pruning, fusion, another runtime) is worth keeping only if the
deployed file is faster than the one it came from by more than the measurement noise. Both files
are timed in the same interleaved rounds (:func:`~edgeopt.runtime.timing.interleaved_latency`:
alternating order, blocks redone in slow phases), and each round gives one ratio child / parent
from two blocks taken next to each other in time, so slow phases of the machine hit both. The
estimate is the median of the round ratios; its interval is distribution-free (the binomial
order statistics that bracket a median), so a few disturbed rounds cannot make it: with 9
rounds, the 2nd and 8th smallest ratios bound the median with 96 % confidence.

The verdict is ``faster`` only if the whole interval lies below 1, ``slower`` if it lies above 1,
and ``no clear difference`` otherwise: a rollback rule never ships a file that is not measurably
faster.

Example:
    >>> gate = compare_files("model.onnx", "model.int8.onnx", rounds=9)
    >>> gate.verdict, round(gate.ratio, 2), gate.interval
    ('faster', 0.58, (0.55, 0.61))
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from edgeopt.errors import EdgeoptError
from edgeopt.runtime.timing import Timeable, interleaved_latency

DEFAULT_ROUNDS = 9
DEFAULT_CONFIDENCE = 0.9


@dataclass(frozen=True)
class LatencyGate:
    """A child file's latency against its parent's.

    Attributes:
        parent_ms, child_ms: Median of each file's round medians.
        ratio: Median of the per-round ratios child / parent (< 1: the child is faster).
        low, high: The interval of that median at ``confidence`` (order statistics).
        confidence: The interval's coverage actually achieved (≥ the one asked for).
        rounds: Rounds timed.
    """

    parent_ms: float
    child_ms: float
    ratio: float
    low: float
    high: float
    confidence: float
    rounds: int

    @property
    def interval(self) -> tuple[float, float]:
        """``(low, high)``, rounded to three digits for display."""
        return round(self.low, 3), round(self.high, 3)

    @property
    def verdict(self) -> str:
        """``faster``, ``slower`` or ``no clear difference`` (see the module docstring)."""
        if self.high < 1.0:
            return "faster"
        if self.low > 1.0:
            return "slower"
        return "no clear difference"

    @property
    def keep(self) -> bool:
        """Whether a step that claims speed is kept: only when it is measurably faster."""
        return self.verdict == "faster"

    def __str__(self) -> str:
        return (f"{self.verdict}: {self.child_ms:.4g} ms vs {self.parent_ms:.4g} ms, ratio {self.ratio:.3f} "
                f"[{self.low:.3f}, {self.high:.3f}] ({self.confidence:.0%}, {self.rounds} rounds)")

    def to_dict(self) -> dict[str, Any]:
        """Plain data, with the verdict."""
        return {**asdict(self), "verdict": self.verdict}


def median_interval(values: list[float], confidence: float = DEFAULT_CONFIDENCE) -> tuple[float, float, float, float]:
    """The median of ``values`` and a distribution-free interval for it.

    The interval is ``[x(k), x(n+1-k)]`` of the sorted values with the largest ``k`` whose
    coverage ``1 - 2 P(Binomial(n, 1/2) < k)`` is at least ``confidence``; with too few values for
    that, the whole range (and its smaller coverage).

    Returns:
        ``(median, low, high, coverage)``.

    Raises:
        EdgeoptError: no values, or a confidence outside (0, 1).

    Example:
        >>> median_interval([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0], 0.9)
        (5.0, 2.0, 8.0, 0.9609375)
    """
    if not values:
        raise EdgeoptError("no values to take a median of")
    if not 0.0 < confidence < 1.0:
        raise EdgeoptError(f"confidence must lie in (0, 1), got {confidence}")
    ordered = sorted(values)
    n = len(ordered)
    median = float(np.median(ordered))
    best_k, best_coverage = 1, _coverage(n, 1)
    for k in range(1, n // 2 + 1):
        coverage = _coverage(n, k)
        if coverage < confidence:
            break
        best_k, best_coverage = k, coverage
    return median, ordered[best_k - 1], ordered[n - best_k], best_coverage


def _coverage(n: int, k: int) -> float:
    # P(x(k) <= median <= x(n+1-k)) = 1 - 2 * P(Binomial(n, 1/2) <= k - 1)
    tail = sum(math.comb(n, i) for i in range(k)) / 2.0 ** n
    return 1.0 - 2.0 * tail


def compare(parent: Timeable, child: Timeable, input: np.ndarray | dict[str, np.ndarray], *,
            rounds: int = DEFAULT_ROUNDS, runs_per_round: int = 20, warmup: int = 10,
            confidence: float = DEFAULT_CONFIDENCE, **timing: Any) -> LatencyGate:
    """Time ``parent`` and ``child`` interleaved and compare them (see the module docstring).

    Args:
        parent, child: Runners (anything with ``time``).
        input: The batch both run, or ``{"parent": x, "child": y}`` when their inputs differ.
        rounds: Interleaved rounds (each gives one ratio).
        runs_per_round: Timed runs per block.
        warmup: Untimed calls per runner first.
        confidence: Coverage of the ratio's interval.
        **timing: Passed to :func:`interleaved_latency` (``max_retries``, ``retry_pause_s``...).

    Raises:
        EdgeoptError: fewer than 3 rounds, or bad timing options.
    """
    if isinstance(rounds, bool) or not isinstance(rounds, int) or rounds < 3:
        raise EdgeoptError(f"a latency gate needs at least 3 rounds, got {rounds!r}",
                           hint="9 rounds give a 96% interval from the 2nd to the 8th ratio")
    measured = interleaved_latency({"parent": parent, "child": child}, input, rounds=rounds,
                                   runs_per_round=runs_per_round, warmup=warmup, **timing)
    pairs = zip(measured["child"].round_medians_ms, measured["parent"].round_medians_ms, strict=True)
    ratios = [c / p for c, p in pairs]
    ratio, low, high, coverage = median_interval(ratios, confidence)
    return LatencyGate(measured["parent"].median_ms, measured["child"].median_ms, ratio, low, high, coverage, rounds)


def compare_files(parent: str | os.PathLike[str], child: str | os.PathLike[str], *, threads: int = 2,
                  rounds: int = DEFAULT_ROUNDS, runs_per_round: int = 20,
                  confidence: float = DEFAULT_CONFIDENCE, trust_code: bool = False, **timing: Any) -> LatencyGate:
    """:func:`compare` two files, each in its own runtime, on seeded random inputs of their shapes.

    ``timing`` goes to :func:`~edgeopt.runtime.timing.interleaved_latency` (``max_retries``...).

    Raises:
        EdgeoptError: a file no runtime opens, or bad options.
    """
    from edgeopt.artifact import Artifact
    from edgeopt.runtime.benchmark import open_runner, timing_input_for

    files = {"parent": Artifact.from_file(parent), "child": Artifact.from_file(child)}
    runners = {name: open_runner(art, threads=threads, trust_code=trust_code) for name, art in files.items()}
    inputs = {name: timing_input_for(files[name], runners[name]) for name in files}
    return compare(runners["parent"], runners["child"], inputs, rounds=rounds, runs_per_round=runs_per_round,
                   confidence=confidence, **timing)
