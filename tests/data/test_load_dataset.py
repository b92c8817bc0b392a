"""load_dataset dispatch and option checking (per-format behaviour has its own test files)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from edgeopt.data import load_dataset
from edgeopt.errors import EdgeoptError


def test_missing_path_is_named(tmp_path):
    missing = tmp_path / "nowhere" / "data.npz"
    with pytest.raises(EdgeoptError, match=f"dataset path '{missing}' does not exist"):
        load_dataset(str(missing))


def test_unknown_bare_name_mentions_builtins():
    with pytest.raises(EdgeoptError, match="not a builtin \\(digits, mnist5k\\)"):
        load_dataset("imagenet")


def test_unsupported_file_and_archive_hint(tmp_path):
    (tmp_path / "data.csv").write_text("1,2,3")
    with pytest.raises(EdgeoptError, match="unsupported dataset file"):
        load_dataset(tmp_path / "data.csv")
    (tmp_path / "cifar.tar.gz").write_bytes(b"")
    with pytest.raises(EdgeoptError, match="extract the archive"):
        load_dataset(tmp_path / "cifar.tar.gz")


def test_directory_dispatch(tmp_path, cifar_folder, image_folder):
    assert load_dataset(cifar_folder(per_batch=5, n_test=5), val_fraction=0.0).in_chans == 3
    assert load_dataset(image_folder({"a": 3, "b": 3})).class_names == ["a", "b"]


@pytest.mark.parametrize(
    "kwargs,needle",
    [
        ({"image_size": (0, 8)}, "image_size must be"),
        ({"image_size": 32}, "image_size must be"),
        ({"limit": 0}, "limit must be"),
        ({"val_fraction": 1.5}, "val_fraction must be"),
    ],
)
def test_bad_options(kwargs, needle):
    with pytest.raises(EdgeoptError, match=needle):
        load_dataset("digits", **kwargs)


def test_summary_is_json_ready_and_model_check(tmp_path):
    path = tmp_path / "tiny.npz"
    np.savez(path, x=np.random.default_rng(0).random((20, 5, 5, 3)), y=np.arange(20) % 4)
    s = load_dataset(Path(path))
    assert json.loads(json.dumps(s.summary()))["num_classes"] == 4
    with pytest.raises(EdgeoptError) as e:
        s.check_model_input(in_chans=1)
    assert "model expects 1 input channels but dataset 'tiny' has 3" in str(e.value)
    assert e.value.hint == "build the model with in_chans=3"


def test_builtin_name_wins_over_folder_of_same_name(tmp_path, monkeypatch):
    (tmp_path / "digits").mkdir()
    monkeypatch.chdir(tmp_path)
    assert load_dataset("digits").num_classes == 10
    with pytest.raises(EdgeoptError, match="no class sub-folders"):
        load_dataset("./digits")


def test_an_image_size_beyond_memory_is_refused_before_reading():
    with pytest.raises(EdgeoptError, match=r"one image resized to 1000000×1000000 needs at least .* of memory"):
        load_dataset("digits", image_size=(10**6, 10**6))
