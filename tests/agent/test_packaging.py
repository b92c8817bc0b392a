"""The ``agent`` extra is all a device needs: the agent tests run with every other dependency blocked."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from agent_helpers import NOT_IN_AGENT_EXTRA

tomllib = pytest.importorskip("tomllib")

PYPROJECT = Path(__file__).parents[2] / "pyproject.toml"
MODULE_OF = {"scikit-learn": "sklearn", "pillow": "PIL", "pyyaml": "yaml"}


def _names(requirements: list[str]) -> set[str]:
    return {MODULE_OF.get(n, n) for n in (re.split(r"[<>=!~\[; ]", r, maxsplit=1)[0].lower() for r in requirements)}


def test_every_main_dependency_is_in_the_agent_extra_or_blocked_in_the_agent_tests():
    project = tomllib.loads(PYPROJECT.read_text())["project"]
    agent = _names(project["optional-dependencies"]["agent"])
    assert "torch" not in agent and "onnxruntime" in agent
    assert _names(project["dependencies"]) <= agent | set(NOT_IN_AGENT_EXTRA)


def test_the_agents_modules_import_without_what_the_extra_leaves_out(no_torch_path):
    code = ("import edgeopt.cli.agent_cmd, edgeopt.agent.server, edgeopt.agent.worker, edgeopt.agent.client, "
            "edgeopt.runtime.benchmark, edgeopt.runtime.onnxruntime_runner; print('ok')")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env={"PYTHONPATH": str(no_torch_path), "PATH": "/usr/bin:/bin"}, check=False)
    assert done.stdout.strip() == "ok", done.stderr[-1500:]
