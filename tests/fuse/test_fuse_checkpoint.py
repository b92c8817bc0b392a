"""A fused model saved as an edgeopt checkpoint reloads as the same fused graph, bit for bit."""

from __future__ import annotations

import pytest
import torch
from fuse_helpers import randomize_batchnorms

from edgeopt.checkpoint import save_checkpoint
from edgeopt.errors import EdgeoptError
from edgeopt.fuse import fuse_with_report, is_fused_checkpoint, load_fused_checkpoint, save_fused_checkpoint
from edgeopt.models import create_model

KWARGS = {"num_classes": 10, "in_chans": 1, "width": 8}


@pytest.mark.parametrize("suffix", [".pt", ".safetensors"])
def test_round_trip_is_exact(tmp_path, suffix):
    model = randomize_batchnorms(create_model("simple_cnn", **KWARGS)).eval()
    x = torch.randn(3, 1, 8, 8)
    fused, report = fuse_with_report(model, x)
    path = save_fused_checkpoint(tmp_path / f"fused{suffix}", fused, model_name="simple_cnn",
                                 model_kwargs=KWARGS, input_size=(1, 1, 8, 8), report=report,
                                 metadata={"dataset": "digits"})
    assert is_fused_checkpoint(path)
    loaded = load_fused_checkpoint(path)
    assert loaded.metadata["dataset"] == "digits" and loaded.metadata["input_size"] == [1, 1, 8, 8]
    assert loaded.metadata["fused"]["fusions"] == [["conv_bn_relu", f.into] for f in report.fused]
    original_state, loaded_state = fused.state_dict(), loaded.model.state_dict()
    assert original_state.keys() == loaded_state.keys()
    assert all(torch.equal(original_state[k], loaded_state[k]) for k in original_state)
    with torch.no_grad():
        assert torch.equal(loaded.model(x), fused(x))


def test_plain_checkpoint_is_not_a_fused_one(tmp_path):
    path = save_checkpoint(tmp_path / "plain.pt", create_model("simple_cnn", **KWARGS),
                           model_name="simple_cnn", model_kwargs=KWARGS)
    assert not is_fused_checkpoint(path) and not is_fused_checkpoint(tmp_path / "missing.pt")
    with pytest.raises(EdgeoptError, match="not a fused checkpoint"):
        load_fused_checkpoint(path)
    with pytest.raises(EdgeoptError, match="does not exist"):
        load_fused_checkpoint(tmp_path / "missing.pt")
