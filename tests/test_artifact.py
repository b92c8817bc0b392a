import hashlib
import json
import math

import pytest
from pydantic import ValidationError

from edgeopt.artifact import (
    CHECKPOINT_SUFFIXES,
    FORMATS,
    MODEL_FILE_SUFFIXES,
    PROGRAM_SUFFIX,
    Artifact,
    Measurement,
    ParityReport,
    artifact_suffix,
    format_for_runtime,
    infer_format,
)
from edgeopt.errors import EdgeoptError

# What runtime.bench measures; the keys results.json has stored since the runtime dataclass.
MEASURED = {"runtime": "onnxruntime", "artifact": "m.onnx", "threads": 2, "batch_size": 1,
            "latency_ms_median": 1.0, "latency_ms_p90": 1.2, "latency_ms_min": 0.9, "runs": 50, "warmup": 10,
            "accuracy": 0.97, "peak_memory_bytes": 90_000_000, "size_bytes": 4096, "format": "onnx",
            "latency_ms_spread": [0.95, 1.1], "baseline_memory_bytes": 80_000_000, "execution_precision": None}


def test_from_file_reads_size_and_hash(tmp_path):
    path = tmp_path / "m.onnx"
    payload = b"x" * (3 << 20) + b"tail"  # over the 1 MiB hashing chunk
    path.write_bytes(payload)
    art = Artifact.from_file(path, input_shape=[1, 1, 28, 28])
    assert art.format == "onnx" and art.precision == "fp32"
    assert art.size_bytes == len(payload)
    assert art.sha256 == hashlib.sha256(payload).hexdigest()
    assert art.input_shape == (1, 1, 28, 28)
    data = json.loads(json.dumps(art.to_dict()))
    assert data["path"] == str(path) and data["input_shape"] == [1, 1, 28, 28] and data["parity"] is None


@pytest.mark.parametrize("name, fmt", [("a.pt", "torch"), ("a.pt2", "torch"), ("a.safetensors", "torch"),
                                       ("a.int8.pte", "executorch"), ("a.ONNX", "onnx")])
def test_format_is_inferred_from_suffix(tmp_path, name, fmt):
    (tmp_path / name).write_bytes(b"0")
    assert Artifact.from_file(tmp_path / name).format == fmt


def test_explicit_format_wins(tmp_path):
    (tmp_path / "blob.bin").write_bytes(b"0")
    assert Artifact.from_file(tmp_path / "blob.bin", "onnx").format == "onnx"


def test_missing_file_and_unknown_suffix_are_user_errors(tmp_path):
    with pytest.raises(EdgeoptError, match="does not exist"):
        Artifact.from_file(tmp_path / "nope.onnx")
    (tmp_path / "m.tflite").write_bytes(b"0")
    with pytest.raises(EdgeoptError, match="cannot tell the format"):
        Artifact.from_file(tmp_path / "m.tflite")


def test_json_shape_round_trips_and_keeps_unknown_keys(tmp_path):
    parity = ParityReport(max_abs_error=1e-7, max_rel_error=math.inf, top1_agreement=1.0, n_samples=8,
                          rtol=1e-4, atol=1e-5, passed=True)
    art = Artifact(format="onnx", path=tmp_path / "m.onnx", size_bytes=4096, sha256="ab" * 32,
                   input_shape=(1, 1, 8, 8), parity=parity, metadata={"opset": 18})
    data = art.with_measurement(MEASURED).to_dict()
    assert list(data) == ["format", "path", "size_bytes", "sha256", "precision", "input_shape", "parity",
                          "metadata", "measurements", "estimate", "estimate_vs_measured"]
    assert isinstance(data["path"], str) and data["parity"]["max_rel_error"] == math.inf
    newer = {**json.loads(json.dumps(data)), "written_by_a_newer_edgeopt": {"x": 1}}
    again = Artifact.model_validate(newer)
    assert again.to_dict() == newer  # nothing lost, including the unknown key
    assert again.measurements[0] == Measurement.model_validate(MEASURED)


def test_artifact_is_frozen_and_helpers_return_copies(tmp_path):
    (tmp_path / "run" / "export").mkdir(parents=True)
    file = tmp_path / "run" / "export" / "m.onnx"
    file.write_bytes(b"0")
    art = Artifact.from_file(file)
    with pytest.raises(ValidationError):
        art.precision = "int8"
    measured = art.with_measurement(Measurement.model_validate(MEASURED))
    assert art.measurements == () and len(measured.measurements) == 1
    relative = measured.relative_to(tmp_path / "run")
    assert relative.to_dict()["path"] == "export/m.onnx" and relative.measurements == measured.measurements
    with pytest.raises(EdgeoptError, match="not inside"):
        art.relative_to(tmp_path / "elsewhere")


def test_measurement_to_dict_keeps_the_runtime_shape():
    data = Measurement.model_validate(MEASURED).to_dict()
    assert list(data) == [*MEASURED, "artifact_memory_bytes"]
    assert data["artifact_memory_bytes"] == 10_000_000 and data["latency_ms_spread"] == [0.95, 1.1]
    # to_dict's output reads back: the derived key is recomputed, not kept as a stale extra
    assert Measurement.model_validate({**data, "artifact_memory_bytes": 1}).artifact_memory_bytes == 10_000_000


def test_measurement_written_by_the_old_report_schema_still_loads():
    old = {"runtime": "torch", "threads": 2, "batch_size": 1, "latency_ms_median": 2.6, "latency_ms_p90": 3.1,
           "accuracy": 0.98, "peak_memory_bytes": 100}
    m = Measurement.model_validate(old)
    assert m.runs is None and m.format == "" and m.artifact_memory_bytes is None


@pytest.mark.parametrize("change", [{"threads": 0}, {"batch_size": 0}, {"latency_ms_median": 0.0},
                                    {"latency_ms_p90": -1.0}, {"accuracy": 1.5}, {"peak_memory_bytes": -1}])
def test_measurement_rejects_impossible_figures(change):
    with pytest.raises(ValidationError):
        Measurement.model_validate({**MEASURED, **change})


def test_format_table_and_helpers():
    assert CHECKPOINT_SUFFIXES == (".pt", ".pth", ".safetensors") and PROGRAM_SUFFIX == ".pt2"
    assert MODEL_FILE_SUFFIXES == FORMATS["torch"].suffixes == (".pt", ".pth", ".safetensors", ".pt2")
    assert artifact_suffix("onnx") == ".onnx" and artifact_suffix("onnx", "int8") == ".int8.onnx"
    assert artifact_suffix("executorch", "int8") == ".int8.pte"
    assert [format_for_runtime(f.runtime) for f in FORMATS.values()] == list(FORMATS)
    assert infer_format("dir/m.int8.onnx") == "onnx"
    with pytest.raises(EdgeoptError, match="no int8 files"):
        artifact_suffix("torch", "int8")
    with pytest.raises(EdgeoptError, match="onnx"):
        artifact_suffix("onxx")
    with pytest.raises(EdgeoptError, match="unknown runtime"):
        format_for_runtime("tflite")
