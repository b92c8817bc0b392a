import pytest

from edgeopt.analysis.results import LayerCost, ModelProfile
from edgeopt.devices import estimate_energy, estimate_latency, get_device
from edgeopt.errors import EdgeoptError


def test_roofline_fp32_hand_computed(toy_profile, toy_device):
    est = estimate_latency(toy_profile, toy_device, "fp32")
    conv, relu = est.layers
    # conv: 2 x 50M ops / 100 GFLOP/s = 1 ms; 12,000 B / 10 GB/s = 0.0012 ms -> compute-bound
    assert conv.ops == 100_000_000 and conv.bytes_moved == 12_000
    assert conv.compute_ms == pytest.approx(1.0) and conv.memory_ms == pytest.approx(0.0012)
    assert conv.bound == "compute" and conv.ms == pytest.approx(1.0)
    # relu: 8 MB / 10 GB/s = 0.8 ms, no MACs -> memory-bound
    assert relu.bytes_moved == 8_000_000 and relu.bound == "memory"
    assert relu.ms == pytest.approx(0.8)
    assert est.total_ms == pytest.approx(1.8)
    assert est.compute_bound_ms == pytest.approx(1.0) and est.memory_bound_ms == pytest.approx(0.8)
    assert est.bound == "compute" and est.kind == "estimate"
    assert "estimate" in str(est) and est.to_dict()["kind"] == "estimate"


def test_roofline_int8_scales_bytes_and_peak(toy_profile, toy_device):
    est = estimate_latency(toy_profile, toy_device, "int8")
    conv, relu = est.layers
    assert conv.bytes_moved == 3000 and conv.ms == pytest.approx(0.25)  # 1e8 / 4e11 s
    assert relu.bytes_moved == 2_000_000 and relu.ms == pytest.approx(0.2)
    assert est.total_ms == pytest.approx(0.45)


def test_memory_bound_model_is_reported_so(toy_device):
    layer = LayerCost("fc", "Linear", (1, 10), params=1_000_000, macs=1_000_000,
                      activation_bytes=40, input_bytes=400_000)
    p = ModelProfile(1_000_000, 1_000_000, 4_000_000, 0, 400_040, "fc", (1, 100_000), [layer])
    est = estimate_latency(p, toy_device, "fp32")
    # 4,400,040 B / 10 GB/s = 0.440004 ms > 2e6 ops / 1e11 = 0.02 ms
    assert est.bound == "memory" and est.total_ms == pytest.approx(0.440004)


def test_pure_views_move_nothing(toy_device):
    view = LayerCost("flatten", "Flatten", (1, 1000), 0, 0, 4000, alias=True, input_bytes=4000)
    p = ModelProfile(0, 0, 0, 0, 4000, "flatten", (1, 1000), [view])
    assert estimate_latency(p, toy_device).total_ms == 0


def test_unsupported_precision_names_the_supported_ones(toy_profile, toy_device):
    with pytest.raises(EdgeoptError, match="fp16") as err:
        estimate_latency(toy_profile, toy_device, "fp16")
    assert "fp32, int8" in err.value.hint
    with pytest.raises(EdgeoptError, match="unknown precision"):
        estimate_latency(toy_profile, toy_device, "fp8")


def test_energy_hand_computed(toy_profile, toy_device):
    e = estimate_energy(toy_profile, toy_device, "fp32")
    assert e.mac_pj == pytest.approx(4.6)  # 3.7 + 0.9 pJ
    assert e.compute_mj == pytest.approx(0.23)  # 50e6 x 4.6 pJ
    assert e.bytes_moved == 8_012_000
    assert e.memory_mj == pytest.approx(1.28192)  # 2,003,000 words x 640 pJ
    assert e.total_mj == pytest.approx(1.51192)
    assert e.device_power_mj == pytest.approx(3.6)  # 2 W x 1.8 ms
    assert e.kind == "estimate" and "estimate" in str(e) and "Horowitz" in e.source


def test_energy_int8(toy_profile, toy_device):
    e = estimate_energy(toy_profile, toy_device, "int8")
    assert e.compute_mj == pytest.approx(0.0115)  # 50e6 x (0.2 + 0.03) pJ
    assert e.memory_mj == pytest.approx(0.32048)  # (3000 + 2e6) / 4 x 640 pJ
    assert e.device_power_mj == pytest.approx(0.9)  # 2 W x 0.45 ms


def test_energy_without_power_figure(toy_profile, make_device):
    device = make_device(typical_power_w=None)
    assert estimate_energy(toy_profile, device).device_power_mj is None


def test_real_model_on_catalog_devices():
    from edgeopt.analysis import profile
    from edgeopt.models import create_model

    p = profile(create_model("mobilenet_v1", width_mult=0.25), (1, 3, 128, 128))
    pi, a100 = get_device("raspberry-pi-4"), get_device("nvidia-a100")
    assert estimate_latency(p, a100).total_ms < estimate_latency(p, pi).total_ms
    assert estimate_latency(p, pi, "int8").total_ms < estimate_latency(p, pi, "fp32").total_ms
