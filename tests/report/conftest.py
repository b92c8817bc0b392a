"""Fixtures of the report tests: the synthetic run (see report_fixtures.py) as data and on disk."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from report_fixtures import make_synthetic_data, write_resource_chart

from edgeopt.utils import write_json_atomic


@pytest.fixture(scope="session")
def synthetic_data() -> dict[str, Any]:
    """The synthetic results dict (shared; copy before changing it)."""
    return make_synthetic_data()


@pytest.fixture
def synthetic_run(tmp_path: Path, synthetic_data: dict[str, Any]) -> Path:
    """A run directory holding the synthetic results.json and its resource chart."""
    run = tmp_path / "run"
    write_json_atomic(run / "results.json", copy.deepcopy(synthetic_data))
    write_resource_chart(run / "devices" / "resources.png")
    return run
