import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from torch.utils.data import TensorDataset

from edgeopt.errors import EdgeoptError
from edgeopt.runtime import OnnxRuntimeRunner, Runner, TorchRunner, scoped_threads
from edgeopt.train import evaluate


def test_onnxruntime_session_settings(cnn_onnx):
    runner = OnnxRuntimeRunner(cnn_onnx.path, threads=2)
    options = runner.session.get_session_options()
    assert options.intra_op_num_threads == 2 and options.inter_op_num_threads == 1
    assert options.execution_mode == ort.ExecutionMode.ORT_SEQUENTIAL
    assert options.graph_optimization_level == ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    assert isinstance(runner, Runner) and runner.runtime == "onnxruntime"


def test_runners_agree_and_accuracy_is_the_artifacts(cnn_onnx, trained_cnn, digits):
    onnx_runner, torch_runner = OnnxRuntimeRunner(cnn_onnx.path), TorchRunner(trained_cnn)
    for n in (1, 7):
        x = digits.test.tensors[0][:n].numpy()
        assert onnx_runner.run(x).shape == (n, 10)
        np.testing.assert_allclose(onnx_runner.run(x), torch_runner.run(x), rtol=1e-4, atol=1e-4)
    eager = evaluate(trained_cnn, digits.test).accuracy
    tol = 1 / len(digits.test)
    assert torch_runner.accuracy(digits.test) == pytest.approx(eager, abs=1e-9)
    assert onnx_runner.accuracy(digits.test, batch_size=50) == pytest.approx(eager, abs=tol)


def test_accuracy_comes_from_the_runner_outputs(cnn_onnx, digits, monkeypatch):
    runner = OnnxRuntimeRunner(cnn_onnx.path)
    # An artifact that always says class 0 must score the share of class 0, whatever the model.
    monkeypatch.setattr(runner, "_infer", lambda b: np.tile(np.eye(10)[0], (len(b), 1)))
    share = float((digits.test.tensors[1] == 0).float().mean())
    assert runner.accuracy(digits.test) == pytest.approx(share)


def test_fixed_batch_model_is_fed_its_batch_size(cnn_onnx, digits, tmp_path):
    proto = onnx.load(str(cnn_onnx.path))
    for value in (proto.graph.input[0], proto.graph.output[0]):
        value.type.tensor_type.shape.dim[0].dim_value = 4  # replaces the symbolic "batch"
    fixed = tmp_path / "fixed4.onnx"
    onnx.save(proto, str(fixed))
    runner = OnnxRuntimeRunner(fixed)
    assert runner.fixed_batch == 4 and runner.example_shape(1) == (4, 1, 8, 8)
    assert len(digits.test) % 4 != 0  # the last batch is short and must be padded
    expected = OnnxRuntimeRunner(cnn_onnx.path).accuracy(digits.test)
    assert runner.accuracy(digits.test) == pytest.approx(expected)


def test_torch_runner_scopes_threads_mode_and_inference_mode(trained_cnn):
    seen = {}

    def hook(module, inputs):
        seen.update(threads=torch.get_num_threads(), training=module.training,
                    inference=torch.is_inference_mode_enabled())

    handle = trained_cnn.register_forward_pre_hook(hook)
    trained_cnn.train()
    try:
        with scoped_threads(1):
            TorchRunner(trained_cnn, threads=2).run(np.zeros((1, 1, 8, 8), np.float32))
            assert torch.get_num_threads() == 1
    finally:
        handle.remove()
        trained_cnn.eval()
    assert seen == {"threads": 2, "training": False, "inference": True}


def test_torch_runner_restores_modes(trained_cnn, digits):
    trained_cnn.train()
    try:
        TorchRunner(trained_cnn).accuracy(digits.test)
        assert trained_cnn.training and all(m.training for m in trained_cnn.modules())
    finally:
        trained_cnn.eval()


def test_time_returns_sane_stats(cnn_onnx, trained_cnn):
    x = np.zeros((1, 1, 8, 8), np.float32)
    for runner in (OnnxRuntimeRunner(cnn_onnx.path), TorchRunner(trained_cnn)):
        stats = runner.time(x, warmup=3, runs=50)
        assert stats.runs == 50 and len(stats.samples_ms) == 50
        assert 0 < stats.min_ms <= stats.median_ms <= stats.p90_ms


def test_torch_runner_from_checkpoint_knows_its_input(cnn_checkpoint):
    runner = TorchRunner.from_path(cnn_checkpoint)
    assert runner.example_shape(3) == (3, 1, 8, 8)
    assert runner.run(np.zeros((3, 1, 8, 8), np.float32)).shape == (3, 10)


def test_bad_inputs_are_user_errors(tmp_path, trained_cnn):
    with pytest.raises(EdgeoptError, match="does not exist"):
        OnnxRuntimeRunner(tmp_path / "missing.onnx")
    (tmp_path / "junk.onnx").write_bytes(b"not a model")
    with pytest.raises(EdgeoptError, match="cannot load"):
        OnnxRuntimeRunner(tmp_path / "junk.onnx")
    for threads in (0, "2", True):
        with pytest.raises(EdgeoptError, match="threads must be a positive integer"):
            TorchRunner(trained_cnn, threads=threads)
    unlabelled = TensorDataset(torch.zeros(4, 1, 8, 8))
    with pytest.raises(EdgeoptError, match="no labels"):
        TorchRunner(trained_cnn).accuracy(unlabelled)
