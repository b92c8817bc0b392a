"""OpenVINORunner: settings, agreement with ONNX Runtime (fp32 and int8 QDQ), bf16, bench, errors."""

import numpy as np
import pytest
import torch

from edgeopt.artifact import Artifact
from edgeopt.data.sampling import calibration_subset
from edgeopt.errors import EdgeoptError
from edgeopt.export import export_openvino
from edgeopt.quantize import ptq
from edgeopt.runtime import OnnxRuntimeRunner, OpenVINORunner, Runner, bench, open_runner, openvino_runner as ovr

pytestmark = pytest.mark.usefixtures("steady_machine")


@pytest.fixture(scope="module")
def cnn_ir(trained_cnn, artifacts_dir) -> Artifact:
    return export_openvino(trained_cnn, torch.zeros(1, 1, 8, 8), artifacts_dir / "cnn.xml")


@pytest.fixture(scope="module")
def cnn_int8(trained_cnn, digits, artifacts_dir):
    return ptq(trained_cnn, calibration_subset(digits.train, 64), path=artifacts_dir / "cnn.int8.onnx").artifact


def _has_bf16() -> bool:
    import openvino as ov

    return "BF16" in ovr.cpu_capabilities(ov.Core())


def _compiled_property(runner: OpenVINORunner, name: str):
    (request,) = runner._compiled.values()
    return request.get_compiled_model().get_property(name)


def test_compile_settings_are_explicit(cnn_ir):
    runner = OpenVINORunner(cnn_ir.path, threads=2)
    runner.run(np.zeros((1, 1, 8, 8), np.float32))
    assert isinstance(runner, Runner) and runner.runtime == "openvino"
    assert _compiled_property(runner, "INFERENCE_NUM_THREADS") == 2
    assert _compiled_property(runner, "NUM_STREAMS") == 1
    assert str(_compiled_property(runner, "PERFORMANCE_HINT")).endswith("LATENCY")
    assert "float32" in str(_compiled_property(runner, "INFERENCE_PRECISION_HINT"))


def test_ort_and_openvino_give_the_same_logits_on_one_onnx(cnn_onnx, digits):
    ort_runner, ov_runner = OnnxRuntimeRunner(cnn_onnx.path), OpenVINORunner(cnn_onnx.path)
    for n in (1, 7):
        x = digits.test.tensors[0][:n].numpy()
        np.testing.assert_allclose(ov_runner.run(x), ort_runner.run(x), rtol=1e-4, atol=1e-4)
    assert set(ov_runner._compiled) == {(1, 1, 8, 8), (7, 1, 8, 8)}  # one static compile per shape
    assert ov_runner.example_shape(5) == (5, 1, 8, 8)
    assert ov_runner.accuracy(digits.test, batch_size=64) == pytest.approx(ort_runner.accuracy(digits.test))


def test_int8_qdq_onnx_runs_in_openvino_close_to_ort(cnn_int8, cnn_onnx, digits):
    x = digits.test.tensors[0][:64].numpy()
    ort_logits = OnnxRuntimeRunner(cnn_int8.path).run(x)
    ov_logits = OpenVINORunner(cnn_int8.path).run(x)
    scale = np.abs(ort_logits).max()
    # Both run int8 kernels whose rounding differs a little; far closer than int8 is to fp32.
    assert np.abs(ov_logits - ort_logits).max() <= 0.05 * scale
    assert np.mean(ov_logits.argmax(1) == ort_logits.argmax(1)) >= 0.95
    fp32 = OpenVINORunner(cnn_onnx.path).run(x)
    assert not np.allclose(ov_logits, fp32, atol=1e-5)  # the file's int8 arithmetic, not an fp32 rerun


def test_bf16_runs_where_the_cpu_has_it(cnn_ir, digits):
    if not _has_bf16():
        pytest.skip("this CPU lists no BF16 (the refusal is tested below)")
    x = digits.test.tensors[0][:16].numpy()
    runner = OpenVINORunner(cnn_ir.path, precision="bf16")
    out, ref = runner.run(x), OpenVINORunner(cnn_ir.path).run(x)
    assert runner.execution_precision == "bf16"
    assert "bfloat16" in str(_compiled_property(runner, "INFERENCE_PRECISION_HINT"))
    assert np.abs(out - ref).max() <= 0.05 * np.abs(ref).max()
    assert np.mean(out.argmax(1) == ref.argmax(1)) >= 0.9


