"""PT2E int8 for ExecuTorch: a 4x smaller .pte whose measured accuracy stays close to fp32.

SimpleCNN runs at 28x28 here (a mnist5k subset). Digits' one-channel batches have strides that
export once read as channels-last ("Propagating input shapes failed" at run time, at any size):
export now gives torch.export row-major examples (see the last test).
"""

from __future__ import annotations

import pytest
import torch

from edgeopt import export
from edgeopt.data import calibration_subset, load_dataset
from edgeopt.errors import EdgeoptError
from edgeopt.models import create_model
from edgeopt.quantize.pt2e import calibration_batches, ptq_executorch
from edgeopt.runtime import open_runner, scoped_threads
from edgeopt.train import TrainConfig, fit


@pytest.fixture(scope="session")
def mnist_tiny():
    return load_dataset("mnist5k", limit=600)


@pytest.fixture(scope="session")
def wide_cnn(mnist_tiny):
    """SimpleCNN width 64 (372k weights: enough that the file's fixed overhead is small)."""
    model = create_model("simple_cnn", num_classes=10, in_chans=1, width=64)
    with scoped_threads(1):
        fit(model, mnist_tiny.train, None, TrainConfig(epochs=4, batch_size=32, progress=False))
    return model.eval()


@pytest.mark.slow
def test_int8_pte_is_small_accurate_and_measured_on_the_artifact(wide_cnn, mnist_tiny, tmp_path):
    before = {k: v.clone() for k, v in wide_cnn.state_dict().items()}
    calib = calibration_subset(mnist_tiny.train, 128)
    result = ptq_executorch(wide_cnn, calib, tmp_path / "cnn.int8.pte", eval_data=mnist_tiny.test)
    fp32 = export.executorch(wide_cnn, mnist_tiny.test.tensors[0][:1], tmp_path / "cnn.pte", check=False)
    art = result.artifact
    assert art.format == "executorch" and art.precision == "int8" and art.parity.passed
    assert fp32.size_bytes / art.size_bytes >= 3.8
    assert art.metadata["delegation"]["non_delegated_nodes"] == 0
    assert result.metadata["bn_folding"] in ("edgeopt.fuse", "pt2e")
    # well above chance (0.1): the model learned something, so the drop means something
    assert result.float_accuracy > 0.3
    assert abs(result.accuracy_drop) <= 3.0  # points, on 120 test images
    assert all(torch.equal(before[k], v) for k, v in wide_cnn.state_dict().items())  # untouched


def test_calibration_data_is_checked():
    with pytest.raises(EdgeoptError, match="empty"):
        calibration_batches(torch.zeros(0, 1, 8, 8))
    bad = torch.zeros(4, 1, 8, 8)
    bad[1, 0, 2, 2] = float("nan")
    with pytest.raises(EdgeoptError, match="NaN or Inf"):
        calibration_batches(bad)
    assert [len(b) for b in calibration_batches(torch.zeros(130, 1, 8, 8))] == [64, 64, 2]


def test_non_finite_weights_are_refused(tmp_path):
    model = create_model("simple_cnn", num_classes=10, in_chans=1)
    with torch.no_grad():
        model.classifier.weight[0, 0] = float("inf")
    with pytest.raises(EdgeoptError, match="NaN or Inf"):
        ptq_executorch(model, torch.zeros(4, 1, 16, 16), tmp_path / "x.pte")
    assert not (tmp_path / "x.pte").exists()


def test_an_example_with_channels_last_looking_strides_still_runs(tmp_path):
    """A one-channel batch cut from an NHWC array (strides (64, 1, 8, 1)) once made every program refuse its input."""
    torch.manual_seed(0)
    net = create_model("simple_cnn", num_classes=10, in_chans=1).eval()
    nhwc = torch.randn(16, 8, 8, 1).permute(0, 3, 1, 2)
    assert nhwc.stride() == (64, 1, 8, 1) and nhwc.is_contiguous()
    int8 = ptq_executorch(net, nhwc, tmp_path / "m.int8.pte").artifact
    fp32 = export.executorch(net, nhwc[:1], tmp_path / "m.pte")
    for art in (int8, fp32):
        out = open_runner(art, threads=1).run(nhwc.contiguous().numpy())
        assert out.shape == (16, 10)
