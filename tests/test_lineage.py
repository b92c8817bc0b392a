"""Bad lineages get one-line errors that name the file, the entry and the fix."""

from __future__ import annotations

import pytest
import torch

from edgeopt.checkpoint import load_checkpoint, save_checkpoint
from edgeopt.errors import EdgeoptError
from edgeopt.lineage import Lineage, LineageEntry
from edgeopt.models import ModelRoot, create_model
from edgeopt.prune import StructuredPrune
from edgeopt.transform import Inputs, apply

KWARGS = {"num_classes": 10, "in_chans": 1}
ROOT = ModelRoot.named("simple_cnn", KWARGS)


def _save(tmp_path, steps, model=None):
    lineage = Lineage(root=ROOT, steps=tuple(steps), input_size=(1, 1, 8, 8))
    return save_checkpoint(tmp_path / "m.pt", model or create_model("simple_cnn", **KWARGS), lineage)


def test_unknown_transform_type_names_the_entry(tmp_path):
    path = _save(tmp_path, [LineageEntry(type="prune.sparse-magic")])
    with pytest.raises(EdgeoptError, match=r"m.pt: lineage entry 1 \(prune.sparse-magic\): unknown transform type"):
        load_checkpoint(path)


def test_options_this_version_does_not_know_name_the_entry(tmp_path):
    path = _save(tmp_path, [LineageEntry(type="fuse", config={"aggressive": True})])
    with pytest.raises(EdgeoptError, match=r"lineage entry 1 \(fuse\): its options are not valid here") as info:
        load_checkpoint(path)
    assert "another edgeopt version" in info.value.hint


def test_replay_that_misses_the_saved_shapes_names_the_lineage(tmp_path):
    model = create_model("simple_cnn", **KWARGS)
    result = apply(StructuredPrune(ratio=0.5), model, Inputs(example=torch.zeros(1, 1, 8, 8)))
    wrong = LineageEntry(type="prune.structured", config={"ratio": 0.5}, record={"shapes": {}})
    path = _save(tmp_path, [wrong], model=result.model)  # the record lost its shapes
    with pytest.raises(EdgeoptError, match=r"\(simple_cnn → prune.structured\) does not fit .*shape mismatches"):
        load_checkpoint(path)


def test_factory_that_no_longer_exists(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "gone_factory_mod.py").write_text("from torch import nn\ndef build():\n    return nn.Linear(2, 2)\n")
    root = ModelRoot.named("gone_factory_mod:build")
    path = save_checkpoint(tmp_path / "f.pt", root.build(trust_code=True), Lineage(root=root))
    root_renamed = tmp_path / "gone_factory_mod.py"
    root_renamed.write_text("def other():\n    pass\n")
    import importlib
    import sys

    sys.modules.pop("gone_factory_mod", None)
    importlib.invalidate_caches()
    with pytest.raises(EdgeoptError, match=r"f.pt: 'gone_factory_mod' has no attribute 'build'"):
        load_checkpoint(path, trust_code=True)


def test_newer_format_is_refused_with_the_fix(tmp_path):
    path = tmp_path / "new.pt"
    torch.save({"format": "edgeopt-checkpoint", "version": 99, "state_dict": {}}, path)
    with pytest.raises(EdgeoptError, match="format version 99; this edgeopt reads up to 2") as info:
        load_checkpoint(path)
    assert info.value.hint == "upgrade edgeopt"


def test_program_root_travels_inside_the_checkpoint(tmp_path):
    model = create_model("simple_cnn", **KWARGS).eval()
    x = torch.randn(2, 1, 8, 8)
    program = tmp_path / "m.pt2"
    torch.export.save(torch.export.export(model, (x,)), str(program))
    root = ModelRoot.from_program(program)
    for suffix in (".pt", ".safetensors"):
        path = save_checkpoint(tmp_path / f"p{suffix}", root.build(), Lineage(root=root, input_size=(1, 1, 8, 8)))
        program.unlink(missing_ok=True)  # the checkpoint does not need the file any more
        loaded = load_checkpoint(path)
        assert loaded.lineage.root.kind == "program"
        torch.testing.assert_close(loaded.model(x), model(x))
