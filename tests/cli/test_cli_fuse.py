import json

import pytest
import torch

from edgeopt.checkpoint import save_checkpoint
from edgeopt.models import create_model

ARGS = ["-a", "in_chans=1", "-a", "num_classes=10", "-a", "width=8", "--input-size", "1,8,8"]


def test_fuse_prints_fusions_costs_and_parity(run_cli):
    code, out, _ = run_cli("fuse", "simple_cnn", *ARGS)
    assert code == 0
    assert "conv_bn_relu" in out and "features.0.0 → features.0.1 → features.0.2" in out
    assert "before" in out and "after" in out and "self-check max rel error" in out


def test_fuse_json_counts_and_cost_change(run_cli):
    code, out, _ = run_cli("fuse", "simple_cnn", *ARGS, "--json")
    assert code == 0
    data = json.loads(out)
    report = data["report"]["fusion"]
    assert report["counts"] == {"conv_bn_relu": 3} and data["input_size"] == [1, 1, 8, 8]
    assert report["batchnorm_after"] == 0 and report["max_rel_error"] <= 1e-5
    assert data["before"]["macs"] == data["after"]["macs"]  # the profiler counts no BN MACs
    # each BatchNorm's weight and bias go (2 per channel), each conv gains a bias (1 per channel)
    channels = 8 + 16 + 32
    assert data["before"]["params"] - data["after"]["params"] == channels
    assert data["checkpoint"] is None


@pytest.mark.slow  # two CLI runs and a reload (~5-10 s on the shared machine)
def test_fuse_checkpoint_output_reloads(run_cli, tmp_path):
    from edgeopt.checkpoint import load_checkpoint

    source = tmp_path / "cnn.pt"
    kwargs = {"in_chans": 1, "num_classes": 10, "width": 8}
    save_checkpoint(source, create_model("simple_cnn", **kwargs), model_name="simple_cnn",
                    model_kwargs=kwargs, input_size=(1, 1, 8, 8))
    code, out, _ = run_cli("fuse", str(source), "-o", str(tmp_path / "fused.pt"))
    assert code == 0 and "Wrote" in out
    loaded = load_checkpoint(tmp_path / "fused.pt")
    assert loaded.lineage.summary() == "simple_cnn → fuse" and loaded.input_size == (1, 1, 8, 8)
    assert loaded.model(torch.zeros(2, 1, 8, 8)).shape == (2, 10)
    code, out, _ = run_cli("fuse", str(tmp_path / "fused.pt"), "--json")  # a fused checkpoint loads too
    assert code == 0 and json.loads(out)["report"]["fusion"]["counts"] == {}


@pytest.mark.slow  # torch.export of the fused graph (~5 s)
def test_fuse_pt2_output_loads_with_load_model(run_cli, tmp_path):
    from edgeopt.loading import load_model

    code, _, _ = run_cli("fuse", "simple_cnn", *ARGS, "-o", str(tmp_path / "fused.pt2"))
    assert code == 0
    model = load_model(str(tmp_path / "fused.pt2"))
    assert model(torch.zeros(3, 1, 8, 8)).shape == (3, 10)  # batch stays dynamic


@pytest.mark.parametrize("args, message", [
    (["fuse", "simple_cnn", *ARGS, "-o", "out.onnx"], "don't know how to save 'out.onnx'"),
    (["fuse", "simple_cnn", "-a", "in_chans=1", "--input-size", "3,8,8"], "does not run on an input"),
    (["fuse", "simplecnn"], "unknown model 'simplecnn'"),
])
def test_bad_input_is_one_line_error(run_cli, args, message):
    code, _, err = run_cli(*args)
    assert code == 2 and message in err.splitlines()[0] and "Traceback" not in err
