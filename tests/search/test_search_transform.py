"""The ``search`` recipe step: a search on the recipe's data whose winner the next steps use."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from edgeopt.checkpoint import load_checkpoint
from edgeopt.errors import EdgeoptError
from edgeopt.models.space_net import SpaceNet
from edgeopt.pipeline import run_recipe
from edgeopt.search.transform import Search
from edgeopt.transform import Inputs, apply, parse_transform

SEARCH_STEP = ("  - type: search\n    space: {space}\n    latency: macs\n    trials: 4\n    supernet_epochs: 1\n"
               "    top_k: 1\n    finetune_epochs: 0\n    calibration_samples: 64\n    threads: 1\n")


@pytest.fixture(autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.mark.slow
def test_a_search_step_feeds_its_winner_to_the_next_step(tiny_space_file: Path, tmp_path: Path):
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text("model: simple_cnn\ndata: {name: digits, image_size: [16, 16], limit: 400}\nsteps:\n"
                      + SEARCH_STEP.format(space=tiny_space_file) + "  - type: export\n    formats: [onnx]\n")
    results = run_recipe(recipe, tmp_path / "run", report=False)
    search = next(c for c in results.candidates if c.name == "search")
    front = json.loads((tmp_path / "run/steps/01_search/search/front.json").read_text())
    winner = front["winner"]
    assert winner is not None and search.metrics.model_dump()["search_trials"] == front["trials_total"] == 4
    assert search.lineage["steps"][-1]["record"]["arch"] == winner["arch"]
    loaded = load_checkpoint(tmp_path / "run" / search.checkpoint).model
    assert isinstance(loaded, SpaceNet) and loaded.arch.to_json() == winner["arch"]
    # The export step exported the searched model, beside the finalists' own measured files.
    formats = [(a.format, a.precision, a.metadata.get("winner")) for a in search.artifacts]
    assert ("onnx", "int8", True) in formats and any(str(a.path).endswith("search.onnx") for a in search.artifacts)


def test_options_are_search_config_without_data(tiny_space_file: Path):
    step = parse_transform({"type": "search", "space": str(tiny_space_file), "latency": "macs", "trials": 3})
    assert isinstance(step, Search) and step.search_config("digits").trials == 3
    with pytest.raises(Exception, match="extra|not permitted"):
        parse_transform({"type": "search", "data": "digits"})
    with pytest.raises(Exception, match="latency_table"):  # SearchConfig's own checks run on load
        parse_transform({"type": "search", "latency": "predict"})


def test_a_space_without_the_data_size_is_refused(tiny_space_file: Path, tmp_path: Path):
    from edgeopt.data import load_dataset

    splits = load_dataset("digits", limit=100)  # 8×8 images; the tiny space searches 16×16
    inputs = Inputs(example=splits.test.tensors[0][:1], data=splits, out_dir=tmp_path)
    with pytest.raises(EdgeoptError, match=r"resolutions \[16\].*8×8"):
        apply(Search.model_validate({"space": str(tiny_space_file), "latency": "macs"}), torch.nn.Linear(64, 10),
              inputs)
