import numpy as np
import pytest
import torch
from safetensors.torch import save_file
from torch import nn

import edgeopt.checkpoint as checkpoint_module
from edgeopt.checkpoint import FORMAT, load_checkpoint, save_checkpoint
from edgeopt.errors import EdgeoptError
from edgeopt.models import create_model

SUFFIXES = [".pt", ".safetensors"]


def tiny(hidden: int = 8, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(1, hidden, 3), nn.BatchNorm2d(hidden), nn.ReLU(), nn.Flatten(),
        nn.Linear(hidden * 4, 3),
    )


def trained_like(model: nn.Module) -> nn.Module:
    """Give BN running stats non-default values, so buffers are checked too."""
    model.train()
    with torch.no_grad():
        model(torch.randn(16, 1, 4, 4))
    return model.eval()


META = {"val_acc": 0.97, "input_size": [1, 1, 4, 4], "steps": ["prune", {"amount": 0.5}],
        "note": None, "ok": True}


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_roundtrip_gives_identical_outputs(tmp_path, suffix):
    model = trained_like(tiny())
    path = save_checkpoint(tmp_path / f"m{suffix}", model, metadata=META)
    assert path == tmp_path / f"m{suffix}"
    ckpt = load_checkpoint(path, model=tiny(seed=1).eval())
    x = torch.randn(5, 1, 4, 4)
    assert torch.equal(ckpt.model(x), model(x))
    for key, value in model.state_dict().items():
        assert torch.equal(ckpt.model.state_dict()[key], value), key
    assert ckpt.metadata == META and ckpt.lineage is None and ckpt.path == path
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temp file left


def test_torch_checkpoint_is_plain_data(tmp_path):
    path = save_checkpoint(tmp_path / "m.pt", tiny(), model_name="simple_cnn",
                           metadata={"acc": np.float64(0.5), "n": np.int64(3)})
    payload = torch.load(path, map_location="cpu", weights_only=True)
    assert payload["format"] == FORMAT and payload["version"] == 2
    assert payload["lineage"] == {"root": {"kind": "registry", "source": "simple_cnn", "kwargs": {},
                                           "program_sha256": None}, "steps": [], "input_size": None}
    assert payload["metadata"] == {"acc": 0.5, "n": 3}
    assert type(payload["metadata"]["acc"]) is float  # NumPy scalars stored as builtins


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_tied_weights_roundtrip(tmp_path, suffix):
    model = nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 4))
    model[1].weight = model[0].weight
    path = save_checkpoint(tmp_path / f"t{suffix}", model)
    other = nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 4))
    load_checkpoint(path, model=other)
    assert torch.equal(other[1].weight, model[0].weight)


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_rebuilds_model_from_registry(tmp_path, suffix, monkeypatch):
    calls = []

    def fake_create_model(hidden: int = 8):
        calls.append(("tiny", {"hidden": hidden}))
        return tiny(seed=5, hidden=hidden)

    from edgeopt.models import registry

    monkeypatch.setitem(registry._REGISTRY, "tiny", registry.ModelEntry("tiny", fake_create_model, "test"))
    model = tiny(hidden=6)
    path = save_checkpoint(tmp_path / f"m{suffix}", model, model_name="tiny",
                           model_kwargs={"hidden": 6})
    ckpt = load_checkpoint(path)
    assert calls == [("tiny", {"hidden": 6})]
    assert ckpt.lineage.root.source == "tiny"
    x = torch.randn(2, 1, 4, 4)
    assert torch.equal(ckpt.model.eval()(x), model.eval()(x))


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_without_model_name_a_model_is_required(tmp_path, suffix):
    path = save_checkpoint(tmp_path / f"m{suffix}", tiny())
    with pytest.raises(EdgeoptError, match="does not name its model"):
        load_checkpoint(path)


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(EdgeoptError, match=r"nope\.pt does not exist"):
        load_checkpoint(tmp_path / "nope.pt", model=tiny())
    with pytest.raises(EdgeoptError, match="is a directory"):
        load_checkpoint(tmp_path, model=tiny())


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_corrupt_file(tmp_path, suffix):
    path = save_checkpoint(tmp_path / f"m{suffix}", tiny())
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])  # truncated copy
    with pytest.raises(EdgeoptError, match=f"m{suffix} is corrupt"):
        load_checkpoint(path, model=tiny())
    garbage = tmp_path / f"g{suffix}"
    garbage.write_text("not a checkpoint at all")
    with pytest.raises(EdgeoptError, match="is corrupt"):
        load_checkpoint(garbage, model=tiny())


