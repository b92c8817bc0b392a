"""``edgeopt latency build|predict`` on a tiny space file: build, predict an architecture, refuse a
foreign table unless --allow-foreign (which then warns)."""

from __future__ import annotations

import json
import random

import pytest
from typer.testing import CliRunner

from edgeopt.cli import latency_cmd
from edgeopt.errors import EdgeoptError
from edgeopt.latency import get_space

SPACE = """\
name: clitiny
num_classes: 4
stem_channels: 8
head_channels: 32
stages:
  - {channels: 8, depths: [1], expansions: [1]}
  - {channels: 16, depths: [1, 2], stride: 2}
widths: [1.0]
resolutions: [16]
kernels: [3, 5]
expansions: [3]
"""


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    folder = tmp_path_factory.mktemp("latency-cli")
    space = folder / "space.yaml"
    space.write_text(SPACE)
    table = folder / "table.json"
    result = CliRunner().invoke(latency_cmd.latency_app, [
        "build", "--space", str(space), "--threads", "1", "--passes", "1", "--rounds", "1", "--runs", "2",
        "--calibrate", "0", "--out", str(table), "--json"])
    assert result.exit_code == 0, result.output
    return space, table, json.loads(result.stdout)


def test_build_prints_the_summary_and_writes_the_table(built):
    _, table, summary = built
    assert table.is_file() and summary["complete"] and summary["units"] > 10
    assert summary["key"].startswith("onnxruntime ") and "1 thread," in summary["key"]


def test_predict_an_architecture(built):
    space, table, _ = built
    arch = get_space(space).sample(random.Random(0))
    result = CliRunner().invoke(latency_cmd.latency_app, [
        "predict", arch.to_json(), "--table", str(table), "--threads", "1", "--json"])
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    assert answer["kind"] == "estimate" and answer["ms"] > 0 and answer["coverage"] == 1.0
    plain = CliRunner().invoke(latency_cmd.latency_app, ["predict", arch.to_json(), "--table", str(table),
                                                         "--threads", "1"])
    assert "estimate" in plain.stdout and "uncorrected" in plain.stdout


def test_a_foreign_table_is_refused_unless_allowed(built):
    space, table, _ = built
    arch = get_space(space).sample(random.Random(1)).to_json()
    refused = CliRunner().invoke(latency_cmd.latency_app, ["predict", arch, "--table", str(table), "--threads", "2"])
    assert isinstance(refused.exception, EdgeoptError)
    assert "threads 1 (table) vs 2 (here)" in refused.exception.message
    assert "--allow-foreign" in (refused.exception.hint or "")
    allowed = CliRunner().invoke(latency_cmd.latency_app, ["predict", arch, "--table", str(table), "--threads", "2",
                                                           "--allow-foreign", "--json"])
    assert allowed.exit_code == 0, allowed.output
    assert any("measured elsewhere" in w for w in json.loads(allowed.stdout)["warnings"])


def test_bad_architectures_are_one_line_errors(built):
    _, table, _ = built
    result = CliRunner().invoke(latency_cmd.latency_app, ["predict", '{"space": "clitiny", "width": -1}',
                                                          "--table", str(table), "--threads", "1"])
    assert isinstance(result.exception, EdgeoptError) and "not an architecture" in result.exception.message
