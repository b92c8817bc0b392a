"""Opening any model source: registry names, factories, .pt2 programs, checkpoints; weights; trust."""

import pytest
import torch
from safetensors.torch import save_file
from torch import nn

from edgeopt.checkpoint import save_checkpoint
from edgeopt.data import load_dataset
from edgeopt.errors import EdgeoptError
from edgeopt.loading import load_model, open_model
from edgeopt.models import create_model, load_weights

FACTORY_MODULE = """
import torch.nn as nn
CALLS = []
def build(width=4, num_classes=3):
    CALLS.append(width)
    return nn.Sequential(nn.Conv2d(1, width, 3), nn.Flatten(), nn.LazyLinear(num_classes))
def not_a_model():
    return 42
"""


@pytest.fixture
def user_package(tmp_path, monkeypatch):
    (tmp_path / "userpkg_edgeopt_test.py").write_text(FACTORY_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    return "userpkg_edgeopt_test"


def test_factory_string_imports_and_calls_with_kwargs(user_package):
    model = load_model(f"{user_package}:build", width=6)
    assert isinstance(model, nn.Sequential) and model[0].out_channels == 6


def test_factory_errors_are_clear(user_package):
    with pytest.raises(EdgeoptError, match="cannot import 'no_such_pkg_xyz.mod'"):
        load_model("no_such_pkg_xyz.mod:build")
    with pytest.raises(EdgeoptError, match="has no attribute 'missing'"):
        load_model(f"{user_package}:missing")
    with pytest.raises(EdgeoptError, match="returned int, not a torch.nn.Module"):
        load_model(f"{user_package}:not_a_model")


def test_exported_program_roundtrip(tmp_path):
    model = create_model("simple_cnn", num_classes=4, in_chans=1).eval()
    x = torch.randn(2, 1, 8, 8)
    path = tmp_path / "m.pt2"
    torch.export.save(torch.export.export(model, (x,)), str(path))
    loaded = load_model(str(path))
    torch.testing.assert_close(loaded(x), model(x))


def test_corrupt_pt2_is_a_clear_error(tmp_path):
    path = tmp_path / "bad.pt2"
    path.write_bytes(b"not a zip archive")
    with pytest.raises(EdgeoptError, match="not a readable torch.export program"):
        load_model(str(path))


def test_missing_file_is_named(tmp_path):
    with pytest.raises(EdgeoptError, match="does not exist"):
        load_model(str(tmp_path / "nope.pt2"))


@pytest.mark.parametrize("fmt", ["pt", "safetensors"])
def test_weights_from_state_dict_files(tmp_path, fmt):
    source = create_model("simple_cnn", num_classes=4, in_chans=1).eval()
    path = tmp_path / f"w.{fmt}"
    if fmt == "pt":
        torch.save(source.state_dict(), path)
    else:
        save_file(source.state_dict(), str(path))
    loaded = load_model("simple_cnn", weights=path, num_classes=4, in_chans=1).eval()
    x = torch.randn(2, 1, 8, 8)
    torch.testing.assert_close(loaded(x), source(x))


def test_weights_load_refuses_pickled_code(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"w": torch.zeros(1), "obj": nn.ReLU()}, path)  # a module is not plain data
    refused = r"refers to 'torch.nn.modules.activation.ReLU'\); edgeopt will not load it$"
    with pytest.raises(EdgeoptError, match=refused):
        load_model("simple_cnn", weights=path)


def test_weights_mismatch_names_keys_and_shapes(tmp_path):
    path = tmp_path / "w.pt"
    torch.save(create_model("simple_cnn", num_classes=7).state_dict(), path)
    with pytest.raises(
        EdgeoptError, match=r"shape mismatches classifier.weight: \(7, 64\) given vs \(4, 64\) in the model"
    ):
        load_model("simple_cnn", weights=path, num_classes=4)
    with pytest.raises(EdgeoptError, match="missing keys bias"):
        load_weights(nn.Linear(2, 2), {"weight": torch.zeros(2, 2)})


def test_kwargs_rejected_for_saved_models(tmp_path):
    path = tmp_path / "m.pt2"
    path.write_bytes(b"")
    with pytest.raises(EdgeoptError, match="do not apply to the saved model"):
        load_model(str(path), num_classes=3)


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


def test_data_fills_classes_and_channels_but_keeps_what_is_given(digits, user_package):
    opened = open_model("simple_cnn", data=digits)
    assert opened.lineage.root.kwargs == {"num_classes": 10, "in_chans": 1}
    assert opened.lineage.input_size == (1, 1, 8, 8)
    assert open_model("simple_cnn", kwargs={"in_chans": 3}).lineage.root.kwargs == {"in_chans": 3}
    # a factory the user named gets them too, when its signature takes them
    assert open_model(f"{user_package}:build", data=digits).lineage.root.kwargs == {"num_classes": 10}


def test_class_mismatch_is_refused(digits):
    with pytest.raises(EdgeoptError, match="class"):
        open_model("simple_cnn", kwargs={"num_classes": 5}, data=digits)


def test_factory_checkpoint_needs_trust(user_package, tmp_path):
    model = load_model(f"{user_package}:build", width=5)
    model(torch.zeros(1, 1, 8, 8))  # materialise the lazy layer
    path = save_checkpoint(
        tmp_path / "m.pt", model, model_name=f"{user_package}:build", model_kwargs={"width": 5}, input_size=(1, 1, 8, 8)
    )
    with pytest.raises(EdgeoptError, match=r"built by your code .*--trust-code") as info:
        open_model(path)
    assert user_package in info.value.hint
    assert load_model(path, trust_code=True)[0].out_channels == 5
    assert load_model(path, trust_code={user_package})[0].out_channels == 5
    with pytest.raises(EdgeoptError, match="built by your code"):
        open_model(path, trust_code={"some_other_module"})


def test_checkpoint_for_another_input_size_is_refused(digits, tmp_path):
    path = save_checkpoint(
        tmp_path / "m.pt",
        create_model("simple_cnn", in_chans=1),
        model_name="simple_cnn",
        model_kwargs={"in_chans": 1},
        input_size=(1, 1, 28, 28),
    )
    with pytest.raises(EdgeoptError, match="made for 1×28×28 inputs but dataset 'digits' has 1×8×8"):
        open_model(path, data=digits)
