"""Static int8 ONNX: size, accuracy against fp32, float exclusions visible in the graph, errors."""

from __future__ import annotations

import copy

import onnx
import pytest
import torch
from torch import nn

from edgeopt.data import calibration_subset, load_dataset
from edgeopt.errors import EdgeoptError
from edgeopt.models import create_model
from edgeopt.quantize.onnx_static import quantize_onnx_static
from edgeopt.runtime import OnnxRuntimeRunner, scoped_threads
from edgeopt.train import TrainConfig, evaluate, fit

pytestmark = pytest.mark.slow  # each test exports a model (the dynamo exporter takes seconds)


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


@pytest.fixture(scope="module")
def trained_cnn(digits):
    model = create_model("simple_cnn", num_classes=10, in_chans=1)
    with scoped_threads(1):
        fit(model, digits.train, digits.val, TrainConfig(epochs=3, progress=False))
    return model.eval()


@pytest.fixture(scope="module")
def int8(trained_cnn, digits, tmp_path_factory):
    path = tmp_path_factory.mktemp("static") / "cnn.int8.onnx"
    return quantize_onnx_static(trained_cnn, calibration_subset(digits.train, 128), path)


def weight_is_float(proto: onnx.ModelProto, layer: str) -> bool:
    """The layer's Conv/Gemm takes a float initializer as weight (no DequantizeLinear)."""
    floats = {i.name for i in proto.graph.initializer if i.data_type == onnx.TensorProto.FLOAT}
    return any(n.op_type in ("Conv", "Gemm") and n.input[1] == f"{layer}.weight" and n.input[1] in floats
               for n in proto.graph.node)


def test_int8_accuracy_is_within_one_point_of_fp32_on_digits(int8, trained_cnn, digits):
    fp32 = evaluate(trained_cnn, digits.test).accuracy
    measured = OnnxRuntimeRunner(int8.path, threads=1).accuracy(digits.test)
    assert fp32 > 0.8
    assert abs(fp32 - measured) <= 0.01  # 359 test images: one point is ~4 images
    assert int8.precision == "int8" and int8.metadata["float_layers"] == []
    assert int8.parity.top1_agreement >= 0.95 and int8.parity.max_rel_error < 0.1


def test_the_graph_is_qdq_with_int8_weights(int8):
    proto = onnx.load(str(int8.path))
    ops = [n.op_type for n in proto.graph.node]
    assert "QuantizeLinear" in ops and "DequantizeLinear" in ops
    int8_weights = [i for i in proto.graph.initializer if i.name.endswith("weight_quantized")]
    assert len(int8_weights) == 4 and all(i.data_type == onnx.TensorProto.INT8 for i in int8_weights)
    assert not any(n.metadata_props for n in proto.graph.node)  # stack traces stripped


def test_excluded_layers_stay_float_convs(trained_cnn, digits, tmp_path):
    layers = ["features.0.0", "classifier"]
    art = quantize_onnx_static(trained_cnn, calibration_subset(digits.train, 64), tmp_path / "m.onnx",
                               exclude=layers)
    proto = onnx.load(str(art.path))
    assert sorted(art.metadata["float_layers"]) == sorted(layers)
    assert all(weight_is_float(proto, layer) for layer in layers)
    assert not weight_is_float(proto, "features.2.0")


class WeightHeavy(nn.Module):
    """A small conv stem and a large linear head: weights dominate per-channel overhead."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 32, 3, padding=1)
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(32 * 8 * 8, 384), nn.ReLU(), nn.Linear(384, 10))

    def forward(self, x):
        return self.head(torch.relu(self.conv(x)))


def test_int8_file_is_at_least_3_8_times_smaller(digits, tmp_path):
    torch.manual_seed(0)
    art = quantize_onnx_static(WeightHeavy().eval(), calibration_subset(digits.train, 32), tmp_path / "w.onnx")
    assert art.metadata["fp32_size_bytes"] / art.size_bytes >= 3.8


def test_model_is_untouched_and_bad_input_leaves_no_file(trained_cnn, digits, tmp_path):
    before = copy.deepcopy(trained_cnn.state_dict())
    broken = copy.deepcopy(trained_cnn)
    with torch.no_grad():
        broken.classifier.weight[0, 0] = float("nan")
    target = tmp_path / "out.onnx"
    with pytest.raises(EdgeoptError, match="'classifier.weight' holds NaN/Inf"):
        quantize_onnx_static(broken, calibration_subset(digits.train, 32), target)
    with pytest.raises(EdgeoptError, match="no quantizable layer named 'features.9'"):
        quantize_onnx_static(trained_cnn, calibration_subset(digits.train, 32), target, exclude=["features.9"])
    with pytest.raises(EdgeoptError, match="has 8 samples"):
        quantize_onnx_static(trained_cnn, calibration_subset(digits.train, 8), target)
    assert not target.exists() and list(tmp_path.iterdir()) == []
    assert all(torch.equal(before[k], v) for k, v in trained_cnn.state_dict().items())
