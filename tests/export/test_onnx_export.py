import numpy as np
import onnx
import pytest
import torch
from torch import nn

from edgeopt import export
from edgeopt.errors import EdgeoptError
from edgeopt.models import create_model
from edgeopt.runtime import OnnxRuntimeRunner, TorchRunner
from edgeopt.train import evaluate


def _same_predictions(runner_a, runner_b, dataset) -> float:
    a, _ = runner_a.logits(dataset)
    b, _ = runner_b.logits(dataset)
    return float(np.mean(a.argmax(-1) == b.argmax(-1)))


def test_simple_cnn_export_matches_eager_on_real_data(cnn_artifact, trained_cnn, digits):
    art = cnn_artifact
    assert art.format == "onnx" and art.precision == "fp32" and art.input_shape == (1, 1, 8, 8)
    assert art.size_bytes == art.path.stat().st_size and len(art.sha256) == 64
    assert art.parity.passed and art.parity.max_abs_error < 1e-4
    assert art.parity.n_samples == 1 + 6 + 32  # example, random batches 1+3+2, real samples
    assert art.metadata["opset"] >= 18
    onnx_acc = OnnxRuntimeRunner(art.path).accuracy(digits.test)
    assert onnx_acc == pytest.approx(evaluate(trained_cnn, digits.test).accuracy, abs=1 / len(digits.test))
    assert onnx_acc > 0.5  # the model learnt something, so agreement below is meaningful
    agree = _same_predictions(OnnxRuntimeRunner(art.path), TorchRunner(trained_cnn), digits.test)
    assert agree >= 0.99


@pytest.mark.slow
def test_mobilenet_v1_export_matches_eager(calibrated_mobilenet, mnist_small, tmp_path):
    model = calibrated_mobilenet
    art = export.onnx(model, torch.zeros(1, 1, 28, 28), tmp_path / "mv1.onnx",
                      parity_data=mnist_small.test.tensors[0][:16])
    assert art.parity.passed and art.parity.top1_agreement == 1.0
    runner = OnnxRuntimeRunner(art.path)
    eager_acc = evaluate(model, mnist_small.test).accuracy
    assert runner.accuracy(mnist_small.test) == pytest.approx(eager_acc, abs=1 / len(mnist_small.test))
    logits, _ = runner.logits(mnist_small.test)
    assert len(np.unique(logits.argmax(-1))) >= 3  # predictions depend on the input
    assert _same_predictions(runner, TorchRunner(model), mnist_small.test) >= 0.99


def test_batch_dimension_is_dynamic(cnn_artifact, trained_cnn):
    runner = OnnxRuntimeRunner(cnn_artifact.path)
    assert runner.input_shape[0] is None
    for n in (1, 7):
        x = torch.randn(n, 1, 8, 8)
        out = runner.run(x.numpy())
        with torch.inference_mode():
            expected = trained_cnn.eval()(x).numpy()
        assert out.shape == (n, 10)
        np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-4)


def test_fx_graph_module_exports(trained_cnn, tmp_path):
    # Fused models are torch.fx GraphModules: the reason for the torch.export-based exporter.
    traced = torch.fx.symbolic_trace(trained_cnn.eval())
    art = export.onnx(traced, torch.zeros(1, 1, 8, 8), tmp_path / "fx.onnx")
    assert art.parity.passed


class _Eigh(nn.Module):
    def forward(self, x):
        a = x.flatten(1)[:, :4].reshape(-1, 2, 2)
        return torch.linalg.eigh(a @ a.transpose(1, 2))[0]


def test_unexportable_operator_is_named_and_leaves_no_file(tmp_path):
    target = tmp_path / "eigh.onnx"
    with pytest.raises(EdgeoptError, match="linalg_eigh") as info:
        export.onnx(_Eigh(), torch.randn(1, 1, 4, 4), target)
    assert "_Eigh" in info.value.message and info.value.hint
    assert list(tmp_path.iterdir()) == []


def test_parity_failure_keeps_existing_file_and_leaves_no_temp(monkeypatch, trained_cnn, tmp_path):
    target = tmp_path / "cnn.onnx"
    target.write_bytes(b"previous")
    original = OnnxRuntimeRunner._infer
    monkeypatch.setattr(OnnxRuntimeRunner, "_infer", lambda self, b: original(self, b) + 0.01)
    with pytest.raises(EdgeoptError, match=r"does not match the eager model: max abs error 0\.01"):
        export.onnx(trained_cnn, torch.zeros(1, 1, 8, 8), target)
    assert target.read_bytes() == b"previous"
    assert [p.name for p in tmp_path.iterdir()] == ["cnn.onnx"]


def test_exported_file_passes_the_onnx_checker(cnn_artifact):
    onnx.checker.check_model(str(cnn_artifact.path), full_check=True)
    graph = onnx.load(str(cnn_artifact.path)).graph
    assert graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    # no exporter stack traces (local paths) shipped inside the artifact
    assert not any(node.metadata_props or node.doc_string for node in graph.node)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"opset": 17}, "opset 17 is not supported"),
        ({"example_input": [1, 2]}, "must be a tensor"),
        ({"example_input": torch.zeros(1, 3, 8, 8)}, "expects 1 input channels"),
        ({"model": "simple_cnn"}, "expected a torch.nn.Module"),
    ],
)
def test_bad_arguments_are_user_errors(kwargs, message, tmp_path):
    args = {"model": create_model("simple_cnn", in_chans=1), "example_input": torch.zeros(1, 1, 8, 8),
            "path": tmp_path / "m.onnx", **kwargs}
    with pytest.raises(EdgeoptError, match=message):
        export.onnx(**args)
    assert not (tmp_path / "m.onnx").exists()


def test_check_false_skips_parity_and_training_mode_is_restored(tmp_path):
    model = create_model("simple_cnn", num_classes=10, in_chans=1)
    model.train()
    model.features[0].eval()  # a mixed state must come back exactly
    art = export.onnx(model, torch.zeros(2, 1, 8, 8), tmp_path / "m.onnx", check=False)
    assert art.parity is None and art.input_shape == (2, 1, 8, 8)
    assert model.training and not model.features[0].training and model.classifier.training
