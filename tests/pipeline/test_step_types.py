"""The built-in step types on the real APIs: distill, magnitude pruning, int8 PTQ, misuse errors."""

import textwrap
from pathlib import Path

import pytest
import torch

from edgeopt.data import load_dataset
from edgeopt.errors import EdgeoptError
from edgeopt.models import create_model
from edgeopt.pipeline import Candidate, StepContext, get_step_class, run_recipe

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
    assert teacher.parent is None and [s["name"] for s in teacher.lineage] == ["teacher"]
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
    base, int8 = results.candidates
    (art,) = int8.artifacts
    assert art.precision == "int8" and (tmp_path / "run" / art.path).is_file()
    assert int8.details["quantization"]["method"] == "qat"
    assert int8.metrics.accuracy_source == "artifact" and 0 < int8.metrics.test_accuracy <= 1


def context_for(cand: Candidate, tmp_path: Path, step) -> StepContext:
    data = load_dataset("digits", limit=200)
    return StepContext(index=2, name=step.name or step.type, step=step, step_dir=tmp_path, run_dir=tmp_path,
                       data=data, example_input=data.test.tensors[0][:1], input=cand,
                       candidates={cand.name: cand}, load_model=lambda name: cand.model)


@pytest.mark.parametrize("step", [{"type": "export"}, {"type": "quantize.ptq"}, {"type": "quantize.qat"}])
def test_a_quantized_candidate_is_not_exported_or_quantized_again(tmp_path, step):
    cand = Candidate(name="int8", technique="quantize.ptq", parent="fuse", model=create_model("simple_cnn"))
    config = get_step_class(step["type"]).model_validate(step)
    with pytest.raises(EdgeoptError, match=r"'int8' is .*quantized") as info:
        config.run(context_for(cand, tmp_path, config))
    assert "input: fuse" in info.value.hint
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_bench_without_files_says_what_to_add(tmp_path):
    cand = Candidate(name="baseline", technique="baseline", model=create_model("simple_cnn"))
    step = get_step_class("bench").model_validate({"type": "bench"})
    with pytest.raises(EdgeoptError, match="none of the chosen candidates has an exported file") as info:
        step.run(context_for(cand, tmp_path, step))
    assert "export" in info.value.hint


def test_step_option_rules():
    magnitude = get_step_class("prune.magnitude")
    with pytest.raises(ValueError, match="exactly one of sparsity or threshold"):
        magnitude.model_validate({"type": "prune.magnitude"})
    with pytest.raises(ValueError, match="gradual needs sparsity and fine_tune"):
        magnitude.model_validate({"type": "prune.magnitude", "sparsity": 0.5, "schedule": "gradual"})
    with pytest.raises(ValueError, match="rounds > 1"):
        get_step_class("prune.structured").model_validate({"type": "prune.structured", "ratio": 0.5, "rounds": 2})
    distill = get_step_class("distill")
    assert distill.model_validate({"type": "distill", "teacher": "t.pt"}).references() == {}
    assert distill.model_validate({"type": "distill", "teacher": "big"}).references() == {"teacher": "big"}
