"""Calibration methods: each runs on a real model and gives the ranges it should."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from edgeopt.data import calibration_subset, load_dataset
from edgeopt.errors import EdgeoptError
from edgeopt.models import create_model
from edgeopt.quantize.calibration import (
    CALIBRATION_METHODS,
    calibration_array,
    check_method,
    compute_ranges,
    range_table,
)
from edgeopt.quantize.onnx_mse import mse_range
from edgeopt.quantize.onnx_prepare import prepare_onnx
from edgeopt.runtime import scoped_threads
from edgeopt.train import TrainConfig, fit


def test_mse_range_matches_the_known_optimum_for_a_laplace_tail_and_keeps_a_uniform_range():
    rng = np.random.default_rng(0)
    half = rng.laplace(size=100_000)
    values = np.concatenate([half, -half])  # symmetric, so the optimum is one clipping value
    hist, edges = np.histogram(values, 2048)
    lo, hi = mse_range(hist, edges, values.min(), values.max())
    # Banner et al. (ACIQ, 2019): for Laplace(b=1) and 8 bits the MSE-optimal clip is 9.89 b,
    # while min-max here spans about ±12.
    assert lo == pytest.approx(-hi) and 8.9 < hi < 10.9 < values.max()
    uniform = rng.uniform(0, 1, 100_000)
    hist, edges = np.histogram(uniform, 2048, range=(-1, 1))
    lo, hi = mse_range(hist, edges, 0.0, 1.0)
    assert lo == 0.0 and hi > 0.95  # nothing to clip: clipping a flat distribution only hurts


def test_mse_range_always_contains_zero():
    hist, edges = np.histogram(np.full(100, 5.0), 16, range=(-6, 6))
    lo, hi = mse_range(hist, edges, 5.0, 5.0)
    assert lo == 0.0 and hi > 0


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


@pytest.fixture(scope="module")
def prepared(digits, tmp_path_factory):
    model = create_model("simple_cnn", num_classes=10, in_chans=1)
    with scoped_threads(1):
        fit(model, digits.train, digits.val, TrainConfig(epochs=1, progress=False))
    return prepare_onnx(model, torch.zeros(1, 1, 8, 8), tmp_path_factory.mktemp("calib"))


@pytest.mark.slow
def test_every_method_gives_ranges_and_they_differ_where_they_should(prepared, digits):
    samples = calibration_array(calibration_subset(digits.train, 128))
    tables = {m: range_table(compute_ranges(prepared.path, samples, m)) for m in CALIBRATION_METHODS}
    minmax = tables["minmax"]
    assert "input" in minmax and len(minmax) >= 5
    for method, table in tables.items():
        assert table.keys() == minmax.keys(), method
        for name, (lo, hi) in table.items():
            assert np.isfinite(lo) and np.isfinite(hi) and lo <= hi, (method, name)
    # min-max takes the extremes; percentile and MSE clip some tensor's tail; entropy differs.
    # (128 images are too few for the 99.999th percentile to cut anything; MSE does.)
    for method in ("percentile", "mse"):
        widths = {n: table_hi - table_lo for n, (table_lo, table_hi) in tables[method].items()}
        assert all(widths[n] <= minmax[n][1] - minmax[n][0] + 1e-5 for n in minmax), method
    mse_widths = {n: hi - lo for n, (lo, hi) in tables["mse"].items()}
    assert any(mse_widths[n] < 0.995 * (minmax[n][1] - minmax[n][0]) for n in minmax)
    assert tables["entropy"] != minmax
    assert tables["mse"] != tables["percentile"]


def test_unknown_method_is_an_error_with_a_suggestion():
    with pytest.raises(EdgeoptError, match="unknown calibration method 'entropi'.*entropy"):
        check_method("entropi")


def test_calibration_data_errors_name_the_problem():
    with pytest.raises(EdgeoptError, match="empty"):
        calibration_array(torch.zeros(0, 1, 8, 8))
    with pytest.raises(EdgeoptError, match="has 5 samples; static int8 needs at least 16"):
        calibration_array(torch.zeros(5, 1, 8, 8))
    bad = torch.zeros(32, 1, 8, 8)
    bad[3, 0, 2, 2] = float("nan")
    bad[4, 0, 1, 1] = float("inf")
    with pytest.raises(EdgeoptError, match="2 NaN/Inf"):
        calibration_array(bad)


def test_calibration_data_accepts_datasets_tensors_and_arrays(digits):
    subset = calibration_subset(digits.train, 20)
    assert calibration_array(subset).shape == (20, 1, 8, 8)
    assert calibration_array(subset.tensors[0]).dtype == np.float32
    assert calibration_array(subset.tensors[0].numpy().astype(np.float64)).dtype == np.float32
