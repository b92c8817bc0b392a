import pytest
import torch
from torch import nn

from edgeopt.analysis import profile
from edgeopt.devices import check_fit, get_device, onnx_profile
from edgeopt.errors import EdgeoptError
from edgeopt.models import create_model


class AttentionHead(nn.Module):
    """Linear on a 3-D input (MatMul in ONNX) and an activation-by-activation matmul."""

    def __init__(self) -> None:
        super().__init__()
        self.proj = nn.Linear(16, 16)

    def forward(self, x):
        q = self.proj(x)
        return torch.matmul(q, q.transpose(1, 2))


def _export(model, size, path, **kwargs):
    model.eval()
    torch.onnx.export(model, (torch.randn(*size),), str(path), dynamo=False, opset_version=17,
                      **kwargs)
    return path


@pytest.mark.parametrize("name,kwargs,size", [
    ("simple_cnn", {"in_chans": 1}, (1, 1, 28, 28)),
    ("mobilenet_v1", {"width_mult": 0.25, "num_classes": 10}, (1, 3, 32, 32)),  # depthwise
])
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_onnx_macs_equal_profile(tmp_path, name, kwargs, size):
    model = create_model(name, **kwargs)
    cost = onnx_profile(_export(model, size, tmp_path / "m.onnx"))
    reference = profile(model, size)
    assert cost.macs == reference.macs and cost.method == "onnx"
    assert cost.peak_activation_bytes == reference.peak_activation_bytes
    assert cost.input_size == size
    assert 0 < cost.params <= reference.params  # the exporter folds BatchNorm into convs


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_onnx_gemm_and_matmul(tmp_path):
    model = AttentionHead()
    cost = onnx_profile(_export(model, (2, 5, 16), tmp_path / "a.onnx"))
    assert cost.macs == profile(model, (2, 5, 16)).macs == 2 * 5 * 16 * 16 + 2 * 5 * 5 * 16


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_dynamic_batch_and_input_size(tmp_path):
    model = create_model("simple_cnn", in_chans=1)
    path = _export(model, (1, 1, 28, 28), tmp_path / "d.onnx",
                   dynamic_axes={"input": {0: "batch"}}, input_names=["input"])
    assert onnx_profile(path).macs == profile(model, (1, 1, 28, 28)).macs
    assert onnx_profile(path, (4, 1, 28, 28)).macs == 4 * profile(model, (1, 1, 28, 28)).macs
    with pytest.raises(EdgeoptError, match="dims"):
        onnx_profile(path, (1, 28, 28))
    report = check_fit(onnx_profile(path), get_device("stm32f407"), "int8",
                       weights_bytes=path.stat().st_size)
    assert report.checks[0].required == path.stat().st_size


def test_bad_onnx_files(tmp_path):
    with pytest.raises(EdgeoptError, match="not found"):
        onnx_profile(tmp_path / "missing.onnx")
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"not a model at all")
    with pytest.raises(EdgeoptError, match="cannot read ONNX"):
        onnx_profile(broken)


def test_an_int8_qdq_file_with_index_arithmetic_has_the_models_macs(tmp_path):
    """ONNX's own shape inference cannot size a flatten written as Shape -> Range -> Mul -> Reshape (as
    the int8 files of ptq() have); the MACs of such a file are still the model's."""
    import onnx

    from edgeopt.data import calibration_subset, load_dataset
    from edgeopt.quantize import ptq

    torch.manual_seed(0)
    model = create_model("simple_cnn", in_chans=1, num_classes=10).eval()
    calibration = calibration_subset(load_dataset("digits").train, 16)
    path = ptq(model, calibration, path=tmp_path / "m.int8.onnx").artifact.path

    assert "Range" in {node.op_type for node in onnx.load(str(path)).graph.node}  # the case this is about
    assert onnx_profile(path, (1, 1, 8, 8)).macs == profile(model, (1, 1, 8, 8)).macs
