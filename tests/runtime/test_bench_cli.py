"""The ``export`` and ``bench`` commands, on a local Typer app (the lead registers them in app.py)."""

import json

import pytest
import typer
from typer.testing import CliRunner

from edgeopt.cli import bench_cmd
from edgeopt.errors import EdgeoptError

pytestmark = pytest.mark.usefixtures("steady_machine")

app = typer.Typer()
app.command("export")(bench_cmd.export)
app.command("bench")(bench_cmd.bench)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "cnn.onnx"
    result = CliRunner().invoke(
        app, ["export", "simple_cnn", "-a", "in_chans=1", "--input-size", "1,8,8", "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    return out, result.output


def test_export_prints_size_and_parity(exported):
    out, output = exported
    assert out.is_file()
    assert f"Wrote {out}" in output and "opset 18" in output and "1×1×8×8" in output
    assert "Parity with the eager model: max abs error" in output and "OK" in output


def test_export_json(tmp_path):
    out = tmp_path / "m.onnx"
    result = CliRunner().invoke(
        app, ["export", "simple_cnn", "-a", "in_chans=1", "-i", "1,8,8", "-o", str(out), "--json"]
    )
    data = json.loads(result.output)
    assert data["size_bytes"] == out.stat().st_size and data["parity"]["passed"] is True


def test_bench_json_and_table(exported):
    out, _ = exported
    result = CliRunner().invoke(
        app, ["bench", str(out), "--data", "digits", "--runs", "10", "--no-memory", "--json"]
    )
    assert result.exit_code == 0, result.output
    (row,) = json.loads(result.output)
    assert row["format"] == "onnx" and row["runs"] == 10 and 0 <= row["accuracy"] <= 1
    assert row["peak_memory_bytes"] is None
    table = CliRunner().invoke(app, ["bench", str(out), "--runs", "5", "--no-memory"])
    assert table.exit_code == 0, table.output
    assert "median ms" in table.output and "onnxruntime" in table.output


def test_unknown_format_is_a_user_error():
    result = CliRunner().invoke(app, ["export", "simple_cnn", "--format", "onxx"])
    assert isinstance(result.exception, EdgeoptError)
    assert "unknown format 'onxx'" in result.exception.message and "'onnx'" in result.exception.hint
