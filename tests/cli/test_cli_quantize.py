"""``edgeopt quantize``: before/after table from measured artifacts; bad input exits 2."""

from __future__ import annotations

import json

import pytest


@pytest.mark.slow
def test_ptq_writes_artifacts_and_prints_the_table(run_cli, tmp_path):
    code, out, err = run_cli("quantize", "simple_cnn", "--data", "digits", "--calibration", "entropy",
                             "-n", "64", "-o", str(tmp_path), "--threads", "1")
    assert code == 0, err
    assert "Quantization (ptq, onnxruntime, entropy calibration)" in out
    for label in ("file size", "accuracy on file", "latency ms"):
        assert label in out
    saved = json.loads((tmp_path / "quantize.ptq.json").read_text())
    fp32, int8 = saved["before"], saved["after"]
    assert fp32["file_bytes"] > 2 * int8["file_bytes"]  # the fp32 .onnx against the int8 one
    (artifact,) = saved["artifacts"]
    assert artifact["precision"] == "int8" and int8["file_accuracy"] is not None
    assert saved["report"]["quantization"]["calibration"] == "entropy"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.int8.onnx", "quantize.ptq.json"]


@pytest.mark.parametrize(("args", "message"), [
    (("--backend", "tflite"), "unknown backend 'tflite'"),
    (("--method", "ptqq"), "unknown method 'ptqq'"),
    (("--calibration", "kl"), "unknown calibration method 'kl'"),
])
def test_bad_choices_are_one_line_errors(run_cli, tmp_path, args, message):
    code, _, err = run_cli("quantize", "simple_cnn", "--data", "digits", "-o", str(tmp_path), *args)
    assert code == 2 and message in err
    assert not any(tmp_path.iterdir())
