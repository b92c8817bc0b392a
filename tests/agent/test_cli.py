"""``edgeopt agent serve|token|info`` and the helper ``edgeopt bench --device agent://…`` calls."""

from __future__ import annotations

import stat
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from edgeopt.cli.agent_cmd import agent_app, measure_on_device
from edgeopt.data import load_dataset

pytestmark = pytest.mark.timeout(180)


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "edgeopt.cli.agent_cmd", *args], capture_output=True, text=True,
                          timeout=120, check=False)


def test_token_writes_a_private_file_and_never_overwrites(tmp_path):
    result = CliRunner().invoke(agent_app, ["token", "-o", str(tmp_path / "t")])
    assert result.exit_code == 0 and "readable by you only" in result.output
    assert stat.S_IMODE((tmp_path / "t").stat().st_mode) == 0o600
    again = _cli("token", "-o", str(tmp_path / "t"))
    assert again.returncode == 2 and "exists already" in again.stderr and len(again.stderr.strip().splitlines()) == 1


def test_info_describes_the_device_and_what_is_missing_there(agent, token_file):
    result = CliRunner().invoke(agent_app, ["info", agent.url, "--token-file", str(token_file)])
    assert result.exit_code == 0, result.output
    assert f"{agent.url}: edgeopt agent" in result.output and "no TLS" in result.output
    assert "onnxruntime" in result.output
    assert "executorch   missing: pip install 'edgeopt[agent,executorch]'" in result.output
    assert "openvino     not supported by the agent yet" in result.output
    as_json = CliRunner().invoke(agent_app, ["info", agent.url, "--token-file", str(token_file), "--json"])
    assert '"protocol": "edgeopt-agent-1"' in as_json.output


def test_measure_on_device_is_what_bench_device_runs(agent, token_file, cnn_onnx, capsys):
    from edgeopt.artifact import Artifact

    (art,) = measure_on_device([Artifact.from_file(cnn_onnx)], agent.url, token_file, None, load_dataset("digits"),
                               threads=1, runs=4, warmup=1, batch_size=1, input_shape=None, memory=False)
    m = art.measurements[-1]
    assert m.accuracy is not None and m.measured_on == agent.url and m.runs == 5  # 5 rounds of ceil(4 / 5)


@pytest.mark.parametrize(("args", "message"), [
    (["--max-upload-mb", "0"], "--max-upload-mb must be positive"),
    (["--port", "70000"], "--port must be 0-65535"),
])
def test_serve_refuses_bad_options_in_one_line(args, message, token_file):
    done = _cli("serve", "--token-file", str(token_file), *args)
    assert done.returncode == 2 and message in done.stderr


def test_serve_refuses_a_token_file_others_can_read(tmp_path):
    loose = tmp_path / "loose.token"
    loose.write_text("x" * 64)
    loose.chmod(0o644)
    done = _cli("serve", "--token-file", str(loose), "--port", "0")
    assert done.returncode == 2 and "readable by other users" in done.stderr and "x" * 64 not in done.stderr


def test_edgeopt_bench_device_measures_on_the_agent(agent, token_file, cnn_onnx, monkeypatch, capsys):
    import json

    from edgeopt.cli import main

    monkeypatch.setattr(sys, "argv", ["edgeopt", "bench", str(cnn_onnx), "--device", agent.url, "--token-file",
                                      str(token_file), "--data", "digits", "--runs", "4", "--warmup", "1",
                                      "--threads", "1", "--no-memory", "--json"])
    main()
    out, err = capsys.readouterr()
    (record,) = json.loads(out)
    assert record["measured_on"] == agent.url and record["accuracy"] is not None
    assert f"{agent.url}: measuring on" in err