def test_not_an_edgeopt_checkpoint(tmp_path):
    model = tiny()
    torch.save(model.state_dict(), tmp_path / "bare.pt")
    with pytest.raises(EdgeoptError, match="not an edgeopt checkpoint") as info:
        load_checkpoint(tmp_path / "bare.pt", model=model)
    assert "bare state dict" in info.value.hint
    torch.save({"format": "other"}, tmp_path / "other.pt")
    with pytest.raises(EdgeoptError, match="not an edgeopt checkpoint"):
        load_checkpoint(tmp_path / "other.pt", model=model)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()},
              str(tmp_path / "bare.safetensors"))
    with pytest.raises(EdgeoptError, match="not an edgeopt checkpoint"):
        load_checkpoint(tmp_path / "bare.safetensors", model=model)


class Evil:
    """Not plain data: weights_only loading must refuse to build it."""


def test_pickled_objects_are_refused(tmp_path):
    torch.save({"format": FORMAT, "obj": Evil()}, tmp_path / "evil.pt")
    with pytest.raises(EdgeoptError, match="not plain data"):
        load_checkpoint(tmp_path / "evil.pt", model=tiny())


def test_newer_version_is_refused(tmp_path):
    torch.save({"format": FORMAT, "version": 99, "state_dict": {}}, tmp_path / "new.pt")
    with pytest.raises(EdgeoptError, match="format version 99"):
        load_checkpoint(tmp_path / "new.pt", model=tiny())


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_state_dict_mismatch_names_keys_and_shapes(tmp_path, suffix):
    path = save_checkpoint(tmp_path / f"m{suffix}", tiny(hidden=8))
    with pytest.raises(EdgeoptError, match=r"shape mismatches 0\.weight: \(8, 1, 3, 3\) given"
                       r" vs \(6, 1, 3, 3\) in the model") as info:
        load_checkpoint(path, model=tiny(hidden=6))
    assert f"m{suffix}" in str(info.value)
    other = nn.Sequential(nn.Conv2d(1, 8, 3), nn.ReLU(), nn.Flatten(), nn.Linear(32, 3))
    with pytest.raises(EdgeoptError, match=r"missing keys 3\.weight, 3\.bias; unexpected keys "
                       r"(1\.\w+, ){4}1\.\w+ \(and 2 more\)"):
        load_checkpoint(path, model=other)


def test_non_plain_metadata_is_refused(tmp_path):
    with pytest.raises(EdgeoptError, match=r"metadata\['when'\] holds a object"):
        save_checkpoint(tmp_path / "m.pt", tiny(), metadata={"when": object()})
    with pytest.raises(EdgeoptError, match="non-string key 1"):
        save_checkpoint(tmp_path / "m.pt", tiny(), model_name="simple_cnn", model_kwargs={1: 2})
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_failed_save_leaves_no_temp_and_keeps_old_file(tmp_path, suffix, monkeypatch):
    path = save_checkpoint(tmp_path / f"m{suffix}", tiny(), metadata={"v": 1})
    before = path.read_bytes()

    def crash(*args, **kwargs):  # writes half a file, then fails like a full disk
        target = args[1] if len(args) > 1 else args[0]
        with open(target, "wb") as fh:
            fh.write(b"half")
        raise OSError("disk full")

    if suffix == ".pt":
        monkeypatch.setattr(checkpoint_module.torch, "save", crash)
    else:
        import safetensors.torch

        monkeypatch.setattr(safetensors.torch, "save_file",
                            lambda tensors, filename, metadata=None: crash(filename))
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(path, tiny(seed=3), metadata={"v": 2})
    assert [p.name for p in tmp_path.iterdir()] == [path.name]
    assert path.read_bytes() == before


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_registry_model_roundtrip(tmp_path, suffix):
    models = pytest.importorskip("edgeopt.models")
    if not hasattr(models, "create_model"):
        pytest.skip("edgeopt.models.create_model not available yet")
    kwargs = {"num_classes": 10, "in_chans": 1}
    model = models.create_model("simple_cnn", **kwargs).eval()
    path = save_checkpoint(tmp_path / f"cnn{suffix}", model, model_name="simple_cnn",
                           model_kwargs=kwargs)
    ckpt = load_checkpoint(path)
    x = torch.randn(3, 1, 8, 8)
    assert torch.equal(ckpt.model.eval()(x), model(x))


