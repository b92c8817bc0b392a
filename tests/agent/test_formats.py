"""The agent judges uploads by content: ONNX and ExecuTorch only, complete, never a pickle."""

from __future__ import annotations

import io
import pickle
import zipfile

import numpy as np
import onnx
import pytest
import torch
from agent_helpers import fake_pte, random_bytes

from edgeopt.agent.client import pack_arrays
from edgeopt.agent.formats import Refused, check_onnx, check_pte, detect_format, load_data
from edgeopt.runtime import ArrayData


def _refused(tmp_path, data: bytes, match: str, name: str = "model.onnx") -> None:
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(Refused, match=match):
        detect_format(path)


def test_an_exported_onnx_file_is_onnx(cnn_onnx):
    assert detect_format(cnn_onnx) == "onnx"


@pytest.mark.parametrize("keep", [1, 2, 10, 0.25, 0.5, 0.9, -1])
def test_a_truncated_onnx_file_is_refused_wherever_it_is_cut(cnn_onnx, tmp_path, keep):
    data = cnn_onnx.read_bytes()
    cut = keep if isinstance(keep, int) and keep > 0 else (len(data) - 1 if keep == -1 else int(len(data) * keep))
    _refused(tmp_path, data[:cut], "not (a complete )?(an )?ONNX model")


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_a_pickle_named_onnx_is_refused_as_a_pickle(tmp_path, protocol):
    _refused(tmp_path, pickle.dumps({"weights": [1.0, 2.0]}, protocol=protocol), "Python pickle")


def test_a_torch_save_checkpoint_named_onnx_is_refused(tmp_path):
    buffer = io.BytesIO()
    torch.save({"w": torch.zeros(3)}, buffer)
    _refused(tmp_path, buffer.getvalue(), "zip archive .*pickle")


@pytest.mark.parametrize("data", [b"hello, this is text\n" * 20, random_bytes(5000), b"\x00" * 64])
def test_files_of_no_artifact_format_are_refused(tmp_path, data):
    _refused(tmp_path, data, "not (a complete )?(an )?ONNX model")


def test_an_empty_file_is_refused(tmp_path):
    _refused(tmp_path, b"", "empty")


def test_openvino_ir_is_refused_as_not_supported_yet(tmp_path):
    xml = b'<?xml version="1.0"?>\n<net name="model" version="11">\n<layers></layers>\n</net>\n'
    _refused(tmp_path, xml, "OpenVINO IR is not supported by the agent yet", name="model.xml")


def _with_external_tensor(model: onnx.ModelProto, location: str) -> bytes:
    tensor = model.graph.initializer[0]
    tensor.ClearField("raw_data")
    tensor.data_location = onnx.TensorProto.EXTERNAL
    entry = tensor.external_data.add()
    entry.key, entry.value = "location", location
    return model.SerializeToString()


def test_onnx_with_external_data_is_refused(cnn_onnx, tmp_path):
    data = _with_external_tensor(onnx.load(str(cnn_onnx)), "../../../../etc/passwd")
    _refused(tmp_path, data, "external files")


def test_external_data_inside_a_node_attribute_is_refused_too(tmp_path):
    value = onnx.helper.make_tensor("c", onnx.TensorProto.FLOAT, [1], [1.0])
    value.data_location = onnx.TensorProto.EXTERNAL
    value.external_data.add(key="location", value="/etc/shadow")
    node = onnx.helper.make_node("Constant", [], ["y"], value=value)
    graph = onnx.helper.make_graph([node], "g", [], [onnx.helper.make_tensor_value_info("y", 1, [1])])
    model = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", 18)])
    _refused(tmp_path, model.SerializeToString(), "external files")
    check_onnx(onnx.helper.make_model(  # the same model with its tensor inside is fine
        onnx.helper.make_graph([onnx.helper.make_node("Constant", [], ["y"], value=onnx.helper.make_tensor(
            "c", onnx.TensorProto.FLOAT, [1], [1.0]))], "g", [], [onnx.helper.make_tensor_value_info("y", 1, [1])]),
        opset_imports=[onnx.helper.make_opsetid("", 18)]).SerializeToString())


def test_a_pte_header_is_checked(tmp_path):
    path = tmp_path / "model.pte"
    path.write_bytes(fake_pte())
    assert detect_format(path) == "executorch"
    with pytest.raises(Refused, match="promises 256 bytes, the file has 200"):
        check_pte(fake_pte()[:200])
    with pytest.raises(Refused, match="root table lies past the end"):
        check_pte(fake_pte()[:20])


def test_data_arrays_round_trip_and_refuse_pickles(tmp_path):
    arrays = ArrayData(np.ones((3, 1, 8, 8), np.float32), np.arange(3), name="n")
    (tmp_path / "ok.npz").write_bytes(pack_arrays(arrays))
    back = load_data(tmp_path / "ok.npz", max_bytes=1 << 20)
    np.testing.assert_array_equal(back.x, arrays.x)
    np.testing.assert_array_equal(back.y, arrays.y)
    assert pack_arrays(arrays) == pack_arrays(arrays)  # same bytes, same hash: not sent twice
    np.savez(tmp_path / "objects.npz", x=np.array([{"a": 1}], dtype=object))
    with pytest.raises(Refused, match="without pickle"):
        load_data(tmp_path / "objects.npz", max_bytes=1 << 20)
    np.savez(tmp_path / "extra.npz", x=np.ones((1, 2), np.float32), evil=np.ones(1))
    with pytest.raises(Refused, match="must hold x.npy"):
        load_data(tmp_path / "extra.npz", max_bytes=1 << 20)
    (tmp_path / "pickle.npz").write_bytes(pickle.dumps([1, 2]))
    with pytest.raises(Refused, match="pickle"):
        load_data(tmp_path / "pickle.npz", max_bytes=1 << 20)
    with pytest.raises(Refused, match="unpacks to over"):
        load_data(tmp_path / "ok.npz", max_bytes=100)
    np.savez(tmp_path / "ints.npz", x=np.ones((2, 3), np.int64))
    with pytest.raises(Refused, match="must be float32"):
        load_data(tmp_path / "ints.npz", max_bytes=1 << 20)
    with zipfile.ZipFile(tmp_path / "bomb.npz", "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("x.npy", b"\0" * (4 << 20))  # 4 MiB of zeros packs to a few KiB
    with pytest.raises(Refused, match="unpacks to over"):
        load_data(tmp_path / "bomb.npz", max_bytes=1 << 20)
