import json

import pytest

TINY_INT8 = """
name: tiny-int8
model: {source: simple_cnn}
train: {epochs: 3, lr: 5.0e-3, progress: false}
data: digits
target: raspberry-pi-4
steps:
  - type: prune.structured
    ratio: 0.5
    fine_tune: {epochs: 1, lr: 2.0e-3, progress: false}
  - type: quantize.ptq
    backend: onnxruntime
    calibration_samples: 64
  - type: export
    input: baseline
  - type: bench
    candidates: all
    threads: 1
    runs: 20
    memory: false
"""


@pytest.mark.slow
def test_demo_runs_a_recipe_and_prints_the_measured_gains(run_cli, tmp_path):
    recipe = tmp_path / "tiny_int8.yaml"
    recipe.write_text(TINY_INT8)
    out = tmp_path / "demo"
    code, stdout, err = run_cli("demo", "-o", str(out), "--recipe", str(recipe))
    assert code == 0, err
    results = json.loads((out / "results.json").read_text())
    names = [c["name"] for c in results["candidates"]]
    assert names[0] == "baseline" and names[-1] == "quantize.ptq"
    flat = stdout.replace("\n", "")
    assert "final int8 artifact vs fp32 baseline" in flat and "onnxruntime" in flat
    assert str(out / "report.html") in flat

    # A second demo into the same directory replaces the first; --resume keeps every step.
    code, stdout, err = run_cli("demo", "-o", str(out), "--recipe", str(recipe), "--resume")
    assert code == 0, err
    assert json.loads((out / "results.json").read_text())["candidates"][0] == results["candidates"][0]
