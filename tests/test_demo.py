"""edgeopt.demo: the bundled recipe is found, and gains compare int8 with fp32 of the same format."""

import pytest

from edgeopt.demo import bundled_recipe, gains
from edgeopt.errors import EdgeoptError
from edgeopt.pipeline import load_recipe
from edgeopt.report import RunResults

METRICS = {"test_accuracy": 0.9, "params": 1, "macs": 1, "param_bytes": 4, "peak_activation_bytes": 4}


def _artifact(fmt, precision, size, ms, acc):
    measurement = {"runtime": {"onnx": "onnxruntime", "executorch": "executorch"}[fmt], "threads": 2,
                   "batch_size": 1, "latency_ms_median": ms, "accuracy": acc}
    return {"format": fmt, "path": f"{precision}.{fmt}", "size_bytes": size, "sha256": "0" * 64,
            "precision": precision, "measurements": [measurement]}


def _results(candidates):
    return RunResults.model_validate({"edgeopt_version": "0", "created": "now", "dataset": {}, "candidates": [
        {"name": name, "technique": name, "metrics": METRICS, "artifacts": arts}
        for name, arts in candidates]})


def test_gains_pair_each_int8_artifact_with_the_fp32_baseline_of_its_format():
    results = _results([
        ("baseline", [_artifact("onnx", "fp32", 4000, 2.0, 0.985), _artifact("executorch", "fp32", 3900, 1.8, 0.985)]),
        ("prune", []),
        ("int8-onnx", [_artifact("onnx", "int8", 250, 0.5, 0.98)]),
        ("int8-pte", [_artifact("executorch", "int8", 300, 0.9, 0.979)]),
    ])
    by_runtime = {g.runtime: g for g in gains(results)}
    assert set(by_runtime) == {"onnxruntime", "executorch"}
    assert by_runtime["onnxruntime"].size_ratio == pytest.approx(16.0)
    assert by_runtime["onnxruntime"].speedup == pytest.approx(4.0)
    assert by_runtime["onnxruntime"].accuracy_drop_points == pytest.approx(0.5)
    assert by_runtime["executorch"].speedup == pytest.approx(2.0)


def test_gains_skip_formats_without_a_measured_baseline():
    results = _results([("baseline", [_artifact("onnx", "fp32", 4000, 2.0, 0.98)]),
                        ("int8-pte", [_artifact("executorch", "int8", 300, 0.9, 0.97)])])
    assert gains(results) == []


def test_bundled_recipes_load_and_unknown_names_are_errors():
    recipe = load_recipe(bundled_recipe())
    assert recipe.data is not None and len(recipe.steps) >= 6
    assert bundled_recipe("tiny.yaml").is_file()
    with pytest.raises(EdgeoptError, match="no bundled recipe 'dmeo.yaml'"):
        bundled_recipe("dmeo.yaml")
