"""Models and data shared by the export tests (built once per session)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from edgeopt import export
from edgeopt.artifact import Artifact
from edgeopt.data import DatasetSplits, load_dataset
from edgeopt.models import create_model
from edgeopt.runtime import scoped_threads
from edgeopt.train import TrainConfig, fit


@pytest.fixture(scope="session")
def digits() -> DatasetSplits:
    return load_dataset("digits")


@pytest.fixture(scope="session")
def mnist_small() -> DatasetSplits:
    return load_dataset("mnist5k", limit=1000)


@pytest.fixture(scope="session")
def trained_cnn(digits) -> nn.Module:
    """SimpleCNN trained 2 epochs on digits (~85% test accuracy): logits with real structure."""
    model = create_model("simple_cnn", num_classes=10, in_chans=1)
    # One thread: on a shared 2-core machine two spinning OpenMP threads slow training 10x+.
    with scoped_threads(1):
        fit(model, digits.train, digits.val, TrainConfig(epochs=2, progress=False))
    return model


@pytest.fixture(scope="session")
def cnn_artifact(trained_cnn, digits, tmp_path_factory) -> Artifact:
    """``trained_cnn`` exported to ONNX, parity-checked on 32 real test images too."""
    path = tmp_path_factory.mktemp("cnn") / "cnn.onnx"
    real = digits.test.tensors[0][:32]
    return export.onnx(trained_cnn, torch.zeros(1, 1, 8, 8), path, parity_data=real)


@pytest.fixture(scope="session")
def calibrated_mobilenet(mnist_small) -> nn.Module:
    """MobileNetV1 α=0.25 (stem stride 1), random weights with BatchNorm statistics of real data.

    Training it to a useful accuracy takes minutes on a busy 2-core machine; recalibrated BN
    gives normalised activations and input-dependent predictions, which is what a prediction
    agreement test needs.
    """
    torch.manual_seed(0)
    model = create_model("mobilenet_v1", num_classes=10, in_chans=1, width_mult=0.25, stem_stride=1)
    nn.init.normal_(model.classifier.weight, std=1.0)
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.reset_running_stats()
            module.momentum = None  # cumulative average over the calibration batches
    model.train()
    with torch.no_grad(), scoped_threads(1):
        for batch in mnist_small.train.tensors[0][:512].split(128):
            model(batch)
    return model.eval()
