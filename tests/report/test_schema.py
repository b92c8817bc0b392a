import copy
import json

import pytest

import edgeopt
from edgeopt.errors import EdgeoptError
from edgeopt.report import RunResults, load_results, save_results
from edgeopt.report.store import field_path
from edgeopt.train import TrainConfig
from edgeopt.utils import write_json_atomic


@pytest.fixture(scope="module")
def demo_shaped() -> dict:
    """Exactly the keys and value types edgeopt.demo writes today (no artifacts, no target)."""
    model = edgeopt.create_model("simple_cnn", num_classes=10, in_chans=1)
    cost = edgeopt.profile(model, input_size=(1, 1, 8, 8))
    return {
        "edgeopt_version": "0.1.0",
        "created": "2026-11-23T23:54:40+0000",
        "host": {"python": "3.11.7", "torch": "2.13.0+cpu", "threads": 2},
        "dataset": {"name": "digits", "num_classes": 10, "class_names": [str(i) for i in range(10)], "in_chans": 1,
                    "image_size": [8, 8], "sizes": {"train": 1257, "val": 180, "test": 360},
                    "class_counts": {"train": [125] * 10}, "mean": [0.3], "std": [0.4]},
        "candidates": [{
            "name": "baseline", "technique": "baseline",
            "lineage": [{"step": "train", "config": TrainConfig(epochs=1).model_dump()}],
            "model": {"name": "simple_cnn", "kwargs": {"num_classes": 10, "in_chans": 1}},
            "checkpoint": "baseline/model.pt",
            "metrics": {"test_accuracy": 0.95, "best_val_accuracy": 0.96, "params": cost.params, "macs": cost.macs,
                        "param_bytes": cost.param_bytes, "peak_activation_bytes": cost.peak_activation_bytes,
                        "checkpoint_bytes": 12345},
            "profile": cost.to_dict(),
        }],
        "seconds": 5.7,
    }


def test_accepts_what_the_demo_writes_and_round_trips(tmp_path, demo_shaped):
    write_json_atomic(tmp_path / "results.json", demo_shaped)
    results = load_results(tmp_path)
    (cand,) = results.candidates
    assert cand.artifacts == [] and results.target is None and results.device_fit is None
    assert cand.metrics.best_val_accuracy == 0.96
    save_results(tmp_path, results)
    again = load_results(tmp_path)
    assert again == results
    # Nothing the demo wrote is lost, even keys the schema does not name (class_counts, mean, ...).
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["dataset"] == demo_shaped["dataset"]
    assert saved["candidates"][0]["profile"] == demo_shaped["candidates"][0]["profile"]


def test_accepts_the_full_synthetic_run(synthetic_data):
    results = RunResults.model_validate(synthetic_data)
    assert results.device_fit.kind == "estimate"
    assert results.candidates[0].artifacts[0].estimate.kind == "estimate"
    assert results.baseline().name == "baseline"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda d: d["candidates"][0]["metrics"].update(test_accuracy=1.5), "candidates[0].metrics.test_accuracy"),
        (lambda d: d["candidates"][0]["metrics"].pop("macs"), "candidates[0].metrics.macs"),
        (lambda d: d["candidates"][0].update(name=""), "candidates[0].name"),
        (lambda d: d.update(candidates=[]), "candidates"),
        (lambda d: d.pop("edgeopt_version"), "edgeopt_version"),
        (lambda d: d["candidates"][0].update(artifacts=[{"format": "onnx"}]), "candidates[0].artifacts[0].path"),
        (lambda d: d.update(device_fit={"device": "x", "precision": "int8", "checks": [], "verdict": "fits",
                                        "kind": "measured"}), "device_fit.kind"),
    ],
)
def test_rejects_bad_results_naming_file_and_field(tmp_path, demo_shaped, change, field):
    data = copy.deepcopy(demo_shaped)
    change(data)
    write_json_atomic(tmp_path / "results.json", data)
    with pytest.raises(EdgeoptError) as info:
        load_results(tmp_path)
    assert str(tmp_path / "results.json") in info.value.message
    assert f"field {field}:" in info.value.message


def test_estimates_cannot_be_labelled_as_measurements(synthetic_data):
    data = copy.deepcopy(synthetic_data)
    data["candidates"][0]["artifacts"][0]["estimate"]["kind"] = "measured"
    with pytest.raises(Exception, match="kind"):
        RunResults.model_validate(data)


def test_missing_run_dir_and_missing_results_are_user_errors(tmp_path):
    with pytest.raises(EdgeoptError, match="does not exist"):
        load_results(tmp_path / "nope")
    with pytest.raises(EdgeoptError, match="results.json is missing") as info:
        load_results(tmp_path)
    assert "edgeopt demo" in info.value.hint


def test_invalid_json_names_the_file(tmp_path):
    (tmp_path / "results.json").write_text('{"candidates": [')
    with pytest.raises(EdgeoptError, match="not valid JSON") as info:
        load_results(tmp_path)
    assert str(tmp_path / "results.json") in info.value.message


def test_save_results_leaves_no_temporary_files(tmp_path, synthetic_data):
    save_results(tmp_path, RunResults.model_validate(synthetic_data))
    assert [p.name for p in tmp_path.iterdir()] == ["results.json"]


def test_field_path_reads_like_python():
    assert field_path(("candidates", 0, "metrics", "macs")) == "candidates[0].metrics.macs"
    assert field_path(()) == "(top level)"
