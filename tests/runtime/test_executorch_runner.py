"""ExecuTorchRunner: the artifact's own accuracy, fixed-batch chunking, threads, bad files."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from edgeopt import export
from edgeopt.artifact import Artifact
from edgeopt.errors import EdgeoptError
from edgeopt.runtime import ExecuTorchRunner, bench, open_runner, threadpool_size
from edgeopt.train import evaluate

pytestmark = pytest.mark.slow  # one XNNPACK lowering (10-30 s on a busy machine), shared


@pytest.fixture(scope="session")
def cnn_pte(trained_cnn, artifacts_dir) -> Artifact:
    return export.executorch(trained_cnn, torch.zeros(1, 1, 8, 8), artifacts_dir / "cnn.pte")


def test_accuracy_is_the_artifacts_and_matches_eager(cnn_pte, trained_cnn, digits):
    runner = open_runner(cnn_pte, threads=1)
    assert isinstance(runner, ExecuTorchRunner) and runner.example_shape(8) == (1, 1, 8, 8)
    logits, labels = runner.logits(digits.test)
    assert logits.shape == (len(digits.test), 10)  # batches of 256 run as 1-sample chunks
    np.testing.assert_array_equal(labels, digits.test.tensors[1].numpy())  # in dataset order
    with torch.no_grad():
        eager = trained_cnn(digits.test.tensors[0]).numpy()
    np.testing.assert_allclose(logits, eager, rtol=1e-4, atol=1e-4)
    assert runner.accuracy(digits.test) == pytest.approx(evaluate(trained_cnn, digits.test).accuracy)


def test_threads_resize_the_pool_and_runners_reload_after_a_resize(cnn_pte):
    one, two = ExecuTorchRunner(cnn_pte.path, threads=1), ExecuTorchRunner(cnn_pte.path, threads=2)
    x = np.zeros((1, 1, 8, 8), np.float32)
    first = one.run(x)
    assert threadpool_size() == 1
    generation = one._generation
    np.testing.assert_allclose(two.run(x), first, rtol=1e-6)
    assert threadpool_size() == 2
    one.run(x)  # the pool it was loaded under is gone: it must reload, not run on a freed pool
    assert threadpool_size() == 1 and one._generation > generation


def test_bench_reports_executorch_rows(cnn_pte, digits, steady_machine):
    [row] = bench([cnn_pte.path], data=digits, threads=1, runs=5, rounds=1, memory=False)
    assert row.runtime == "executorch" and row.format == "executorch" and row.batch_size == 1
    assert 0.0 <= row.accuracy <= 1.0 and row.latency_ms_median > 0


def test_truncated_file_is_named(cnn_pte, tmp_path):
    cut = tmp_path / "cut.pte"
    cut.write_bytes(cnn_pte.path.read_bytes()[: cnn_pte.size_bytes // 2])
    with pytest.raises(EdgeoptError, match="truncated|too small"):
        ExecuTorchRunner(cut)


def test_wrong_format_is_named(tmp_path, cnn_onnx):
    fake = tmp_path / "model.pte"
    fake.write_bytes(cnn_onnx.path.read_bytes())
    with pytest.raises(EdgeoptError, match="not an ExecuTorch program"):
        ExecuTorchRunner(fake)
