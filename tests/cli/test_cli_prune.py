"""`edgeopt prune`: structured and magnitude pruning end to end on the digits data."""

import json

import pytest
import torch

from edgeopt.checkpoint import load_checkpoint

torch.set_num_threads(1)


@pytest.mark.slow
def test_structured_prune_saves_a_smaller_checkpoint_that_reloads(run_cli, tmp_path):
    code, out, err = run_cli("prune", "simple_cnn", "--data", "digits", "--ratio", "0.5",
                             "--finetune-epochs", "1", "--round-to", "8", "-o", str(tmp_path),
                             "--no-latency", "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["after"]["params"] < 0.5 * result["before"]["params"]
    assert result["after"]["macs"] < 0.5 * result["before"]["macs"]
    assert json.loads((tmp_path / "prune.structured.json").read_text())["after"] == result["after"]
    ckpt = load_checkpoint(tmp_path / "model.pt")
    assert ckpt.lineage.summary() == "simple_cnn → prune.structured"
    assert sum(p.numel() for p in ckpt.model.parameters()) == result["after"]["params"]


@pytest.mark.slow
def test_structured_table_shows_latency_measured_on_files(run_cli, tmp_path):
    code, out, err = run_cli("prune", "simple_cnn", "--data", "digits", "--finetune-epochs", "0", "-o", str(tmp_path))
    assert code == 0, err
    for label in ("params", "MACs", "file size", "test accuracy", "accuracy on file", "latency ms"):
        assert label in out


@pytest.mark.slow
def test_magnitude_prune_reports_sparsity_and_says_it_is_not_faster(run_cli, tmp_path):
    code, out, err = run_cli("prune", "simple_cnn", "--data", "digits", "--method", "magnitude",
                             "--ratio", "0.8", "--finetune-epochs", "0", "-o", str(tmp_path))
    assert code == 0, err
    assert "sparsity" in out and "no faster" in out
    result = json.loads((tmp_path / "prune.magnitude.json").read_text())
    assert result["after"]["sparsity"] > 0.5
    assert result["after"]["compressed_bytes"] < result["after"]["param_bytes"]


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
