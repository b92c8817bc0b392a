"""The probe writer: its ONNX file computes what the module does, with the ops torch's exporter writes."""

from __future__ import annotations

from collections import Counter

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from edgeopt.errors import EdgeoptError
from edgeopt.latency.onnx_writer import to_onnx, write_onnx
from edgeopt.latency.packing import ProbeNet


@pytest.fixture(scope="module")
def probe(tiny_space):
    torch.manual_seed(0)
    return ProbeNet(tiny_space, 1.0, 16).eval()


def test_written_file_computes_the_module(probe, tmp_path):
    path = tmp_path / "probe.onnx"
    write_onnx(probe, (1, 3, 16, 16), path)
    x = torch.randn(1, 3, 16, 16)
    got = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"input": x.numpy()})[0]
    np.testing.assert_allclose(got, probe(x).detach().numpy(), rtol=1e-4, atol=1e-5)
    names = {init.name for init in onnx.load(str(path)).graph.initializer}
    assert "probes.1.dw.e3_hswish_k5.0.weight" in names  # named after the module, as the exporter names them


def test_unknown_modules_are_refused():
    with pytest.raises(EdgeoptError, match="does not handle LSTM"):
        to_onnx(torch.nn.Sequential(torch.nn.LSTM(4, 4)), (1, 4))


@pytest.mark.slow
def test_same_operators_as_torchs_exporter(probe, tmp_path):
    from edgeopt.export.onnx_export import export_onnx

    exported = onnx.load(str(export_onnx(probe, torch.randn(1, 3, 16, 16), tmp_path / "e.onnx", check=False).path))
    written = to_onnx(probe, (1, 3, 16, 16))
    skip = {"Constant"}
    assert Counter(n.op_type for n in written.graph.node if n.op_type not in skip) == \
        Counter(n.op_type for n in exported.graph.node if n.op_type not in skip)
