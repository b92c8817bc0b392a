import pytest

from edgeopt.analysis.results import LayerCost, ModelProfile
from edgeopt.devices import Device

FIGURES = ("peak_gops.fp32", "peak_gops.int8", "memory_bandwidth_gbs", "ram_bytes",
           "storage_bytes", "typical_power_w")


def device_dict(**changes):
    """A made-up device: 100 GFLOP/s fp32, 400 GOP/s int8, no fp16, 10 GB/s, 2 W."""
    data = {
        "name": "toy-board", "display_name": "Toy board", "category": "single-board",
        "peak_gops": {"fp32": 100.0, "fp16": None, "int8": 400.0},
        "memory_bandwidth_gbs": 10.0, "ram_bytes": 10_000_000, "storage_bytes": 4_000_000,
        "typical_power_w": 2.0, "sources": dict.fromkeys(FIGURES, "made up for a test"),
    }
    data.update(changes)
    return data


@pytest.fixture
def device_data():
    """The toy device's raw dict (for device files), with some fields changed."""
    return device_dict


@pytest.fixture
def make_device():
    """Build a validated toy device with some fields changed."""
    return lambda **changes: Device.model_validate(device_dict(**changes))


@pytest.fixture
def toy_device():
    return Device.model_validate(device_dict())


@pytest.fixture
def toy_profile():
    """Two rows with round numbers (fp32 profile, 4 bytes per element).

    conv: 50M MACs, 1000 params, 1000 input and 1000 output elements (compute-bound).
    relu: no MACs, 1M input and 1M output elements (memory-bound).
    """
    layers = [
        LayerCost("conv", "Conv2d", (1, 1000), params=1000, macs=50_000_000,
                  activation_bytes=4000, input_bytes=4000),
        LayerCost("relu", "ReLU", (1, 1_000_000), params=0, macs=0,
                  activation_bytes=4_000_000, flops_other=1_000_000, input_bytes=4_000_000),
    ]
    return ModelProfile(macs=50_000_000, params=1000, param_bytes=4000, buffers_bytes=0,
                        peak_activation_bytes=8_000_000, peak_layer="relu",
                        input_size=(1, 1000), layers=layers)
