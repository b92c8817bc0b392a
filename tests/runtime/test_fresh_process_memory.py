import numpy as np
import pytest
import torch
from torch import nn

from edgeopt import export
from edgeopt.errors import EdgeoptError
from edgeopt.runtime import baseline_peak_memory, peak_memory_of_fresh_process

MIB = 2**20


def test_onnx_artifact_peak_exceeds_bare_runtime(cnn_onnx):
    peak = peak_memory_of_fresh_process(cnn_onnx.path, "onnxruntime", (1, 1, 8, 8))
    baseline = baseline_peak_memory("onnxruntime", [1, 1, 8, 8])
    assert baseline > 10 * MIB  # an interpreter with numpy and onnxruntime loaded
    assert peak >= baseline


def test_weights_show_up_in_the_difference(tmp_path):
    # 4096 x 1024 fp32 weights = 16 MiB: the artifact's own footprint must hold them at least once.
    model = nn.Sequential(nn.Linear(1024, 4096), nn.ReLU())
    art = export.onnx(model, torch.zeros(1, 1024), tmp_path / "wide.onnx")
    peak = peak_memory_of_fresh_process(art.path, "onnxruntime", (1, 1024))
    assert peak - baseline_peak_memory("onnxruntime", (1, 1024)) >= 0.9 * art.size_bytes


def test_parent_memory_does_not_leak_into_the_child():
    # ru_maxrss is inherited across fork/exec on Linux; the child's own high-water mark is not.
    ballast = np.ones(400 * MIB // 8)  # touched pages: 400 MiB resident in this process
    # A shape and thread count no other test uses, so the per-process cache cannot answer.
    assert baseline_peak_memory("onnxruntime", (1, 3), threads=1) < 300 * MIB
    del ballast


def test_torch_checkpoint_peak_exceeds_bare_runtime(cnn_checkpoint):
    peak = peak_memory_of_fresh_process(cnn_checkpoint, "torch", (1, 1, 8, 8))
    assert peak >= baseline_peak_memory("torch", (1, 1, 8, 8)) > 50 * MIB


def test_bad_arguments_are_user_errors(cnn_onnx, tmp_path):
    with pytest.raises(EdgeoptError, match="unknown runtime 'onnx'"):
        peak_memory_of_fresh_process(cnn_onnx.path, "onnx", (1, 1, 8, 8))
    with pytest.raises(EdgeoptError, match="does not exist"):
        peak_memory_of_fresh_process(tmp_path / "x.onnx", "onnxruntime", (1, 1, 8, 8))
    (tmp_path / "junk.onnx").write_bytes(b"junk")
    with pytest.raises(EdgeoptError, match="memory-measuring process failed"):
        peak_memory_of_fresh_process(tmp_path / "junk.onnx", "onnxruntime", (1, 1, 8, 8))
