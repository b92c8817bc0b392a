"""Dynamic int8 for Linear/LSTM models: smaller, int8 ops in the graph, outputs close to fp32."""

from __future__ import annotations

import onnx
import pytest
import torch
from torch import nn

from edgeopt.errors import EdgeoptError
from edgeopt.quantize import dynamic
from edgeopt.runtime import OnnxRuntimeRunner

pytestmark = pytest.mark.slow  # each test exports a model


class MLP(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 10))

    def forward(self, x):
        return self.net(x)


class LSTMNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lstm = nn.LSTM(16, 64, batch_first=True)
        self.head = nn.Linear(64, 5)

    def forward(self, x):
        out, _ = self.lstm(x)
        return self.head(out[:, -1])


def test_mlp_weights_become_int8_and_outputs_stay_close(tmp_path):
    torch.manual_seed(0)
    model, x = MLP().eval(), torch.randn(16, 64)
    art = dynamic(model, tmp_path / "mlp.onnx", example_input=x[:1], parity_data=x)
    assert art.precision == "int8" and art.metadata["fp32_size_bytes"] / art.size_bytes > 3.3
    ops = {n.op_type for n in onnx.load(str(art.path)).graph.node}
    assert {"DynamicQuantizeLinear", "MatMulInteger"} <= ops
    with torch.no_grad():
        ref = model(x).numpy()
    out = OnnxRuntimeRunner(art.path, 1).run(x.numpy())
    assert abs(out - ref).max() < 0.05 * abs(ref).max()


def test_lstm_is_quantized_as_dynamic_lstm(tmp_path):
    torch.manual_seed(0)
    x = torch.randn(4, 20, 16)
    art = dynamic(LSTMNet().eval(), tmp_path / "lstm.onnx", example_input=x[:1], parity_data=x)
    assert "DynamicQuantizeLSTM" in art.metadata["quantized_ops"]
    assert art.parity.top1_agreement == 1.0 and art.parity.max_rel_error < 0.2


def test_a_conv_only_model_is_an_error(tmp_path):
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU())
    with pytest.raises(EdgeoptError, match="no MatMul/Gemm/LSTM"):
        dynamic(model, tmp_path / "c.onnx", example_input=torch.zeros(1, 1, 8, 8))
    assert not (tmp_path / "c.onnx").exists()
