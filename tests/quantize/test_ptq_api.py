"""ptq: accuracy measured on the artifact, and the float fallback that meets an accuracy budget."""

from __future__ import annotations

import onnx
import pytest
import torch
from torch import nn

from edgeopt.data import calibration_subset, load_dataset
from edgeopt.errors import EdgeoptError
from edgeopt.quantize import BACKENDS, ptq
from edgeopt.runtime import OnnxRuntimeRunner, scoped_threads
from edgeopt.train import TrainConfig, fit


class PlainCNN(nn.Module):
    """Conv-ReLU-Conv-ReLU-pool-linear without BN, so a channel can be rescaled exactly."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, padding=1)
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1)
        self.fc = nn.Linear(32, 10)

    def forward(self, x):
        x = torch.relu(self.conv2(torch.relu(self.conv1(x))))
        return self.fc(x.mean(dim=(2, 3)))


def outlier_channel(model: PlainCNN, factor: float = 1000.0) -> PlainCNN:
    """The same function, with conv1's channel 0 scaled ×factor and conv2's input ÷factor.

    ReLU commutes with positive scaling, so float outputs are unchanged; but the shared uint8
    range of conv1's output now spans the huge channel and rounds the other 15 to zero.
    """
    with torch.no_grad():
        model.conv1.weight[0] *= factor
        model.conv1.bias[0] *= factor
        model.conv2.weight[:, 0] /= factor
    return model


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


@pytest.fixture(scope="module")
def rigged(digits):
    torch.manual_seed(0)
    model = PlainCNN()
    with scoped_threads(1):
        fit(model, digits.train, digits.val, TrainConfig(epochs=12, lr=1e-2, progress=False))
    return outlier_channel(model.eval())


@pytest.mark.slow
def test_fallback_keeps_the_sensitive_layers_float_until_within_budget(rigged, digits, tmp_path):
    calib = calibration_subset(digits.train, 64)
    plain = ptq(rigged, calib, path=tmp_path / "plain.onnx", eval_data=digits.val)
    assert plain.float_accuracy > 0.8 and plain.accuracy_drop > 10  # the outlier ruins full int8
    result = ptq(rigged, calib, path=tmp_path / "m.onnx", eval_data=digits.val, max_drop=2.0)
    assert result.accuracy_drop <= 2.0
    assert result.float_layers and set(result.float_layers) <= {"conv1", "conv2"}
    repair = result.metadata["repair"]
    assert repair["ranking"][0] in ("conv1", "conv2")  # the diff ranks the broken layers first
    assert repair["decided_on"] == "eval_data" and "val_data" in repair["note"]  # no val_data given: said so
    proto = onnx.load(str(result.artifact.path))
    floats = {i.name for i in proto.graph.initializer if i.data_type == onnx.TensorProto.FLOAT}
    for layer in result.float_layers:  # a plain float Conv: its weight is no DequantizeLinear output
        conv = next(n for n in proto.graph.node if n.op_type == "Conv" and n.input[1] == f"{layer}.weight")
        assert conv.input[1] in floats
    # int8 accuracy is the artifact's own, in ONNX Runtime
    assert OnnxRuntimeRunner(result.artifact.path, 1).accuracy(digits.val) == result.int8_accuracy
    assert result.to_dict()["float_layers"] == result.float_layers
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx", "plain.onnx"]  # no leftovers


def test_bad_arguments_are_errors():
    model = PlainCNN()
    calib = torch.zeros(32, 1, 8, 8)
    assert BACKENDS == ("onnxruntime", "executorch")
    with pytest.raises(EdgeoptError, match="unknown backend 'onnx'.*onnxruntime"):
        ptq(model, calib, backend="onnx", path="x.onnx")
    with pytest.raises(EdgeoptError, match="unknown calibration method 'kl'"):
        ptq(model, calib, path="x.onnx", calibration="kl")
    with pytest.raises(EdgeoptError, match="max_drop needs eval_data"):
        ptq(model, calib, path="x.onnx", max_drop=0.5)
    with pytest.raises(EdgeoptError, match="calibration set is empty"):
        ptq(model, torch.zeros(0, 1, 8, 8), path="x.onnx")
