"""``edgeopt bench --per-layer``, ``edgeopt diff`` and the options bench refuses together."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from edgeopt import export
from edgeopt.data import calibration_subset, load_dataset
from edgeopt.models import create_model
from edgeopt.quantize import ptq


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> Path:
    """A random SimpleCNN for digits: its weights, fp32 ONNX and int8 QDQ ONNX."""
    folder = tmp_path_factory.mktemp("bench_diff")
    torch.manual_seed(0)
    model = create_model("simple_cnn", num_classes=10, in_chans=1).eval()
    torch.save(model.state_dict(), folder / "w.pt")
    export.onnx(model, torch.zeros(1, 1, 8, 8), folder / "m.onnx")
    ptq(model, calibration_subset(load_dataset("digits").train, 64), path=folder / "m.int8.onnx")
    return folder


def test_per_layer_maps_onto_the_model_and_compares_int8_with_fp32(run_cli, files):
    code, out, err = run_cli("bench", str(files / "m.onnx"), str(files / "m.int8.onnx"), "--per-layer",
                             "--model", "simple_cnn", "-w", str(files / "w.pt"), "--runs", "5", "--json")
    assert code == 0, err
    fp32, int8 = json.loads(out)
    for profile in (fp32, int8):
        names = [layer["name"] for layer in profile["layers"]]
        assert {"features.0.0", "features.2.0", "features.4.0", "classifier"} <= set(names)
        assert profile["traced"] and profile["whole_model_ms"] > 0
    assert int8["precision"] == "int8" and fp32["precision"] == "fp32"
    code, out, _ = run_cli("bench", str(files / "m.onnx"), str(files / "m.int8.onnx"), "--per-layer",
                           "--runs", "5", "--top", "2")
    assert code == 0 and "Where the time goes" in out and "against m.onnx, per layer" in out


def test_diff_prints_layers_and_writes_json(run_cli, files, tmp_path):
    out_file = tmp_path / "d.json"
    code, out, err = run_cli("diff", "simple_cnn", str(files / "m.int8.onnx"), "--data", "digits",
                             "-w", str(files / "w.pt"), "-n", "32", "--limit", "3", "-o", str(out_file))
    assert code == 0, err
    assert "Float model vs int8 file" in out and "output SQNR" in out
    record = json.loads(out_file.read_text())
    assert record["samples"] == 32 and any(r["layer"] == "classifier" for r in record["rows"])


@pytest.mark.parametrize(("args", "message"), [
    (["--token-file", "t"], "--token-file and --tls-pin go with --device"),
    (["--device", "rpi4"], "--device takes an agent address agent://HOST:PORT"),
    (["--device", "agent://h:1", "--per-layer"], "--per-layer measures on this machine"),
    (["--per-layer", "--data", "digits"], "--per-layer times layers and measures no accuracy"),
    (["--model", "simple_cnn"], "--model names the files' model for --per-layer"),
])
def test_bench_refuses_options_that_mean_nothing_together(run_cli, files, args, message):
    code, _, err = run_cli("bench", str(files / "m.onnx"), *args)
    assert code == 2 and message in err


def test_diff_refuses_a_file_it_cannot_read(run_cli, files, tmp_path):
    (tmp_path / "notes.txt").write_text("x")
    code, _, err = run_cli("diff", "simple_cnn", str(tmp_path / "notes.txt"), "--data", "digits")
    assert code == 2 and "not 'notes.txt'" in err
    code, _, err = run_cli("diff", "simple_cnn", str(files / "m.int8.onnx"), "--data", "digits", "--order", "wrst")
    assert code == 2 and "unknown order 'wrst'" in err
