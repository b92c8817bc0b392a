import json

import pytest


@pytest.mark.slow
def test_demo_writes_results_and_prints_where(run_cli, tmp_path):
    out = tmp_path / "demo"
    code, stdout, err = run_cli("demo", "-o", str(out), "--epochs", "2")
    assert code == 0, err
    results = json.loads((out / "results.json").read_text())
    (baseline,) = results["candidates"]
    metrics = baseline["metrics"]
    assert baseline["model"]["kwargs"] == {"width_mult": 0.5, "stem_stride": 1, "num_classes": 10, "in_chans": 1}
    assert metrics["macs"] == baseline["profile"]["macs"] > 0
    # two epochs reach ~90% (one is not enough: BatchNorm running statistics still lag)
    assert 0.7 < metrics["test_accuracy"] <= 1.0
    assert (out / baseline["checkpoint"]).is_file()
    assert str(out / "results.json") in stdout.replace("\n", "")
