import pytest

from edgeopt.devices.calibration import calibrate_on_host
from edgeopt.errors import EdgeoptError


def test_ratio_is_estimate_over_measured(toy_profile, toy_device):
    # the toy profile estimates 1.8 ms on the toy device (see test_estimates)
    cal = calibrate_on_host(toy_profile, measured_ms=3.6, host=toy_device)
    assert cal.estimated_ms == pytest.approx(1.8) and cal.ratio == pytest.approx(0.5)
    assert cal.estimate_dict() == {"device": "toy-board", "precision": "fp32",
                                   "latency_ms": pytest.approx(1.8), "kind": "estimate"}
    assert "estimate" in str(cal) and "ratio 0.50" in str(cal)


def test_measures_the_host_when_none_given(toy_profile):
    cal = calibrate_on_host(toy_profile, measured_ms=1.0)
    assert cal.device == "host" and cal.estimated_ms > 0


@pytest.mark.parametrize("bad", [0.0, -1.0, float("nan")])
def test_rejects_non_positive_measurements(toy_profile, toy_device, bad):
    with pytest.raises(EdgeoptError, match="measured latency must be positive"):
        calibrate_on_host(toy_profile, measured_ms=bad, host=toy_device)
