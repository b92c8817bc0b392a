"""PT2E QAT on the shared loop: a few steps give a working int8 artifact for each backend."""

from __future__ import annotations

import pytest
import torch

from edgeopt.data import load_dataset
from edgeopt.errors import EdgeoptError
from edgeopt.models import create_model
from edgeopt.quantize.qat_training import ModeSyncedGraph, prepare_qat, qat
from edgeopt.runtime import scoped_threads
from edgeopt.train import TrainConfig, fit


@pytest.fixture(scope="module")
def mnist_tiny():
    return load_dataset("mnist5k", limit=600)


@pytest.fixture(scope="module")
def cnn(mnist_tiny):
    model = create_model("simple_cnn", num_classes=10, in_chans=1)
    with scoped_threads(1):
        fit(model, mnist_tiny.train, None, TrainConfig(epochs=4, batch_size=32, progress=False))
    return model.eval()


def test_graph_mode_follows_the_flag_that_fit_sets(cnn, mnist_tiny):
    graph = ModeSyncedGraph(prepare_qat(cnn, mnist_tiny.train.tensors[0][:1]))
    x = mnist_tiny.train.tensors[0][:8]
    graph.train()
    graph(x)
    # aten.batch_norm's 6th argument is its `training` flag, which the rewrite switches.
    bn_ops = lambda: [n.args[5] for n in graph.graph.graph.nodes if "batch_norm" in str(n.target)]  # noqa: E731
    train_ops = bn_ops()
    assert train_ops and all(train_ops)
    graph.training = False  # what preserve_modes does: a flag, no eval() call
    with torch.inference_mode():
        graph(x)
    assert bn_ops() and not any(bn_ops())  # BatchNorm rewritten to use running statistics
    graph.train()
    graph(x)
    assert bn_ops() == train_ops


@pytest.mark.slow
@pytest.mark.parametrize("backend, suffix", [("executorch", "pte"), ("onnxruntime", "onnx")])
def test_qat_writes_a_working_int8_artifact(cnn, mnist_tiny, tmp_path, backend, suffix):
    before = {k: v.clone() for k, v in cnn.state_dict().items()}
    config = TrainConfig(epochs=1, max_steps=6, lr=1e-4, progress=False)
    with scoped_threads(1):
        result = qat(cnn, mnist_tiny.train, mnist_tiny.val, config, backend=backend,
                     path=tmp_path / f"cnn.qat.{suffix}", eval_data=mnist_tiny.test)
    assert result.artifact.precision == "int8" and result.artifact.parity.passed
    assert result.artifact.path.suffix == f".{suffix}" and result.metadata["train"]["steps"] == 6
    assert result.metadata["weight_bits"] == (8 if backend == "executorch" else 7)
    assert abs(result.accuracy_drop) <= 5.0  # measured on the artifact, 120 test images
    assert all(torch.equal(before[k], v) for k, v in cnn.state_dict().items())


def test_unknown_backend_is_refused(cnn, mnist_tiny, tmp_path):
    with pytest.raises(EdgeoptError, match="unknown QAT backend 'onnx'"):
        qat(cnn, mnist_tiny.train, None, TrainConfig(max_steps=1), backend="onnx", path=tmp_path / "x")
