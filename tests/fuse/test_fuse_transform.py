"""A fused model saved with its lineage reloads as the same fused graph, bit for bit."""

from __future__ import annotations

import pytest
import torch
from fuse_helpers import randomize_batchnorms

from edgeopt.checkpoint import load_checkpoint, save_checkpoint
from edgeopt.errors import EdgeoptError
from edgeopt.fuse import Fuse
from edgeopt.lineage import Lineage, LineageEntry
from edgeopt.models import ModelRoot, create_model
from edgeopt.transform import Inputs, apply

KWARGS = {"num_classes": 10, "in_chans": 1, "width": 8}


@pytest.mark.parametrize("suffix", [".pt", ".safetensors"])
def test_round_trip_is_exact(tmp_path, suffix):
    model = randomize_batchnorms(create_model("simple_cnn", **KWARGS)).eval()
    x = torch.randn(3, 1, 8, 8)
    result = apply(Fuse(), model, Inputs(example=x[:1]))
    assert result.record["fusions"] == [["conv_bn_relu", f["into"]] for f in result.report["fusion"]["fused"]]
    lineage = Lineage(root=ModelRoot.named("simple_cnn", KWARGS), input_size=(1, 1, 8, 8)).then(Fuse(), result)
    path = save_checkpoint(tmp_path / f"fused{suffix}", result.model, lineage, metadata={"dataset": "digits"})
    loaded = load_checkpoint(path)
    assert loaded.metadata["dataset"] == "digits" and loaded.lineage.summary() == "simple_cnn → fuse"
    original_state, loaded_state = result.model.state_dict(), loaded.model.state_dict()
    assert original_state.keys() == loaded_state.keys()
    assert all(torch.equal(original_state[k], loaded_state[k]) for k in original_state)
    with torch.no_grad():
        assert torch.equal(loaded.model(x), result.model(x))


def test_replay_refuses_a_graph_that_folds_differently(tmp_path):
    model = create_model("simple_cnn", **KWARGS)
    result = apply(Fuse(), model, Inputs(example=torch.randn(1, 1, 8, 8)))
    wrong = LineageEntry(type="fuse", record={"fusions": [["conv_bn", "elsewhere"]]})
    lineage = Lineage(root=ModelRoot.named("simple_cnn", KWARGS), steps=(wrong,), input_size=(1, 1, 8, 8))
    path = save_checkpoint(tmp_path / "f.pt", result.model, lineage)
    with pytest.raises(EdgeoptError, match=r"lineage entry 1 \(fuse\): fusing the model again folds other layers"):
        load_checkpoint(path)
