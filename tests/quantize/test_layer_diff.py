"""quantize.diff: the float model against its int8 file, layer by layer, and what it refuses."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch

from edgeopt.data import calibration_subset, load_dataset
from edgeopt.errors import EdgeoptError
from edgeopt.models import create_model
from edgeopt.quantize import LayerDiff, diff, ptq
from edgeopt.runtime import scoped_threads
from edgeopt.train import TrainConfig, fit

BROKEN = "features.4.pointwise.0"


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


@pytest.fixture(scope="module")
def model(digits):
    torch.manual_seed(0)
    net = create_model("mobilenet_v1", num_classes=10, in_chans=1, width_mult=0.25, stem_stride=1)
    with scoped_threads(1):
        fit(net, digits.train, digits.val, TrainConfig(epochs=8, lr=1e-2, progress=False, seed=0))
    net.eval()
    images, labels = digits.val.tensors
    assert (net(images).argmax(1) == labels).float().mean() > 0.7  # a trained model, or nothing below means much
    return net


@pytest.fixture(scope="module")
def int8_file(model, digits, tmp_path_factory):
    path = tmp_path_factory.mktemp("diff") / "m.int8.onnx"
    ptq(model, calibration_subset(digits.train, 64), path=path)
    return path


def test_a_healthy_file_tracks_the_model_at_every_layer(model, digits, int8_file):
    result = diff(model, int8_file, digits.val, max_samples=64)
    assert result.scope == "per layer" and result.runtime == "onnxruntime" and result.samples == 64
    assert result.first_diverging is None and not any(r["first"] for r in result.rows)
    assert result.metadata["outputs_identical"]  # the extra outputs did not change what the file computes
    layers = [r["layer"] for r in result.rows]
    assert layers[0] == "input" and layers[-1] == "output"
    assert "features.0.0" in layers and "classifier" in layers and BROKEN in layers
    for row in result.rows:
        assert row["accumulated_sqnr_db"] > 15, row
        assert 0.0 <= (row["saturated"] or 0.0) <= 1.0
    convs = [r for r in result.rows if r["op_type"] == "Conv"]
    assert all(r["sqnr_db"] is not None and r["sqnr_db"] > 20 for r in convs)  # each layer alone is cut out
    # the output row is the model's output (errors need not grow layer by layer: they can average out)
    assert result.rows[-1]["accumulated_sqnr_db"] == pytest.approx(result.output_sqnr_db)


def test_diff_finds_a_layer_broken_before_export_as_the_first_diverging_layer(model, digits, tmp_path):
    broken = copy.deepcopy(model)
    with torch.no_grad():
        broken.get_submodule(BROKEN).weight.mul_(100)  # the file is made from this; the diff gets the good model
    art = ptq(broken, calibration_subset(digits.train, 64), path=tmp_path / "broken.int8.onnx").artifact
    result = diff(model, art, digits.val, max_samples=64)
    assert result.first_diverging == BROKEN
    assert result.ranking()[0]["layer"] == BROKEN  # worst first: the layer alone is the broken one
    index = next(r["index"] for r in result.rows if r["layer"] == BROKEN)
    assert all(r["accumulated_sqnr_db"] > result.threshold_db for r in result.rows if r["index"] < index)
    assert result.output_sqnr_db < 0
    marked = [row for row in result.table() if row[-1]]
    assert len(marked) == 1 and marked[0][1] == BROKEN


def test_the_result_round_trips_through_json(model, digits, int8_file):
    result = diff(model, int8_file, digits.val.tensors[0][:20])
    data = result.to_dict()
    assert all(not (isinstance(v, float) and math.isinf(v)) for row in data["rows"] for v in row.values())
    again = LayerDiff.from_dict(data)
    assert again.to_dict() == data and again.first_diverging == result.first_diverging


def test_a_file_made_from_another_model_is_refused(model, digits, int8_file, tmp_path):
    wider = create_model("mobilenet_v1", num_classes=10, in_chans=1, width_mult=0.5, stem_stride=1).eval()
    with pytest.raises(EdgeoptError, match="made from another model: layer 'features.0.0' has weights"):
        diff(wider, int8_file, digits.val)
    other = create_model("simple_cnn", num_classes=10, in_chans=1).eval()
    with pytest.raises(EdgeoptError, match="made from another model: layer"):
        diff(other, int8_file, digits.val)


def test_bad_inputs_are_one_line_errors(model, digits, int8_file, tmp_path):
    with pytest.raises(EdgeoptError, match="does not exist"):
        diff(model, tmp_path / "missing.onnx", digits.val)
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(EdgeoptError, match="cannot tell the format"):
        diff(model, tmp_path / "notes.txt", digits.val)
    (tmp_path / "garbage.onnx").write_bytes(b"\x00not onnx")
    with pytest.raises(EdgeoptError, match="cannot read 'garbage.onnx' as an ONNX file"):
        diff(model, tmp_path / "garbage.onnx", digits.val)
    with pytest.raises(EdgeoptError, match=r"inputs have shape \(1, 16, 16\) but 'm.int8.onnx' takes \(1, 8, 8\)"):
        diff(model, int8_file, torch.zeros(4, 1, 16, 16))
    bad = digits.val.tensors[0][:8].clone()
    bad[0, 0, 0, 0] = float("nan")
    with pytest.raises(EdgeoptError, match="NaN/Inf"):
        diff(model, int8_file, bad)
    with pytest.raises(EdgeoptError, match="max_samples must be a positive integer"):
        diff(model, int8_file, digits.val, max_samples=0)


def test_sqnr_counts_an_exact_match_as_infinite():
    from edgeopt.quantize.onnx_graph import sqnr_db

    assert sqnr_db(np.ones(3), np.ones(3)) == math.inf
    assert round(sqnr_db(np.ones(4), np.full(4, 1.1)), 1) == 20.0


@pytest.mark.slow
def test_a_pte_is_compared_at_its_delegate_border_and_says_so(digits, tmp_path):
    torch.manual_seed(0)
    net = create_model("simple_cnn", num_classes=10, in_chans=1).eval()
    images = torch.nn.functional.interpolate(digits.val.tensors[0][:64], size=(16, 16))
    art = ptq(net, images, backend="executorch", path=tmp_path / "m.int8.pte", example_input=images[:1]).artifact
    result = diff(net, art, images, max_samples=32)
    assert result.scope == "delegate border" and result.runtime == "executorch"
    assert [r["layer"] for r in result.rows] == ["output"] and "cannot see inside a delegate" in result.note
    assert result.output_sqnr_db > 10
