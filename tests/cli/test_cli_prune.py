"""`edgeopt prune`: structured and magnitude pruning end to end on the digits data."""

import json

import pytest
import torch

from edgeopt.prune.structured_checkpoint import is_pruned_checkpoint, load_pruned_checkpoint
from edgeopt.runtime import OnnxRuntimeRunner

torch.set_num_threads(1)


@pytest.mark.slow
def test_structured_prune_saves_a_smaller_checkpoint_and_onnx(run_cli, tmp_path):
    code, out, err = run_cli("prune", "simple_cnn", "--data", "digits", "--ratio", "0.5",
                             "--finetune-epochs", "1", "--round-to", "8", "-o", str(tmp_path),
                             "--no-latency", "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["after"]["params"] < 0.5 * result["before"]["params"]
    assert result["after"]["macs"] < 0.5 * result["before"]["macs"]
    assert result["after"]["onnx_bytes"] < result["before"]["onnx_bytes"]
    assert json.loads((tmp_path / "prune.json").read_text())["after"] == result["after"]
    assert is_pruned_checkpoint(tmp_path / "model.pt")
    model = load_pruned_checkpoint(tmp_path / "model.pt").model.eval()
    x = torch.randn(2, 1, 8, 8)
    got = OnnxRuntimeRunner(tmp_path / "model.onnx", threads=1).run(x.numpy())
    with torch.no_grad():
        torch.testing.assert_close(torch.from_numpy(got), model(x), rtol=1e-4, atol=1e-5)


@pytest.mark.slow
def test_structured_table_shows_latency(run_cli, tmp_path):
    code, out, err = run_cli("prune", "simple_cnn", "--data", "digits", "--finetune-epochs", "0",
                             "--latency-rounds", "1", "-o", str(tmp_path))
    assert code == 0, err
    for label in ("params", "MACs", "ONNX size", "test accuracy", "ORT latency"):
        assert label in out


@pytest.mark.slow
def test_magnitude_prune_reports_sparsity_and_says_it_is_not_faster(run_cli, tmp_path):
    code, out, err = run_cli("prune", "simple_cnn", "--data", "digits", "--method", "magnitude",
                             "--ratio", "0.8", "--finetune-epochs", "0", "-o", str(tmp_path))
    assert code == 0, err
    assert "sparsity" in out and "no faster" in out
    result = json.loads((tmp_path / "prune.json").read_text())
    assert result["after"]["sparsity"] > 0.5
    assert result["after"]["compressed_bytes"] < result["after"]["dense_bytes"]


@pytest.mark.parametrize("args, message", [
    (("--method", "structurd"), "unknown pruning method"),
    (("--ratio", "1.2"), "ratio"),
    (("--importance", "l3"), "unknown importance"),
    (("--exclude", "fetures"), "not a module"),
])
def test_bad_input_is_one_line_with_exit_2(run_cli, tmp_path, args, message):
    code, _, err = run_cli("prune", "simple_cnn", "--data", "digits", "--finetune-epochs", "0",
                           "-o", str(tmp_path), *args)
    assert code == 2 and message in err
