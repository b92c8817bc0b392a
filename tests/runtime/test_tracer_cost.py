"""ONNX Runtime's profiler cost: how it is split over kernels, and that the probes measure one.

Timing is not asserted beyond signs and bounds (the machine is shared).
"""

from __future__ import annotations

import numpy as np
import pytest

from edgeopt.runtime.tracer_cost import TracerCost, ort_tracer_cost


def test_the_cost_is_split_by_event_weight_and_never_leaves_a_negative_time():
    cost = TracerCost(base_ms=0.002, per_tensor_ms=0.001, in_event_share=0.5)
    times = np.array([0.010, 0.100, 0.001])
    tensors = [2, 10, 2]  # weights 0.004, 0.012, 0.004: shares 1/5, 3/5, 1/5 of 0.5 × 0.02 ms
    net = cost.net(times, tensors, run_extra_ms=0.02)
    assert net == pytest.approx([0.010 - 0.002, 0.100 - 0.006, 0.0])
    blocks = cost.net(np.vstack([times, times]), tensors, run_extra_ms=0.02)
    assert blocks.shape == (2, 3) and blocks[1] == pytest.approx(net)


def test_a_traced_run_no_slower_than_the_untraced_one_takes_nothing_off():
    cost = TracerCost(base_ms=0.002, per_tensor_ms=0.001, in_event_share=0.6)
    times = np.array([0.01, 0.02])
    assert cost.net(times, [2, 3], run_extra_ms=-0.5) == pytest.approx(times)
    assert cost.net(np.array([]), [], run_extra_ms=1.0).size == 0


def test_the_probes_measure_a_cost_inside_the_events():
    cost = ort_tracer_cost(threads=1, kernels=16, rounds=1, runs=20)
    assert 0.0 < cost.in_event_share <= 1.0
    assert cost.base_ms >= 0.0 and cost.per_tensor_ms >= 0.0
    assert cost.base_ms + 2 * cost.per_tensor_ms > 0.0  # an event of a no-work kernel lasts longer than its run share