def test_bf16_without_the_capability_is_a_one_line_error(cnn_ir, monkeypatch):
    monkeypatch.setattr(ovr, "cpu_capabilities", lambda core: ("FP32", "INT8"))
    with pytest.raises(EdgeoptError, match="OPTIMIZATION_CAPABILITIES has no BF16") as info:
        OpenVINORunner(cnn_ir.path, precision="bf16")
    assert "\n" not in info.value.message
    assert OpenVINORunner(cnn_ir.path, precision="fp32").execution_precision == "fp32"  # fp32 still runs


def test_bench_an_ir_and_an_onnx_in_openvino(cnn_ir, cnn_onnx, digits):
    ir_row, onnx_row = bench([cnn_ir, cnn_onnx], data=digits, runs=10, warmup=2, memory=False, runtime="openvino")
    assert (ir_row.runtime, ir_row.format, ir_row.execution_precision) == ("openvino", "openvino", "fp32")
    assert (onnx_row.runtime, onnx_row.format) == ("openvino", "onnx")
    xml, weights = cnn_ir.path, cnn_ir.path.with_suffix(".bin")
    assert ir_row.size_bytes == xml.stat().st_size + weights.stat().st_size
    assert ir_row.accuracy == pytest.approx(onnx_row.accuracy, abs=1 / len(digits.test))
    (default,) = bench([cnn_onnx], runs=5, warmup=1, memory=False)
    assert default.runtime == "onnxruntime" and default.execution_precision is None  # unchanged default


def test_bench_measures_openvino_memory(cnn_ir):
    (row,) = bench([cnn_ir], runs=5, warmup=1, memory=True)
    assert row.peak_memory_bytes > row.baseline_memory_bytes > 0


def test_open_runner_refuses_pairs_no_runner_runs(cnn_ir, cnn_onnx):
    with pytest.raises(EdgeoptError, match="does not run in 'onnxruntime'"):
        open_runner(cnn_ir, runtime="onnxruntime")
    with pytest.raises(EdgeoptError, match="fp32 only"):
        open_runner(cnn_onnx, precision="bf16")
    assert open_runner(cnn_onnx).runtime == "onnxruntime"
    assert open_runner(cnn_onnx, runtime="openvino").runtime == "openvino"


def test_bad_files_are_one_line_errors(cnn_ir, tmp_path):
    (tmp_path / "junk.onnx").write_bytes(b"not a model")
    (tmp_path / "junk.xml").write_text("<net>unclosed")
    (tmp_path / "junk.bin").write_bytes(b"")
    (tmp_path / "lonely.xml").write_text(cnn_ir.path.read_text())
    cases = {
        tmp_path / "missing.xml": "does not exist",
        tmp_path / "lonely.xml": "no lonely.bin beside it",
        tmp_path / "junk.onnx": "OpenVINO cannot read",
        tmp_path / "junk.xml": "OpenVINO cannot read",
        tmp_path / "model.pte": "runs .xml",
    }
    for path, message in cases.items():
        with pytest.raises(EdgeoptError, match=message) as info:
            OpenVINORunner(path)
        assert "\n" not in info.value.message and "Exception from" not in info.value.message
    with pytest.raises(EdgeoptError, match="unknown OpenVINO precision"):
        OpenVINORunner(cnn_ir.path, precision="fp16")


def test_missing_openvino_names_the_extra(cnn_ir, monkeypatch):
    def no_openvino(name):
        raise ImportError(f"No module named {name!r}")

    monkeypatch.setattr(ovr.importlib, "import_module", no_openvino)
    with pytest.raises(EdgeoptError, match="OpenVINO is not installed") as info:
        OpenVINORunner(cnn_ir.path)
    assert "edgeopt[openvino]" in info.value.hint
