"""A .pte measured by an agent that has ExecuTorch (and so torch): the same bench as here."""

from __future__ import annotations

import pytest
import torch
from agent_helpers import digits_arrays

from edgeopt import export
from edgeopt.agent.client import AgentClient, measure_remote
from edgeopt.models import create_model
from edgeopt.runtime import ExecuTorchRunner

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]  # one XNNPACK lowering (10-30 s)


def test_an_executorch_program_is_measured_on_an_agent_that_has_the_runtime(make_agent, token, tmp_path):
    torch.manual_seed(0)
    model = create_model("simple_cnn", num_classes=10, in_chans=1).eval()
    program = export.executorch(model, torch.zeros(1, 1, 8, 8), tmp_path / "cnn.pte").path
    agent = make_agent(torch=True)
    info = AgentClient(agent.url, token=token).info()
    assert info["runtimes"]["executorch"]["available"] and info["device"]["runtimes"]["torch"]
    data = digits_arrays()
    (art,) = measure_remote([program], agent.url, token=token, data=data, threads=1, runs=6, warmup=1, rounds=2,
                            memory=True, gate_retries=0)
    m = art.measurements[-1]
    assert (m.runtime, m.format, m.runs) == ("executorch", "executorch", 6)
    assert m.peak_memory_bytes >= m.baseline_memory_bytes > 0
    assert m.accuracy == ExecuTorchRunner(program, threads=1).accuracy(data)
