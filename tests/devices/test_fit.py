import math

import pytest

from edgeopt.devices import check_fit
from edgeopt.errors import EdgeoptError

# toy_profile: 1000 params, 8,000,000 B peak activations (fp32)
WEIGHTS_FP32 = 4000
RAM_FP32 = 4000 + 8_000_000


def _check(report, name):
    return next(c for c in report.checks if c.name == name)


def test_exactly_equal_fits(toy_profile, make_device):
    device = make_device(storage_bytes=WEIGHTS_FP32, ram_bytes=RAM_FP32)
    report = check_fit(toy_profile, device, "fp32")
    storage, ram = _check(report, "storage"), _check(report, "ram")
    assert storage.passed and storage.margin == 0 and storage.margin_pct == 0
    assert ram.passed and ram.margin == 0
    assert report.fits and report.verdict == "fits" and report.kind == "estimate"


def test_one_byte_over_fails(toy_profile, make_device):
    report = check_fit(toy_profile, make_device(storage_bytes=WEIGHTS_FP32 - 1), "fp32")
    storage = _check(report, "storage")
    assert storage.passed is False and storage.margin == -1 and storage.margin_pct < 0
    assert not report.fits and report.verdict == "does not fit"
    assert "storage" in str(report) and "estimate" in str(report)

    report = check_fit(toy_profile, make_device(ram_bytes=RAM_FP32 - 1), "fp32")
    assert _check(report, "ram").passed is False and _check(report, "storage").passed


def test_margins_positive_and_percent_of_available(toy_profile, make_device):
    report = check_fit(toy_profile, make_device(storage_bytes=8000), "fp32")
    storage = _check(report, "storage")
    assert storage.margin == 4000 and storage.margin_pct == pytest.approx(50.0)


def test_precision_rescales_weights_and_activations(toy_profile, make_device):
    device = make_device(storage_bytes=1000, ram_bytes=1000 + 2_000_000)
    report = check_fit(toy_profile, device, "int8")
    assert _check(report, "storage").required == 1000
    assert _check(report, "ram").required == 2_001_000 and report.fits


def test_artifact_size_replaces_parameter_bytes(toy_profile, make_device):
    report = check_fit(toy_profile, make_device(storage_bytes=5000), "fp32", weights_bytes=5001)
    storage = _check(report, "storage")
    assert storage.required == 5001 and storage.passed is False and "artifact" in storage.detail


def test_no_storage_is_not_applicable(toy_profile, make_device):
    report = check_fit(toy_profile, make_device(storage_bytes=None), "fp32")
    storage = _check(report, "storage")
    assert storage.passed is None and storage.margin is None and report.fits


def test_latency_budget_boundaries(toy_profile, toy_device):
    total = check_fit(toy_profile, toy_device, "fp32", latency_budget_ms=10).latency.total_ms
    assert total == pytest.approx(1.8)
    equal = check_fit(toy_profile, toy_device, "fp32", latency_budget_ms=total)
    assert _check(equal, "latency").passed and _check(equal, "latency").margin == 0
    below = check_fit(toy_profile, toy_device, "fp32", latency_budget_ms=math.nextafter(total, 0))
    assert _check(below, "latency").passed is False and not below.fits
    assert below.to_dict()["verdict"] == "does not fit"


def test_bad_arguments(toy_profile, toy_device):
    with pytest.raises(EdgeoptError, match="latency budget"):
        check_fit(toy_profile, toy_device, latency_budget_ms=0)
    with pytest.raises(EdgeoptError, match="weights_bytes"):
        check_fit(toy_profile, toy_device, weights_bytes=-1)
    with pytest.raises(EdgeoptError, match="fp16"):
        check_fit(toy_profile, toy_device, "fp16", latency_budget_ms=5)
