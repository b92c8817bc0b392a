import json

import numpy as np
import pytest
import torch

from edgeopt.errors import EdgeoptError
from edgeopt.runtime import BaseRunner, LatencyStats, interleaved_latency, measure_latency, speed_probe, timing


class MatmulRunner(BaseRunner):
    """A real, cheap workload; records the order in which blocks are timed."""

    runtime = "numpy"

    def __init__(self, name: str, log: list[str], size: int = 32) -> None:
        self.name, self.log = name, log
        self.weight = np.random.default_rng(0).standard_normal((size, size)).astype(np.float32)

    def _infer(self, batch):
        return batch.reshape(len(batch), -1)[:, : len(self.weight)] @ self.weight

    def time(self, input, warmup=10, runs=50):
        self.log.append(self.name)
        return super().time(input, warmup, runs)


def test_measure_latency_counts_and_orders():
    calls = []
    stats = measure_latency(lambda: calls.append(1), warmup=4, runs=50)
    assert len(calls) == 54 and stats.runs == 50
    assert 0 <= stats.min_ms <= stats.median_ms <= stats.p90_ms
    assert stats.spread_ms == (stats.median_ms, stats.median_ms)
    json.dumps(stats.to_dict())


@pytest.mark.parametrize("kwargs", [{"runs": 0}, {"runs": 2.5}, {"warmup": -1}])
def test_measure_latency_rejects_bad_counts(kwargs):
    with pytest.raises(EdgeoptError):
        measure_latency(lambda: None, **kwargs)


def test_median_of_round_medians_is_the_headline():
    stats = LatencyStats.from_samples([1.0, 1.0, 1.0, 9.0, 9.0, 2.0], round_medians_ms=[1.0, 9.0, 2.0])
    assert stats.median_ms == 2.0 and stats.spread_ms == (1.0, 9.0) and stats.min_ms == 1.0


def test_speed_probe_is_positive_and_restores_threads():
    before = torch.get_num_threads()
    assert 0 < speed_probe() < 1000
    assert torch.get_num_threads() == before


def test_interleaved_latency_alternates_and_reports_all(monkeypatch):
    monkeypatch.setattr(timing, "speed_probe", lambda: 1.0)  # a steady machine
    log: list[str] = []
    runners = {"a": MatmulRunner("a", log), "b": MatmulRunner("b", log, size=64)}
    x = np.ones((1, 1, 8, 8), np.float32)
    result = interleaved_latency(runners, x, rounds=4, runs_per_round=10, warmup=2)
    assert sorted(result) == ["a", "b"]
    warmup, rounds = ["a", "b"], ["a", "b", "b", "a", "a", "b", "b", "a"]
    assert log == warmup + rounds
    for stats in result.values():
        assert stats.runs == 40 and len(stats.round_medians_ms) == 4
        low, high = stats.spread_ms
        assert low <= stats.median_ms <= high and stats.min_ms <= stats.median_ms <= stats.p90_ms
        assert stats.retries == 0 and stats.slow_blocks == 0


def test_blocks_in_a_slow_phase_are_redone(monkeypatch):
    # Probes: 3 seeding at 1.0, then the first block is bracketed by a slow probe (2.0 > 1.3),
    # its redo by normal ones; every later probe is normal.
    probes = iter([1.0, 1.0, 1.0, 2.0, 1.0, 1.0, 1.0])
    monkeypatch.setattr(timing, "speed_probe", lambda: next(probes, 1.0))
    log: list[str] = []
    result = interleaved_latency({"a": MatmulRunner("a", log)}, np.ones((1, 64), np.float32),
                                 rounds=2, runs_per_round=5, warmup=0, retry_pause_s=0)
    assert result["a"].retries == 1 and result["a"].slow_blocks == 0
    assert log == ["a", "a", "a", "a"]  # warm-up, slow block, its redo, round 2
    assert result["a"].runs == 10  # the discarded block's samples are not reported


def test_a_block_still_slow_after_retries_is_kept_and_counted(monkeypatch):
    probes = iter([1.0, 1.0, 1.0])
    monkeypatch.setattr(timing, "speed_probe", lambda: next(probes, 5.0))
    result = interleaved_latency({"a": MatmulRunner("a", [])}, np.ones((1, 64), np.float32),
                                 rounds=2, runs_per_round=5, warmup=0, max_retries=2, retry_pause_s=0)
    assert result["a"].retries == 4 and result["a"].slow_blocks == 2 and result["a"].runs == 10


def test_per_runner_inputs(monkeypatch):
    monkeypatch.setattr(timing, "speed_probe", lambda: 1.0)
    runners = {"small": MatmulRunner("s", []), "big": MatmulRunner("b", [], size=64)}
    inputs = {"small": np.ones((1, 32), np.float32), "big": np.ones((2, 64), np.float32)}
    result = interleaved_latency(runners, inputs, rounds=1, runs_per_round=3, warmup=0)
    assert {k: v.runs for k, v in result.items()} == {"small": 3, "big": 3}
    with pytest.raises(EdgeoptError, match="no input given"):
        interleaved_latency(runners, {"small": inputs["small"]}, rounds=1)
    with pytest.raises(EdgeoptError, match="no runners"):
        interleaved_latency({}, inputs["small"])
