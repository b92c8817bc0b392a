import json

import pytest

from edgeopt.checkpoint import save_checkpoint
from edgeopt.errors import EdgeoptError
from edgeopt.runtime import bench
from edgeopt.train import evaluate

pytestmark = pytest.mark.usefixtures("steady_machine")


def test_bench_onnx_and_torch_side_by_side(cnn_onnx, cnn_checkpoint, trained_cnn, digits):
    rows = bench([cnn_onnx, cnn_checkpoint], data=digits, threads=2, runs=20, warmup=3, memory=True)
    onnx_row, torch_row = rows
    assert (onnx_row.format, onnx_row.runtime) == ("onnx", "onnxruntime")
    assert (torch_row.format, torch_row.runtime) == ("torch", "torch")
    assert torch_row.artifact == str(cnn_checkpoint) and torch_row.size_bytes == cnn_checkpoint.stat().st_size
    eager = evaluate(trained_cnn, digits.test).accuracy
    assert torch_row.accuracy == pytest.approx(eager)
    assert onnx_row.accuracy == pytest.approx(eager, abs=1 / len(digits.test))
    for m in rows:
        assert m.threads == 2 and m.batch_size == 1 and m.warmup == 3 and m.runs == 20
        assert 0 < m.latency_ms_min <= m.latency_ms_median <= m.latency_ms_p90
        assert m.latency_ms_spread[0] <= m.latency_ms_median <= m.latency_ms_spread[1]
        assert m.peak_memory_bytes >= m.baseline_memory_bytes > 0
        assert m.artifact_memory_bytes == m.peak_memory_bytes - m.baseline_memory_bytes
        data = json.loads(json.dumps(m.to_dict()))
        assert data["artifact_memory_bytes"] >= 0 and len(data["latency_ms_spread"]) == 2


def test_bench_a_path_without_data(cnn_onnx):
    (row,) = bench([str(cnn_onnx.path)], runs=12, warmup=1, memory=False, batch_size=4)
    assert row.accuracy is None and row.peak_memory_bytes is None and row.artifact_memory_bytes is None
    assert row.batch_size == 4
    assert row.runs == 15  # 5 rounds of ceil(12 / 5) runs


def test_data_that_does_not_fit_is_a_user_error(cnn_onnx):
    with pytest.raises(EdgeoptError, match=r"takes inputs of shape \(1, 8, 8\) but dataset 'mnist5k'"):
        bench([cnn_onnx], data="mnist5k", memory=False, runs=5)


def test_unknown_input_shape_is_a_user_error(trained_cnn, tmp_path):
    bare = save_checkpoint(tmp_path / "bare.pt", trained_cnn, model_name="simple_cnn",
                           model_kwargs={"num_classes": 10, "in_chans": 1})
    with pytest.raises(EdgeoptError, match="cannot tell the input shape"):
        bench([bare], memory=False, runs=5)
    (row,) = bench([bare], memory=False, runs=5, input_shape=(1, 1, 8, 8))
    assert row.batch_size == 1


def test_nothing_to_bench_is_a_user_error():
    with pytest.raises(EdgeoptError, match="no artifacts"):
        bench([])
