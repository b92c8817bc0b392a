"""export_openvino: IR parity with eager, both files or neither, the Export transform and CLI."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import typer
from typer.testing import CliRunner

from edgeopt.artifact import Artifact, infer_format
from edgeopt.cli import bench_cmd
from edgeopt.errors import EdgeoptError
from edgeopt.export import export_openvino, openvino_export as ove
from edgeopt.export.transform import Export
from edgeopt.runtime.openvino_runner import OpenVINORunner
from edgeopt.transform import Inputs

app = typer.Typer()
app.command("export")(bench_cmd.export)
app.command("bench")(bench_cmd.bench)


@pytest.fixture(scope="module")
def cnn_ir(trained_cnn, digits, tmp_path_factory) -> Artifact:
    path = tmp_path_factory.mktemp("ov") / "cnn.xml"
    return export_openvino(trained_cnn, torch.zeros(1, 1, 8, 8), path, parity_data=digits.test.tensors[0][:32])


def test_ir_matches_the_eager_model(cnn_ir, trained_cnn, digits):
    assert (cnn_ir.format, cnn_ir.precision, cnn_ir.input_shape) == ("openvino", "fp32", (1, 1, 8, 8))
    assert cnn_ir.parity.passed and cnn_ir.parity.max_abs_error < 1e-5
    assert cnn_ir.parity.n_samples == 1 + 1 + 3 + 2 + 32  # example, seeded batches, real samples
    weights = cnn_ir.path.with_suffix(".bin")
    assert cnn_ir.size_bytes == cnn_ir.path.stat().st_size + weights.stat().st_size
    assert weights.stat().st_size > 4 * sum(p.numel() for p in trained_cnn.parameters()) * 0.9  # fp32, not fp16
    runner = OpenVINORunner(cnn_ir.path)
    assert runner.example_shape(5) == (5, 1, 8, 8)  # the batch stays dynamic
    x = digits.test.tensors[0][:5]
    with torch.inference_mode():
        np.testing.assert_allclose(runner.run(x.numpy()), trained_cnn.eval()(x).numpy(), rtol=1e-4, atol=1e-5)
    assert infer_format(cnn_ir.path) == "openvino" and cnn_ir.metadata["weights"] == "cnn.bin"


def test_the_hash_covers_the_weights(cnn_ir, tmp_path):
    copy_xml, copy_bin = tmp_path / "c.xml", tmp_path / "c.bin"
    copy_xml.write_bytes(cnn_ir.path.read_bytes())
    weights = bytearray(cnn_ir.path.with_suffix(".bin").read_bytes())
    copy_bin.write_bytes(weights)
    assert Artifact.from_file(copy_xml).sha256 == cnn_ir.sha256
    weights[-1] ^= 0xFF
    copy_bin.write_bytes(weights)
    assert Artifact.from_file(copy_xml).sha256 != cnn_ir.sha256
    copy_bin.unlink()
    with pytest.raises(EdgeoptError, match="has no c.bin beside it"):
        Artifact.from_file(copy_xml)


def test_a_failed_parity_check_writes_neither_file(trained_cnn, tmp_path, monkeypatch):
    old_xml, old_bin = tmp_path / "m.xml", tmp_path / "m.bin"
    old_xml.write_text("old"), old_bin.write_text("old")

    def mismatch(*args, **kwargs):
        raise EdgeoptError("the OpenVINO IR (run in OpenVINO) does not match the eager model")

    monkeypatch.setattr(ove, "check_parity", mismatch)
    with pytest.raises(EdgeoptError, match="does not match"):
        export_openvino(trained_cnn, torch.zeros(1, 1, 8, 8), old_xml)
    assert old_xml.read_text() == "old" and old_bin.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.bin", "m.xml"]  # no temporary files left


def test_a_path_not_ending_in_xml_is_refused(trained_cnn, tmp_path):
    with pytest.raises(EdgeoptError, match="NAME.xml"):
        export_openvino(trained_cnn, torch.zeros(1, 1, 8, 8), tmp_path / "m.onnx")
    assert not any(tmp_path.iterdir())


def test_export_transform_writes_xml_and_bin(trained_cnn, tmp_path):
    step = Export(formats=["openvino"])
    result = step.apply(trained_cnn, Inputs(example=torch.zeros(1, 1, 8, 8), out_dir=tmp_path, name="net"))
    (art,) = result.artifacts
    assert art.format == "openvino" and art.parity.passed
    assert sorted(p.name for p in tmp_path.iterdir()) == ["net.bin", "net.xml"]


def test_cli_export_and_bench_in_openvino(tmp_path):
    out = tmp_path / "cnn.xml"
    done = CliRunner().invoke(app, ["export", "simple_cnn", "-a", "in_chans=1", "-i", "1,8,8", "-f", "openvino",
                                    "-o", str(out)])
    assert done.exit_code == 0, done.output
    assert "IR with cnn.bin" in done.output and out.with_suffix(".bin").is_file()
    bench = CliRunner().invoke(app, ["bench", str(out), "--runs", "5", "--no-memory", "--json"])
    assert bench.exit_code == 0, bench.output
    (row,) = json.loads(bench.output)
    assert (row["runtime"], row["format"], row["execution_precision"]) == ("openvino", "openvino", "fp32")


@pytest.mark.parametrize(("args", "message"), [
    (["--runtime", "tensorrt"], "unknown --runtime"),
    (["--precision", "fp16"], "unknown --precision"),
    (["--precision", "bf16", "--per-layer"], "go with a plain bench"),
])
def test_cli_bench_refuses_bad_runtime_options(tmp_path, args, message):
    done = CliRunner().invoke(app, ["bench", str(tmp_path / "x.onnx"), *args])
    assert done.exit_code != 0 and isinstance(done.exception, EdgeoptError)
    assert message in done.exception.message


def test_cli_export_refuses_to_replace_a_bin_without_force(tmp_path):
    (tmp_path / "cnn.bin").write_bytes(b"someone's weights")
    done = CliRunner().invoke(app, ["export", "simple_cnn", "-a", "in_chans=1", "-i", "1,8,8", "-f", "openvino",
                                    "-o", str(tmp_path / "cnn.xml")])
    assert isinstance(done.exception, EdgeoptError) and "file exists" in done.exception.message
    assert (tmp_path / "cnn.bin").read_bytes() == b"someone's weights" and not (tmp_path / "cnn.xml").exists()


def test_an_onnx_file_converts_to_the_ir_openvino_reads_from_it(trained_cnn, digits, tmp_path):
    from edgeopt.export.onnx_export import export_onnx

    onnx_file = export_onnx(trained_cnn, torch.zeros(1, 1, 8, 8), tmp_path / "cnn.onnx").path
    x = digits.test.tensors[0][:4].numpy()
    ir = ove.onnx_to_openvino(onnx_file, tmp_path / "out" / "cnn.xml", check_input=x)
    assert ir.format == "openvino" and ir.metadata["converted_from"] == "cnn.onnx"
    assert (tmp_path / "out" / "cnn.bin").is_file()
    with torch.inference_mode():
        np.testing.assert_allclose(OpenVINORunner(ir.path).run(x), trained_cnn.eval()(torch.from_numpy(x)).numpy(),
                                   rtol=1e-4, atol=1e-5)


def test_an_ir_that_differs_from_its_onnx_is_refused_and_not_written(trained_cnn, digits, tmp_path, monkeypatch):
    from edgeopt.export.onnx_export import export_onnx

    onnx_file = export_onnx(trained_cnn, torch.zeros(1, 1, 8, 8), tmp_path / "cnn.onnx").path
    real_run = OpenVINORunner.run
    monkeypatch.setattr(OpenVINORunner, "run", lambda self, batch: real_run(self, batch) + (
        0.0 if Path(self.path).suffix == ".onnx" else 1.0))
    with pytest.raises(EdgeoptError, match="differs from the .onnx"):
        ove.onnx_to_openvino(onnx_file, tmp_path / "cnn.xml", check_input=digits.test.tensors[0][:2].numpy())
    assert not (tmp_path / "cnn.xml").exists() and not (tmp_path / "cnn.bin").exists()
