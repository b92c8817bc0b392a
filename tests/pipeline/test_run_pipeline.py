"""A pipeline run on tiny data end to end: candidates, lineage, checkpoints, results.json."""

import json

import pytest
import torch

from edgeopt.checkpoint import load_checkpoint
from edgeopt.errors import EdgeoptError
from edgeopt.pipeline import load_recipe, load_step_model, run_recipe
from edgeopt.report import load_results
from edgeopt.train import evaluate

STEPS = """\
- type: train
  name: tuned
  train: {epochs: 1, lr: 1.0e-3, progress: false}
- type: prune.structured
  ratio: 0.5
- type: fuse
"""


HEADER = "model: simple_cnn\ntrain: {epochs: 1, lr: 5.0e-3, progress: false}\ndata: digits\nsteps:\n"


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    """One run shared by the read-only tests of this module (each run takes a few seconds)."""
    torch.set_num_threads(1)
    folder = tmp_path_factory.mktemp("pipeline")
    recipe = folder / "recipe.yaml"
    recipe.write_text(HEADER + "".join(f"  {line}\n" for line in STEPS.splitlines()))
    results = run_recipe(recipe, folder / "run", report=False)
    return folder / "run", results


def test_every_step_makes_an_evaluated_candidate_with_its_lineage(finished_run):
    run_dir, results = finished_run
    names = [c.name for c in results.candidates]
    assert names == ["baseline", "tuned", "prune.structured", "fuse"]
    assert load_results(run_dir).model_dump() == results.model_dump()  # results.json was written
    by_name = {c.name: c for c in results.candidates}
    lineage = by_name["fuse"].lineage
    assert lineage["root"]["source"] == "simple_cnn"
    assert [s["type"] for s in lineage["steps"]] == ["train", "train", "prune.structured", "fuse"]
    assert [s["name"] for s in lineage["steps"]] == ["baseline", "tuned", "prune.structured", "fuse"]
    assert by_name["prune.structured"].lineage["steps"][-1]["config"]["ratio"] == 0.5
    # Pruning half the channels makes the model physically smaller; fusing drops BatchNorm params.
    base, pruned, fused = by_name["baseline"], by_name["prune.structured"], by_name["fuse"]
    assert pruned.metrics.params < 0.5 * base.metrics.params
    assert pruned.metrics.macs < 0.5 * base.metrics.macs
    assert fused.metrics.params < pruned.metrics.params and fused.metrics.macs == pruned.metrics.macs
    for cand in results.candidates:
        assert 0.0 < cand.metrics.test_accuracy <= 1.0
        assert (run_dir / cand.checkpoint).is_file()
        assert cand.metrics.checkpoint_bytes == (run_dir / cand.checkpoint).stat().st_size


def test_recorded_accuracy_is_that_of_the_saved_model(finished_run):
    run_dir, results = finished_run
    from edgeopt.data import load_dataset

    test = load_dataset("digits").test
    for cand in results.candidates:
        model = load_step_model(run_dir, cand.name)  # replays pruning and fusion, then loads weights
        assert evaluate(model, test).accuracy == pytest.approx(cand.metrics.test_accuracy)


def test_every_step_checkpoint_opens_on_its_own(finished_run):
    run_dir, results = finished_run
    for cand in results.candidates:  # pruned and fused ones too: the lineage rebuilds them
        ckpt = load_checkpoint(run_dir / cand.checkpoint)
        assert ckpt.lineage.root.source == "simple_cnn" and ckpt.input_size == (1, 1, 8, 8)
        assert ckpt.metadata["candidate"] == cand.name


def test_resolved_recipe_and_state_are_saved(finished_run):
    run_dir, _ = finished_run
    saved = load_recipe(run_dir / "recipe.yaml")
    assert saved.steps[1].transform.importance == "l1"  # the default is written out
    state = json.loads((run_dir / "run.json").read_text())
    assert state["status"] == "done" and [s["type"] for s in state["steps"]] == ["train", "prune.structured", "fuse"]


def test_steps_never_change_their_input_candidate(write_recipe, tmp_path, monkeypatch):
    from edgeopt.pipeline.runner import _Run

    seen = {}
    original = _Run._record

    def spy(self, index, *args, **kwargs):
        baseline = self._model_of(self.candidates["baseline"]) if index else None
        seen[index] = {k: v.clone() for k, v in baseline.state_dict().items()} if index else None
        return original(self, index, *args, **kwargs)

    monkeypatch.setattr(_Run, "_record", spy)
    run_recipe(write_recipe(STEPS), tmp_path / "run", report=False)
    first = seen[1]
    for index in (2, 3):
        assert all(torch.equal(first[k], v) for k, v in seen[index].items())


def test_existing_run_dir_needs_resume_or_force(write_recipe, tmp_path):
    run_dir = tmp_path / "run"
    recipe = write_recipe("- type: train\n  train: {epochs: 1, progress: false}\n- type: fuse\n")
    run_recipe(recipe, run_dir, report=False)
    with pytest.raises(EdgeoptError, match="already exists.*--resume.*--force"):
        run_recipe(recipe, run_dir, report=False)
    results = run_recipe(write_recipe("- type: fuse\n", name="other.yaml"), run_dir, force=True, report=False)
    assert [c.name for c in results.candidates] == ["baseline", "fuse"]
    assert not (run_dir / "steps" / "02_fuse").exists()  # the earlier run is gone


def test_force_refuses_a_folder_that_is_not_a_run(write_recipe, tmp_path):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "notes.txt").write_text("keep me")
    with pytest.raises(EdgeoptError, match="not an edgeopt run directory"):
        run_recipe(write_recipe("- type: fuse\n"), folder, force=True, report=False)
    assert (folder / "notes.txt").read_text() == "keep me"


def test_bad_target_fails_before_training(write_recipe, tmp_path):
    header = "model: simple_cnn\ntrain: {epochs: 1}\ndata: digits\ntarget: raspbery-pi-4\n"
    with pytest.raises(EdgeoptError, match="unknown device 'raspbery-pi-4'"):
        run_recipe(write_recipe("- type: fuse\n", header=header), tmp_path / "run", report=False)
    assert not (tmp_path / "run").exists()
