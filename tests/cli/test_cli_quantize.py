"""``edgeopt quantize``: before/after table from measured artifacts; bad input exits 2."""

from __future__ import annotations

import json

import pytest


@pytest.mark.slow
def test_ptq_writes_artifacts_and_prints_the_table(run_cli, tmp_path):
    code, out, err = run_cli("quantize", "simple_cnn", "--data", "digits", "--calibration", "entropy",
                             "-n", "64", "-o", str(tmp_path), "--threads", "1")
    assert code == 0, err
    assert "Quantization (ptq, onnxruntime, entropy calibration)" in out and "smaller" in out
    saved = json.loads((tmp_path / "quantize.json").read_text())
    fp32, int8 = saved["rows"]
    assert fp32["size_bytes"] > 2 * int8["size_bytes"]
    assert saved["result"]["artifact"]["precision"] == "int8" and int8["accuracy"] is not None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.fp32.onnx", "model.int8.onnx", "quantize.json"]


@pytest.mark.parametrize(("args", "message"), [
    (("--backend", "tflite"), "unknown backend 'tflite'"),
    (("--method", "ptqq"), "unknown method 'ptqq'"),
    (("--calibration", "kl"), "unknown calibration method 'kl'"),
])
def test_bad_choices_are_one_line_errors(run_cli, tmp_path, args, message):
    code, _, err = run_cli("quantize", "simple_cnn", "--data", "digits", "-o", str(tmp_path), *args)
    assert code == 2 and message in err
    assert not any(tmp_path.iterdir())
