"""A tiny space (two stages, 16×16 inputs) and a table built on it once per session, in a temp folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from edgeopt.latency import LatencyTable, SearchSpace, StageSpec, build_table

TINY = SearchSpace(
    name="tiny", in_chans=3, num_classes=4, stem_channels=8, head_channels=32,
    stages=(StageSpec(channels=8, depths=(1,), expansions=(1,)), StageSpec(channels=16, depths=(1, 2), stride=2)),
    widths=(1.0,), resolutions=(16,), kernels=(3, 5), expansions=(3,), se=(False, True), acts=("relu", "hswish"),
)
FAST = {"passes": 2, "rounds": 1, "runs_per_round": 2, "method": "traced"}  # standalone: test_standalone.py


@pytest.fixture(scope="session")
def tiny_space() -> SearchSpace:
    return TINY


@pytest.fixture(scope="session")
def fast() -> dict[str, Any]:
    """Build options that measure little (tests check behaviour, not figures)."""
    return dict(FAST)


@pytest.fixture(scope="session")
def tiny_table_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("tables") / "tiny.json"
    build_table(TINY, runtime="onnxruntime", threads=1, precision="fp32", path=path, **FAST)
    return path


@pytest.fixture
def tiny_table(tiny_table_path: Path) -> LatencyTable:
    return LatencyTable.load(tiny_table_path)
