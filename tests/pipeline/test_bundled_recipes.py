"""Each bundled recipe runs end to end, shrunk for speed (few training steps, little data)."""

from pathlib import Path
from typing import Any

import pytest

from edgeopt.pipeline import Recipe, load_recipe, run_recipe
from edgeopt.report import load_results

RECIPES = Path(__file__).parents[2] / "recipes"


def shrunk(recipe: Recipe, limit: int | None = None) -> Recipe:
    """The same steps with 2 training steps each, a small calibration set and a short bench."""

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            out = {k: walk(v) for k, v in node.items()}
            if "epochs" in out and "eval_batch_size" in out:  # a TrainConfig
                out.update(epochs=1, max_steps=2, progress=False)
            if "calibration_samples" in out:
                # 2 training steps leave near-equal logits: the .pte-vs-PT2E self-check is noise
                out.update(calibration_samples=32, check=False)
            if out.get("type") == "bench":
                out.update(runs=4, rounds=2, warmup=1, memory=False, threads=1)
            return out
        return [walk(v) for v in node] if isinstance(node, list) else node

    data = walk(recipe.model_dump(mode="json"))
    if limit:
        data["data"]["limit"] = limit
    return Recipe.model_validate(data)


@pytest.mark.slow
def test_tiny_recipe(tmp_path):
    results = run_recipe(shrunk(load_recipe(RECIPES / "tiny.yaml")), tmp_path / "run")
    names = [c.name for c in results.candidates]
    assert names == ["baseline", "prune.structured", "fuse"]
    files = {c.name: c.artifacts for c in results.candidates}
    assert len(files["baseline"]) == len(files["fuse"]) == 1
    for art in files["baseline"] + files["fuse"]:
        assert (tmp_path / "run" / art.path).is_file()
        (measured,) = art.measurements  # measured on the artifact, in its runtime
        assert measured.runtime == "onnxruntime" and measured.latency_ms_median > 0
    assert files["fuse"][0].size_bytes < files["baseline"][0].size_bytes  # pruned: a smaller file
    assert results.device_fit is not None and (tmp_path / "run" / "report.html").is_file()
    assert load_results(tmp_path / "run").candidates[-1].name == "fuse"


@pytest.mark.slow
def test_demo_recipe(tmp_path):
    results = run_recipe(shrunk(load_recipe(RECIPES / "demo.yaml"), limit=600), tmp_path / "run", report=False)
    by_name = {c.name: c for c in results.candidates}
    assert list(by_name) == ["baseline", "teacher", "prune", "distill", "fuse", "int8-onnx", "int8-pte"]
    base, int8 = by_name["baseline"], by_name["int8-onnx"]
    assert {a.format for a in base.artifacts} == {"onnx", "executorch"}
    assert [a.precision for a in int8.artifacts] == ["int8"]
    assert by_name["int8-pte"].artifacts[0].path.suffix == ".pte"
    assert int8.metrics.params < 0.5 * base.metrics.params  # pruned
    base_onnx = next(a for a in base.artifacts if a.format == "onnx")
    assert int8.artifacts[0].size_bytes < base_onnx.size_bytes / 8
    for cand in (base, int8, by_name["int8-pte"]):
        assert all(a.measurements for a in cand.artifacts)
