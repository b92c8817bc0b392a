import pytest
import torch

from edgeopt.data import load_dataset
from edgeopt.models import create_model
from edgeopt.train import TrainConfig, fit, seed_everything


@pytest.fixture(scope="session", autouse=True)
def _one_thread():
    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def digits():
    return load_dataset("digits")


@pytest.fixture(scope="session")
def digits_teacher(digits):
    """A SimpleCNN (width 8) trained for 3 epochs on digits: good enough to teach (>85% val)."""
    seed_everything(0)
    teacher = create_model("simple_cnn", num_classes=10, in_chans=1, width=8)
    fit(teacher, digits.train, digits.val, TrainConfig(epochs=3, lr=1e-2, progress=False))
    return teacher.eval()


@pytest.fixture
def tiny_student():
    """Build a seeded SimpleCNN student (width 4 unless given): the same weights for a seed."""

    def build(seed: int = 0, **kwargs):
        seed_everything(seed)
        return create_model("simple_cnn", **{"num_classes": 10, "in_chans": 1, "width": 4, **kwargs})

    return build
