"""The latency gate: a step is kept only when its file is measurably faster than its parent's."""

from __future__ import annotations

import numpy as np
import pytest

from edgeopt.errors import EdgeoptError
from edgeopt.runtime.gate import compare, median_interval
from edgeopt.runtime.timing import LatencyStats


class FakeRunner:
    """A runner whose blocks take ``ms`` × a seeded noise factor (the mocked timer)."""

    def __init__(self, ms: float, noise: float, seed: int) -> None:
        self.ms = ms
        self.noise = noise
        self.rng = np.random.default_rng(seed)

    def time(self, input: np.ndarray, warmup: int = 10, runs: int = 50) -> LatencyStats:
        samples = [self.ms * (1.0 + self.noise * float(self.rng.standard_normal())) for _ in range(runs)]
        return LatencyStats.from_samples(samples)


def _gate(parent_ms: float, child_ms: float, noise: float = 0.02) -> str:
    x = np.zeros((1, 1, 8, 8), dtype=np.float32)
    gate = compare(FakeRunner(parent_ms, noise, 1), FakeRunner(child_ms, noise, 2), x, rounds=9, runs_per_round=10,
                   warmup=1, max_retries=0)
    assert gate.rounds == 9 and gate.low <= gate.ratio <= gate.high
    return gate.verdict


def test_a_slower_child_is_rolled_back_and_a_faster_one_kept() -> None:
    assert _gate(1.0, 1.3) == "slower"
    assert _gate(1.0, 0.7) == "faster"


def test_a_difference_inside_the_noise_is_not_called_faster() -> None:
    assert _gate(1.0, 0.995, noise=0.2) == "no clear difference"


def test_median_interval_uses_order_statistics() -> None:
    median, low, high, coverage = median_interval([float(v) for v in range(1, 10)], 0.9)
    assert (median, low, high) == (5.0, 2.0, 8.0)
    assert coverage == pytest.approx(1 - 2 * (1 + 9) / 512)
    # Too few values for the asked confidence: the whole range, with the coverage it has.
    assert median_interval([3.0, 1.0, 2.0], 0.9)[1:] == (1.0, 3.0, 0.75)


def test_bad_input_is_one_line() -> None:
    with pytest.raises(EdgeoptError, match="at least 3 rounds"):
        compare(FakeRunner(1, 0, 0), FakeRunner(1, 0, 0), np.zeros(1), rounds=2)
    with pytest.raises(EdgeoptError, match="no values"):
        median_interval([])


def test_files_slower_by_construction_are_rolled_back(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import torch
    from torch import nn

    from edgeopt.export.onnx_export import export_onnx_quick
    from edgeopt.runtime.gate import compare_files

    torch.manual_seed(0)
    small = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU())
    heavy = nn.Sequential(nn.Conv2d(3, 64, 3, padding=1), *[nn.Conv2d(64, 64, 3, padding=1) for _ in range(6)],
                          nn.Conv2d(64, 8, 1))  # the same output shape, about 200× the work
    x = torch.zeros(1, 3, 32, 32)
    parent = export_onnx_quick(small, x, tmp_path / "parent.onnx").path
    child = export_onnx_quick(heavy, x, tmp_path / "child.onnx").path
    assert compare_files(parent, child, rounds=5, runs_per_round=5, max_retries=0).verdict == "slower"
    assert compare_files(child, parent, rounds=5, runs_per_round=5, max_retries=0).keep
