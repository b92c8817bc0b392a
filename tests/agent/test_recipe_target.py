"""A recipe whose ``target:`` names an agent: its bench steps measure there, with the same protocol."""

from __future__ import annotations

import json

import pytest

from edgeopt.errors import EdgeoptError
from edgeopt.pipeline import load_recipe, parse_recipe, run_recipe

pytestmark = pytest.mark.timeout(300)

HEAD = "model: {source: simple_cnn}\ndata: digits\ntrain: {epochs: 1, progress: false}\n"
STEPS = "steps:\n  - type: export\n  - type: bench\n    threads: 1\n    runs: 5\n    warmup: 1\n    memory: false\n"


def test_bench_steps_measure_on_the_agent(agent, token_file, tmp_path):
    recipe = tmp_path / "r.yaml"
    (tmp_path / "agent.token").write_bytes(token_file.read_bytes())
    (tmp_path / "agent.token").chmod(0o600)
    recipe.write_text(HEAD + f"target: {agent.url}\nagent: {{token_file: agent.token}}\n" + STEPS)
    run_recipe(load_recipe(recipe), tmp_path / "run", report=False)
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    measurements = [m for c in results["candidates"] for a in c["artifacts"] for m in a.get("measurements", [])]
    assert measurements and all(m["measured_on"] == agent.url for m in measurements)
    assert all(m["accuracy"] is not None for m in measurements)  # the test split went with the file
    assert results["target"] == agent.url and not results.get("device_fit")


@pytest.mark.parametrize(("extra", "message"), [
    ("target: agent://127.0.0.1:9\n", "target names an agent: add 'agent: {token_file: FILE}'"),
    ("target: raspberry-pi-4\nagent: {token_file: t}\n", "'agent' goes with a target agent://HOST:PORT"),
    ("target: agent://no port here\nagent: {token_file: t}\n", "target:"),
    ("target: agent://127.0.0.1:9\nagent: {token_file: t, pin: x}\n",
     "unknown key 'agent.pin' (did you mean 'tls_pin'?)"),
])
def test_agent_target_mistakes_are_refused_at_load(extra, message):
    with pytest.raises(EdgeoptError, match="r.yaml") as info:
        parse_recipe(HEAD + extra + STEPS, source="r.yaml")
    assert message in str(info.value)
