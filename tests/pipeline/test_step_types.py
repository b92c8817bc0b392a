"""The built-in step types on the real APIs: distill, magnitude pruning, int8 PTQ, misuse errors."""

from pathlib import Path

import pytest

from edgeopt.data import load_dataset
from edgeopt.errors import EdgeoptError
from edgeopt.models import create_model
from edgeopt.pipeline import Candidate, run_recipe
from edgeopt.pipeline.outcome import run_step
from edgeopt.pipeline.step import parse_step
from edgeopt.transform import Inputs, get_transform

TEACHER_DISTILL_MAGNITUDE = """\
- type: train
  name: teacher
  model: {source: simple_cnn, kwargs: {width: 32}}
  train: {epochs: 1, progress: false}
- type: distill
  input: baseline
  teacher: teacher
  train: {epochs: 1, progress: false}
- type: prune.magnitude
  sparsity: 0.7
  fine_tune: {epochs: 1, lr: 1.0e-3, progress: false}
"""


@pytest.mark.slow
def test_teacher_distill_and_magnitude_pruning(write_recipe, tmp_path):
    results = run_recipe(write_recipe(TEACHER_DISTILL_MAGNITUDE), tmp_path / "run", report=False)
    by_name = {c.name: c for c in results.candidates}
    teacher, student, sparse = by_name["teacher"], by_name["distill"], by_name["prune.magnitude"]
    # The teacher is a model of its own (a new lineage), wider than the baseline.
    assert teacher.parent is None and [s["name"] for s in teacher.lineage["steps"]] == ["teacher"]
    assert teacher.lineage["root"]["kwargs"]["width"] == 32
    assert teacher.metrics.params > 3 * by_name["baseline"].metrics.params
    assert student.parent == "baseline" and student.details["distill"]["alpha"] == 0.7
    assert student.metrics.params == by_name["baseline"].metrics.params
    # Unstructured: same stored parameters, 70% of the prunable weights are zeros.
    assert sparse.metrics.params == student.metrics.params
    assert sparse.metrics.sparsity == pytest.approx(0.7, abs=0.05)
    assert sparse.metrics.nonzero_params < 0.45 * sparse.metrics.params
    assert sparse.metrics.compressed_bytes < 0.6 * student.metrics.param_bytes


@pytest.mark.slow
def test_int8_ptq_candidate_reports_the_accuracy_of_its_artifact(write_recipe, tmp_path):
    steps = "- type: quantize.ptq\n  calibration_samples: 64\n"
    results = run_recipe(write_recipe(steps), tmp_path / "run", report=False)
    base, int8 = results.candidates
    (art,) = int8.artifacts
    assert art.precision == "int8" and art.format == "onnx" and (tmp_path / "run" / art.path).is_file()
    assert int8.metrics.accuracy_source == "artifact"
    assert int8.metrics.float_accuracy == pytest.approx(base.metrics.test_accuracy)
    assert int8.metrics.test_accuracy == int8.details["quantization"]["int8_accuracy"]
    assert art.size_bytes < 0.5 * base.metrics.checkpoint_bytes


@pytest.mark.slow
def test_qat_candidate_ships_an_int8_file(write_recipe, tmp_path):
    steps = "- type: quantize.qat\n  calibration_samples: 64\n  train: {epochs: 1, max_steps: 5, progress: false}\n"
    results = run_recipe(write_recipe(steps), tmp_path / "run", report=False)
    _, int8 = results.candidates
    (art,) = int8.artifacts
    assert art.precision == "int8" and (tmp_path / "run" / art.path).is_file()
    assert int8.details["quantization"]["method"] == "qat"
    assert int8.metrics.accuracy_source == "artifact" and 0 < int8.metrics.test_accuracy <= 1


def step_on(cand: Candidate, tmp_path: Path, step: dict):
    """Run one recipe step on ``cand`` outside a run."""
    data = load_dataset("digits", limit=200)
    inputs = Inputs(example=data.test.tensors[0][:1], data=data, out_dir=tmp_path, name="step")
    return run_step(parse_step(step, 2), 2, cand, cand.model, {cand.name: cand}, inputs, tmp_path)


@pytest.mark.parametrize("step", [{"type": "export"}, {"type": "quantize.ptq"}, {"type": "quantize.qat"},
                                  {"type": "fuse"}])
def test_a_quantized_candidate_is_not_transformed_again(tmp_path, step):
    cand = Candidate(name="int8", technique="quantize.ptq", parent="fuse", model=create_model("simple_cnn"))
    with pytest.raises(EdgeoptError, match=r"'int8' is .*quantized") as info:
        step_on(cand, tmp_path, step)
    assert "input: fuse" in info.value.hint
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_bench_without_files_says_what_to_add(tmp_path):
    cand = Candidate(name="baseline", technique="baseline", model=create_model("simple_cnn"))
    with pytest.raises(EdgeoptError, match="none of the chosen candidates has a file") as info:
        step_on(cand, tmp_path, {"type": "bench"})
    assert "export" in info.value.hint


def test_step_option_rules():
    magnitude = get_transform("prune.magnitude")
    with pytest.raises(ValueError, match="exactly one of sparsity or threshold"):
        magnitude.model_validate({"type": "prune.magnitude"})
    with pytest.raises(ValueError, match="gradual needs sparsity and fine_tune"):
        magnitude.model_validate({"type": "prune.magnitude", "sparsity": 0.5, "schedule": "gradual"})
    with pytest.raises(ValueError, match="rounds > 1"):
        get_transform("prune.structured").model_validate({"type": "prune.structured", "ratio": 0.5, "rounds": 2})
    distill = get_transform("distill")
    assert distill.model_validate({"type": "distill", "teacher": "t.pt"}).references() == {}
    assert distill.model_validate({"type": "distill", "teacher": "big"}).references() == {"teacher": "big"}
    with pytest.raises(EdgeoptError, match="candidates: only steps that measure files"):
        parse_step({"type": "fuse", "candidates": "all"}, 1)
    with pytest.raises(EdgeoptError, match="input .* or model .* not both"):
        parse_step({"type": "train", "input": "a", "model": "simple_cnn"}, 1)
