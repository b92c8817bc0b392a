import hashlib
import json

import pytest

from edgeopt.errors import EdgeoptError
from edgeopt.export import Artifact


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


@pytest.mark.parametrize("name, fmt", [("a.pt", "torch"), ("a.pt2", "torch"), ("a.safetensors", "torch")])
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
