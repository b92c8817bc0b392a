"""The per-layer profile of deployed files: every node and kernel of a small model maps to a layer.

Timing is not asserted (the machine is shared); only structure: what maps where, that the
layer times add up to the kernels', that a runtime without a tracer still gives the whole-model
figure.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from edgeopt.analysis import profile
from edgeopt.errors import EdgeoptError
from edgeopt.runtime import kernel_trace, layer_profile
from edgeopt.runtime.layer_map import rows_from_profile
from edgeopt.runtime.layer_profile import LayerProfile, profile_layers

SIZE = (1, 3, 16, 16)
FAST = {"rounds": 1, "runs_per_round": 3, "warmup": 1, "gate_retries": 0}


class Tiny(nn.Module):
    """Conv-BN-hardswish, a depthwise conv with SE, a residual project, pooling and a linear head."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, 2, 1, bias=False), nn.BatchNorm2d(8), nn.Hardswish())
        self.dw = nn.Sequential(nn.Conv2d(8, 8, 3, 1, 1, groups=8, bias=False), nn.BatchNorm2d(8), nn.ReLU())
        self.pool_se = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(8, 8, 1)
        self.fc2 = nn.Conv2d(8, 8, 1)
        self.gate = nn.Hardsigmoid()
        self.project = nn.Sequential(nn.Conv2d(8, 8, 1, bias=False), nn.BatchNorm2d(8))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(8, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        y = self.dw(x)
        y = y * self.gate(self.fc2(torch.relu(self.fc1(self.pool_se(y)))))
        y = x + self.project(y)
        return self.fc(self.pool(y).flatten(1))


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    return Tiny().eval()


@pytest.fixture(scope="module")
def rows(tiny):
    return rows_from_profile(profile(tiny, SIZE))


@pytest.fixture(scope="module")
def onnx_files(tiny, tmp_path_factory):
    from edgeopt.export.onnx_export import export_onnx
    from edgeopt.quantize.onnx_static import quantize_onnx_static

    folder = tmp_path_factory.mktemp("layers")
    fp32 = export_onnx(tiny, torch.randn(SIZE), folder / "tiny.onnx", check=False).path
    int8 = quantize_onnx_static(tiny, torch.randn(16, *SIZE[1:]), folder / "tiny.int8.onnx").path
    return fp32, int8


def _check_complete(result: LayerProfile, rows) -> None:
    names = {r.name for r in rows}
    assert result.traced and not result.note
    assert result.kernels and all(k.row in names for k in result.kernels), [k for k in result.kernels if not k.row]
    assert result.layer_sum_ms == pytest.approx(sum(k.ms for k in result.kernels))
    assert {layer.name for layer in result.layers} <= {r.name for r in rows if r.is_mac}
    assert result.whole_model_ms and result.whole_model_ms > 0


@pytest.mark.parametrize("which", ["fp32", "int8"])
def test_every_onnx_node_and_kernel_maps_to_a_model_layer(onnx_files, rows, which):
    path = onnx_files[0] if which == "fp32" else onnx_files[1]
    result = profile_layers(path, rows, threads=1, **FAST)
    _check_complete(result, rows)
    assert result.mapping == "weights+tails"
    assert result.precision == which
    assert result.node_rows and all(result.node_rows.values())  # every node of the file has a layer
    mapped = {k.row for k in result.kernels}
    assert {"stem.0", "dw.0", "fc1", "fc2", "project.0", "fc"} <= mapped


def test_without_the_model_kernels_map_to_the_files_own_layers(onnx_files):
    result = profile_layers(onnx_files[0], None, threads=1, **FAST)
    assert result.mapping == "graph" and all(k.row for k in result.kernels)
    assert "dw.0" in {layer.name for layer in result.layers}  # MAC nodes are named by their weights' module


def test_a_runtime_without_a_tracer_gives_the_whole_model_figure(onnx_files, monkeypatch):
    def refuse(*args, **kwargs):
        raise kernel_trace.TraceUnavailable("this build records no kernel events")

    monkeypatch.setattr(layer_profile, "open_tracer", refuse)
    result = profile_layers(onnx_files[0], None, threads=1, **FAST)
    assert not result.traced and result.layers == []
    assert result.whole_model_ms and "no kernel events" in result.note


def test_the_profile_round_trips_through_json(onnx_files, rows):
    result = profile_layers(onnx_files[0], rows, threads=1, **FAST)
    again = LayerProfile.from_dict(result.to_dict())
    assert again == result


def test_bad_input(tmp_path):
    with pytest.raises(EdgeoptError, match="does not exist"):
        profile_layers(tmp_path / "missing.onnx")
    checkpoint = tmp_path / "model.pt"
    checkpoint.write_bytes(b"x")
    with pytest.raises(EdgeoptError, match=r"\.onnx or \.pte"):
        profile_layers(checkpoint)
    with pytest.raises(EdgeoptError, match="not a per-layer profile"):
        LayerProfile.from_dict({"artifact": "x"})


@pytest.mark.slow
def test_every_xnnpack_operator_maps_to_a_model_layer(tiny, rows, tmp_path):
    pytest.importorskip("executorch")
    from edgeopt.export.executorch_export import export_executorch

    path = export_executorch(tiny, torch.randn(SIZE), tmp_path / "tiny.pte", check=False).path
    result = profile_layers(path, rows, threads=1, **FAST)
    _check_complete(result, rows)
    assert result.mapping == "order"
    assert any("DWConv" in k.op for k in result.kernels)


def test_onnx_kernel_times_are_net_of_the_profilers_cost(onnx_files):
    fast = {**FAST, "runs_per_round": 20}
    net = profile_layers(onnx_files[1], None, threads=1, **fast)
    raw = profile_layers(onnx_files[1], None, threads=1, net_of_tracer=False, **fast)
    assert raw.tracer_cost_ms is None and raw.tracer_share is None
    assert net.tracer_cost_ms is not None and net.tracer_cost_ms >= 0.0 and 0.0 < (net.tracer_share or 0.0) <= 1.0
    assert net.layer_sum_ms == pytest.approx(sum(k.ms for k in net.kernels))
    assert all(k.ms >= 0.0 for k in net.kernels)
    # every kernel names the tensors its event lists: what the cost is split by
    tracer = kernel_trace.open_tracer(onnx_files[1], "onnx", threads=1)
    tracer.run(np.zeros(SIZE, dtype=np.float32))
    assert all(k.tensors >= 2 for k in tracer.finish().kernels)