def test_any_order_of_transforms_reloads(tmp_path):
    """Pruned then fused, fused then pruned: the lineage rebuilds both architectures."""
    from edgeopt.fuse import Fuse
    from edgeopt.lineage import Lineage
    from edgeopt.models import ModelRoot
    from edgeopt.prune import StructuredPrune
    from edgeopt.transform import Inputs, apply

    kwargs = {"num_classes": 10, "in_chans": 1}
    torch.manual_seed(0)
    example = torch.randn(4, 1, 8, 8)
    for order in ((StructuredPrune(ratio=0.5), Fuse()), (Fuse(), StructuredPrune(ratio=0.5))):
        model = create_model("simple_cnn", **kwargs).eval()
        lineage = Lineage(root=ModelRoot.named("simple_cnn", kwargs), input_size=(1, 1, 8, 8))
        for transform in order:
            result = apply(transform, model, Inputs(example=example[:1]))
            model, lineage = result.model.eval(), lineage.then(transform, result)
        path = save_checkpoint(tmp_path / "m.pt", model, lineage)
        loaded = load_checkpoint(path).model.eval()
        assert torch.equal(loaded(example), model(example)), [t.type for t in order]
        assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in loaded.modules())


def v1_file(path, model, name, kwargs, metadata):
    """A checkpoint as edgeopt 0.1 wrote it."""
    torch.save({"format": FORMAT, "version": 1, "state_dict": model.state_dict(), "model_name": name,
                "model_kwargs": kwargs, "metadata": metadata}, path)
    return path


def test_version_1_files_still_load(tmp_path):
    from edgeopt.fuse import fuse_with_report
    from edgeopt.prune import structured

    kwargs = {"num_classes": 10, "in_chans": 1}
    model = create_model("simple_cnn", **kwargs).eval()
    example = torch.randn(4, 1, 8, 8)
    plain = load_checkpoint(v1_file(tmp_path / "a.pt", model, "simple_cnn", kwargs, {"input_size": [1, 1, 8, 8]}))
    assert torch.equal(plain.model.eval()(example), model(example)) and plain.input_size == (1, 1, 8, 8)
    small = structured(model, 0.5, example).eval()
    pruned = load_checkpoint(v1_file(tmp_path / "p.pt", small, "simple_cnn", kwargs,
                                     {"structured_pruning": {"ratio": 0.5, "importance": "l1"}}))
    assert pruned.lineage.summary() == "simple_cnn → prune.structured"
    assert torch.equal(pruned.model.eval()(example), small(example))
    fused, report = fuse_with_report(model, example)
    record = {"input_size": [1, 1, 8, 8], "fusions": [[f.pattern, f.into] for f in report.fused]}
    loaded = load_checkpoint(v1_file(tmp_path / "f.pt", fused, "simple_cnn", kwargs, {"fused": record}))
    assert torch.equal(loaded.model(example), fused(example))
    both = v1_file(tmp_path / "pf.pt", fused, "simple_cnn", kwargs, {"fused": record, "structured_pruning": {}})
    with pytest.raises(EdgeoptError, match="pruned, then fused.*prune and fuse the model again"):
        load_checkpoint(both)
    step = v1_file(tmp_path / "s.pt", small, None, {}, {"pipeline_step": 2})
    with pytest.raises(EdgeoptError, match="edgeopt 0.1 run.*edgeopt run RECIPE"):
        load_checkpoint(step)
