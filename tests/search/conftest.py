"""A tiny space and search options that run in seconds on the digits data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edgeopt.models.spaces import SearchSpace, StageSpec
from edgeopt.search.config import SearchConfig


def make_tiny_space() -> SearchSpace:
    """Two stages, few channels: every choice kind is present (depth, kernel, expansion, SE, act, width)."""
    return SearchSpace(name="tiny", in_chans=1, num_classes=10, stem_channels=8, head_channels=32,
                       stages=(StageSpec(channels=8, depths=(1,), stride=1, expansions=(1,)),
                               StageSpec(channels=16, depths=(1, 2), stride=2)),
                       widths=(0.5, 1.0), resolutions=(16,), kernels=(3, 5), expansions=(2, 3))


@pytest.fixture
def tiny_space() -> SearchSpace:
    return make_tiny_space()


@pytest.fixture
def tiny_space_file(tmp_path: Path) -> Path:
    path = tmp_path / "tiny_space.json"
    path.write_text(json.dumps(make_tiny_space().model_dump(mode="json")))
    return path


@pytest.fixture
def tiny_config(tiny_space_file: Path) -> SearchConfig:
    return SearchConfig(space=str(tiny_space_file), data="digits", limit=400, supernet_epochs=1, latency="macs",
                        trials=6, top_k=0, calibration_samples=64)
