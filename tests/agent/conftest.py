"""Agents on 127.0.0.1 in subprocesses, small ONNX files, tokens, and signed raw requests.

Every agent here runs as on a device that installed only the ``agent`` extra: a
``sitecustomize`` on its PYTHONPATH makes every other dependency of edgeopt unimportable (torch,
onnx, matplotlib…) in the agent, its worker and the worker's memory-measuring children. Only
``make_agent(torch=True)`` runs with everything (ExecuTorch needs torch).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from agent_helpers import NOT_IN_AGENT_EXTRA, Agent, simple_cnn_onnx

from edgeopt.agent.protocol import write_token


@pytest.fixture(scope="session")
def onnx_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("agent_artifacts")


@pytest.fixture(scope="session")
def cnn_onnx(onnx_dir) -> Path:
    """A SimpleCNN for 1 x 8 x 8 inputs (digits), exported to ONNX: ~100 KB."""
    return simple_cnn_onnx(onnx_dir / "cnn.onnx", seed=0)


@pytest.fixture(scope="session")
def other_onnx(onnx_dir) -> Path:
    return simple_cnn_onnx(onnx_dir / "other.onnx", seed=1)


@pytest.fixture(scope="session")
def token_file(tmp_path_factory) -> Path:
    return write_token(tmp_path_factory.mktemp("token") / "agent.token")


@pytest.fixture(scope="session")
def token(token_file) -> bytes:
    return token_file.read_bytes().strip()


@pytest.fixture(scope="session")
def no_torch_path(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("no_torch")
    blocker = f"import sys\nsys.modules.update(dict.fromkeys({NOT_IN_AGENT_EXTRA!r}))  # as on a device\n"
    (folder / "sitecustomize.py").write_text(blocker)
    return folder


@pytest.fixture
def make_agent(token_file, no_torch_path, tmp_path):
    """Start agents (torch blocked unless torch=True); all are stopped after the test."""
    started: list[Agent] = []

    def make(*args: str, torch: bool = False, port: int = 0) -> Agent:
        log_dir = tmp_path / f"agent{len(started)}"
        log_dir.mkdir()
        agent = Agent(token_file, log_dir, no_torch=None if torch else no_torch_path, args=list(args), port=port)
        started.append(agent)
        return agent.start()

    yield make
    for agent in started:
        agent.stop()


@pytest.fixture(scope="module")
def agent(token_file, no_torch_path, tmp_path_factory):
    """One torch-free agent shared by a test module (small upload limit: 1 MiB)."""
    shared = Agent(token_file, tmp_path_factory.mktemp("agent_logs"), no_torch=no_torch_path,
                   args=["--max-upload-mb", "1", "--request-timeout", "2"]).start()
    yield shared
    shared.stop()


