import json

import pytest
import typer
import yaml
from typer.testing import CliRunner

from edgeopt.cli.devices_cmd import devices, fit
from edgeopt.errors import EdgeoptError

app = typer.Typer()
app.command("devices")(devices)
app.command("fit")(fit)
runner = CliRunner()


def run(*args):
    return runner.invoke(app, list(args))


def test_devices_table_and_chart(tmp_path):
    result = run("devices", "--plot", str(tmp_path / "d.png"))
    assert result.exit_code == 0, result.output
    assert "raspberry-pi-4" in result.output and "not measurements" in result.output
    assert (tmp_path / "d.png").read_bytes().startswith(b"\x89PNG")


def test_devices_json_includes_user_file_and_sources(tmp_path, device_data):
    mine = tmp_path / "mine.yaml"
    mine.write_text(yaml.safe_dump(device_data(name="my-board")))
    result = run("devices", "--device-file", str(mine), "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    names = [d["name"] for d in data["devices"]]
    assert "my-board" in names and "nvidia-h100" in names
    assert all(d["sources"] for d in data["devices"])


def test_fit_json_registry_model():
    result = run("fit", "mobilenet_v1", "-a", "width_mult=0.25", "--input-size", "3,128,128",
                 "--device", "raspberry-pi-4", "--precision", "int8",
                 "--latency-budget-ms", "50", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["kind"] == data["fit"]["kind"] == data["latency"]["kind"] == "estimate"
    assert data["energy"]["kind"] == "estimate" and data["fit"]["verdict"] == "fits"
    assert [c["name"] for c in data["fit"]["checks"]] == ["storage", "ram", "latency"]


def test_fit_table_says_estimate():
    result = run("fit", "simple_cnn", "-a", "in_chans=1", "-i", "1,28,28", "-d", "stm32f407",
                 "-p", "int8")
    assert result.exit_code == 0, result.output
    assert "estimate" in result.output and "Verdict" in result.output


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_fit_onnx_artifact_uses_file_size(tmp_path):
    import torch

    from edgeopt.models import create_model

    path = tmp_path / "m.onnx"
    torch.onnx.export(create_model("simple_cnn", in_chans=1).eval(), (torch.randn(1, 1, 28, 28),),
                      str(path), dynamo=False, opset_version=17)
    result = run("fit", str(path), "--device", "esp32-s3", "-p", "int8", "--json")
    assert result.exit_code == 0, result.output
    storage = json.loads(result.output)["fit"]["checks"][0]
    assert storage["required"] == path.stat().st_size and "artifact" in storage["detail"]


def test_fit_user_errors_are_edgeopt_errors():
    result = run("fit", "simple_cnn", "--device", "raspbery-pi-4")
    assert isinstance(result.exception, EdgeoptError) and "raspberry-pi-4" in result.exception.hint
    result = run("fit", "no_such_model", "--device", "coral-usb-accelerator")
    assert isinstance(result.exception, EdgeoptError) and "int8" in result.exception.hint
