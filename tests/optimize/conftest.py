"""Shared fixtures of the ``edgeopt optimize`` tests: the digits data and a tiny trained CNN checkpoint.

The integration tests train ``simple_cnn`` on the digits data for one epoch, the way
``edgeopt train`` does (registry name opened on the data, fitted, saved with its lineage).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHECKPOINT_NAME = "simple_cnn.pt"


@pytest.fixture(scope="session")
def digits() -> Any:
    from edgeopt.data import load_dataset

    return load_dataset("digits")


@pytest.fixture(scope="module")
def trained_checkpoint(tmp_path_factory: pytest.TempPathFactory, digits: Any) -> Path:
    """simple_cnn trained one epoch on digits and saved as ``edgeopt train`` saves it (reopens with open_model)."""
    from edgeopt.checkpoint import save_checkpoint
    from edgeopt.loading import open_model
    from edgeopt.runtime import scoped_threads
    from edgeopt.train import TrainConfig, fit, seed_everything

    seed_everything(0)
    opened = open_model("simple_cnn", data=digits)
    with scoped_threads(1):  # two spinning OpenMP threads on a shared 2-core machine slow training 10x
        fit(opened.model, digits.train, digits.val, TrainConfig(epochs=1, progress=False))
    return save_checkpoint(tmp_path_factory.mktemp("optimize-ckpt") / CHECKPOINT_NAME, opened.model.eval(),
                           opened.lineage, input_size=digits.input_shape(1), metadata={"dataset": "digits"})


@pytest.fixture(scope="module")
def steady_machine() -> Iterator[None]:
    """A constant speed probe (the probe gating itself is tested in tests/runtime/test_timing.py)."""
    from edgeopt.runtime import timing

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(timing, "speed_probe", lambda: 1.0)
        yield
