"""A trained SimpleCNN, its ONNX export and its checkpoint, shared by the runtime tests."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from edgeopt import export
from edgeopt.artifact import Artifact
from edgeopt.checkpoint import save_checkpoint
from edgeopt.data import DatasetSplits, load_dataset
from edgeopt.models import create_model
from edgeopt.runtime import scoped_threads
from edgeopt.train import TrainConfig, fit

CNN_KWARGS = {"num_classes": 10, "in_chans": 1}


@pytest.fixture(scope="session")
def digits() -> DatasetSplits:
    return load_dataset("digits")


@pytest.fixture(scope="session")
def trained_cnn(digits) -> nn.Module:
    """SimpleCNN trained 2 epochs on digits (~85% test accuracy)."""
    model = create_model("simple_cnn", **CNN_KWARGS)
    # One thread: on a shared 2-core machine two spinning OpenMP threads slow training 10x+.
    with scoped_threads(1):
        fit(model, digits.train, digits.val, TrainConfig(epochs=2, progress=False))
    return model.eval()


@pytest.fixture(scope="session")
def artifacts_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("artifacts")


@pytest.fixture(scope="session")
def cnn_onnx(trained_cnn, artifacts_dir) -> Artifact:
    return export.onnx(trained_cnn, torch.zeros(1, 1, 8, 8), artifacts_dir / "cnn.onnx")


@pytest.fixture(scope="session")
def cnn_checkpoint(trained_cnn, artifacts_dir):
    """The same model as an edgeopt checkpoint, which the torch runtime benchmarks."""
    return save_checkpoint(artifacts_dir / "cnn.pt", trained_cnn, model_name="simple_cnn",
                           model_kwargs=CNN_KWARGS, metadata={"input_size": [1, 1, 8, 8]})


@pytest.fixture
def steady_machine(monkeypatch):
    """A constant speed probe: no block is judged slow, so no test waits out a slow phase.

    The probe gating itself is tested in test_timing.py; elsewhere a busy test machine must not
    turn a 5-second test into a 2-minute one.
    """
    from edgeopt.runtime import timing

    monkeypatch.setattr(timing, "speed_probe", lambda: 1.0)
