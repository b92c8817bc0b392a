import json

import numpy as np
import pytest
import torch

from edgeopt.errors import EdgeoptError
from edgeopt.export import check_parity, compare_outputs, parity_inputs
from edgeopt.runtime import OnnxRuntimeRunner


def test_compare_outputs_figures():
    ref = [np.array([[10.0, -2.0, 0.0]]), np.array([[1.0, 3.0, 0.5]])]
    out = [ref[0] + np.array([[0.0, 0.0, 5e-3]]), ref[1].copy()]
    report = compare_outputs(ref, out, rtol=1e-4, atol=1e-5)
    assert report.max_abs_error == pytest.approx(5e-3)
    assert report.max_rel_error == pytest.approx(5e-4)  # relative to the batch's largest |logit|
    assert report.passed is False  # 5e-3 > 1e-5 + 1e-4 * 10
    assert report.top1_agreement == 1.0 and report.n_samples == 2
    assert compare_outputs(ref, out, rtol=1e-3, atol=1e-5).passed


def test_near_zero_logit_does_not_fail_a_scale_relative_check():
    ref = [np.array([[20.0, 1e-6]])]
    out = [np.array([[20.0 + 1e-4, 1e-6 + 1e-4]])]  # 1e-4 off everywhere: fp32 noise at scale 20
    assert compare_outputs(ref, out, rtol=1e-4, atol=1e-5).passed


def test_non_finite_output_fails():
    ref = [np.array([[1.0, 2.0]])]
    assert not compare_outputs(ref, [np.array([[np.nan, 2.0]])], rtol=1e-4, atol=1e-5).passed


def test_shape_mismatch_is_an_error():
    with pytest.raises(EdgeoptError, match="returned shape"):
        compare_outputs([np.zeros((1, 10))], [np.zeros((1, 5))], rtol=1e-4, atol=1e-5)


def test_parity_inputs_cover_example_random_and_real_batches():
    real = torch.randn(70, 1, 8, 8)
    batches = parity_inputs(torch.zeros(1, 1, 8, 8), real)
    assert [b.shape[0] for b in batches] == [1, 1, 3, 2, 64, 6]
    assert torch.equal(parity_inputs(torch.zeros(1, 2))[1], parity_inputs(torch.zeros(1, 2))[1])  # seeded


def test_perturbed_weight_after_export_is_detected(trained_cnn, cnn_artifact):
    model = trained_cnn
    runner = OnnxRuntimeRunner(cnn_artifact.path)
    with torch.no_grad():
        model.classifier.bias[3] += 0.5
    try:
        with pytest.raises(EdgeoptError, match="does not match the eager model") as info:
            check_parity(model, runner, parity_inputs(torch.zeros(1, 1, 8, 8)))
        assert "max abs error 0.5" in info.value.message and "top-1 agreement" in info.value.message
    finally:
        with torch.no_grad():
            model.classifier.bias[3] -= 0.5
    report = check_parity(model, runner, parity_inputs(torch.zeros(1, 1, 8, 8)))
    assert report.passed and report.max_abs_error < 1e-4
    json.dumps(report.to_dict())
