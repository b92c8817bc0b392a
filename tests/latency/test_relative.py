"""Latency as a ratio to a reference: more work gives a larger ratio; a pinned scale is the unit."""

from __future__ import annotations

import pytest
from torch import nn

from edgeopt.errors import EdgeoptError
from edgeopt.latency.onnx_writer import write_onnx
from edgeopt.latency.relative import measure_relative, reference_file


def _convs(path, layers: int, channels: int = 32, size: int = 32):
    model = nn.Sequential(*[nn.Sequential(nn.Conv2d(channels, channels, 3, padding=1), nn.ReLU())
                            for _ in range(layers)])
    write_onnx(model, (1, channels, size, size), path)
    return path


def test_a_file_with_eight_times_the_work_has_a_larger_ratio(tmp_path):
    small, large = _convs(tmp_path / "small.onnx", 1), _convs(tmp_path / "large.onnx", 8)
    result = measure_relative([small, large, small], threads=1, passes=2, rounds=5, runs=5)
    assert result.ratios[1] > 3 * result.ratios[0]  # 8x the MACs: well over 3x even with overhead
    assert result.ratios[0] == pytest.approx(result.ratios[2], rel=0.5)  # the same file twice
    assert all(len(p) == 2 for p in result.pass_ratios)
    assert result.ms == [r * result.reference_ms for r in result.ratios]
    assert 0 < result.reference_ms < 100


def test_a_pinned_scale_is_the_unit_of_the_figures(tmp_path):
    file = _convs(tmp_path / "a.onnx", 2)
    reference = reference_file(tmp_path)
    result = measure_relative([file, reference], threads=1, passes=1, rounds=3, runs=3, reference=reference,
                              reference_ms=2.0)
    assert result.reference_ms == 2.0
    assert result.ratios[1] == pytest.approx(1.0, rel=0.35)  # the reference against itself
    assert result.ms[0] == pytest.approx(2.0 * result.ratios[0])


def test_files_timed_in_one_group_keep_their_own_ratios(tmp_path):
    small, large = _convs(tmp_path / "small.onnx", 1), _convs(tmp_path / "large.onnx", 8)
    result = measure_relative([large, small, large, small, small], threads=1, passes=1, rounds=4, runs=3, group=3)
    assert min(result.ratios[0], result.ratios[2]) > 3 * max(result.ratios[1], result.ratios[3], result.ratios[4])
    assert all(len(p) == 1 for p in result.pass_ratios)  # the second group (2 files) measured too


def test_bad_counts_and_files_are_refused(tmp_path):
    with pytest.raises(EdgeoptError, match="passes must be a positive integer"):
        measure_relative([tmp_path / "a.onnx"], passes=0)
    with pytest.raises(EdgeoptError, match="group must be a positive integer"):
        measure_relative([tmp_path / "a.onnx"], group=0)
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"not onnx")
    with pytest.raises(EdgeoptError, match="cannot load"):
        measure_relative([broken], passes=1, rounds=1, runs=1)
