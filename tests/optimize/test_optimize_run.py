"""``optimize()`` end to end on the digits data with a tiny CNN: answer, best/, resume, refusals, bounds.

One run (2 trials: the baseline and a pruned model, each in fp32 and int8) is shared by the module; the speed
probe is held constant so a busy test machine does not make every block wait out a "slow phase".
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import optuna
import pytest
from optimize_helpers import small_config

from edgeopt.devices.target import resolve_target
from edgeopt.errors import EdgeoptError
from edgeopt.loading import open_model
from edgeopt.optimize import OptimizeConfig, OptimizeOutcome, optimize
from edgeopt.optimize.decide import row_key


@pytest.fixture(scope="module")
def run(trained_checkpoint: Path, tmp_path_factory: pytest.TempPathFactory,
        steady_machine: None) -> tuple[OptimizeConfig, Path, OptimizeOutcome]:
    config = small_config(trained_checkpoint)
    run_dir = tmp_path_factory.mktemp("optimize") / "run"
    return config, run_dir, optimize(config, run_dir)


def complete_trials(run_dir: Path) -> int:
    study = optuna.load_study(study_name="optimize", storage=f"sqlite:///{run_dir / 'optimize.db'}")
    return len(study.get_trials(states=(optuna.trial.TrialState.COMPLETE,)))


def name(row: dict[str, Any]) -> str:
    return f"trial {row['trial']}: {row['pipeline']} in {row['label']}"


def test_run_writes_the_answer_and_best(run):
    _, run_dir, outcome = run
    answer = json.loads((run_dir / "answer.json").read_text())
    assert answer["trials"] == outcome.trials == 2 and answer["trials_here"] == outcome.here == 2
    assert answer["chosen"] is not None and answer["reference"] is not None
    assert answer["reference"]["choice"]["prune_ratio"] == 0.0 and answer["reference"]["precision"] == "fp32"
    pipelines = {r["pipeline"] for r in answer["rows"]}
    assert {"baseline", "baseline + int8 (minmax)"} <= pipelines and any(p.startswith("prune 50%") for p in pipelines)
    deploy = json.loads((run_dir / "best" / "deploy.json").read_text())
    assert (run_dir / "best" / deploy["artifact"]).stat().st_size == answer["chosen"]["size_bytes"]
    assert (deploy["runtime"], deploy["precision"], deploy["threads"]) == \
        (answer["chosen"]["runtime"], answer["chosen"]["precision"], answer["chosen"]["threads"])


def test_deploy_json_carries_the_targets_reduce_range_and_its_reason(run):
    _, run_dir, _ = run
    deploy = json.loads((run_dir / "best" / "deploy.json").read_text())
    host = resolve_target("host")
    assert deploy["target"]["name"] == "host"
    assert deploy["target"]["reduce_range"] is host.reduce_range
    assert deploy["target"]["reduce_range_reason"] == host.reduce_range_reason


def test_every_kept_step_was_measured_faster_and_a_new_answer_beat_the_reference(run):
    _, _, outcome = run
    assert outcome.chosen is not None and outcome.reference is not None
    for step in outcome.steps:
        verdict = step["gate"]["verdict"] if step["gate"] else None
        assert step["kept"] == (verdict == "faster"), step
    kept = [s for s in outcome.steps if s["kept"]]
    if row_key(outcome.chosen) != row_key(outcome.reference):
        assert kept, "an answer other than the reference needs a kept step"
        assert kept[-1]["child"] == name(outcome.chosen)
        assert kept[-1]["gate"]["verdict"] == "faster" and kept[-1]["gate"]["high"] < 1.0
        # the last gate of the chain is against the reference itself, or the chain started there
        gated = [s for s in outcome.steps if s["gate"] is not None]
        assert gated[-1]["kept"]
    else:
        assert not outcome.steps or not outcome.steps[-1]["kept"]


def test_best_checkpoint_reopens_as_the_chosen_model(run, trained_checkpoint, digits):
    import torch

    _, run_dir, outcome = run
    best = open_model(run_dir / "best" / "model.pt", data=digits)
    baseline = open_model(trained_checkpoint, data=digits)
    assert best.model(torch.zeros(digits.input_shape(1))).shape == (1, 10)
    size = sum(p.numel() for p in best.model.parameters())
    full = sum(p.numel() for p in baseline.model.parameters())
    assert (size < full) if outcome.chosen["choice"]["prune_ratio"] > 0 else (size == full)


def test_resume_runs_no_new_trial(run):
    config, run_dir, first = run
    again = optimize(config, run_dir, resume=True)
    assert again.here == 0 and again.trials == first.trials == 2
    assert complete_trials(run_dir) == 2


def test_same_directory_without_resume_is_refused(run):
    config, run_dir, _ = run
    with pytest.raises(EdgeoptError, match="already holds an optimization"):
        optimize(config, run_dir)
    assert complete_trials(run_dir) == 2


def test_resume_with_another_max_drop_is_refused_naming_it(run):
    config, run_dir, _ = run
    with pytest.raises(EdgeoptError, match="max_drop") as caught:
        optimize(config.model_copy(update={"max_drop": 1.0}), run_dir, resume=True)
    assert "other options" in str(caught.value)
    assert complete_trials(run_dir) == 2


def test_refused_resume_leaves_the_recorded_options_alone(run):
    config, run_dir, _ = run
    marker = run_dir / "optimize.json"
    before = json.loads(marker.read_text())["config"]
    with pytest.raises(EdgeoptError, match="max_drop"):
        optimize(config.model_copy(update={"max_drop": 2.0}), run_dir, resume=True)
    assert json.loads(marker.read_text())["config"] == before


def test_unreachable_latency_bound_names_it_and_keeps_the_trials(trained_checkpoint, tmp_path, steady_machine):
    # one model (the baseline), two calibrations: two trials, each over the bound
    config = small_config(trained_checkpoint, prune_ratios=(0.0,), calibrations=("minmax", "percentile"), trials=2,
                          latency_budget_ms=1e-6)
    with pytest.raises(EdgeoptError) as caught:
        optimize(config, tmp_path / "run")
    message = str(caught.value)
    assert message.startswith("no artifact met the bounds"), message
    assert "latency over by" in message and "accuracy_drop" not in message
    assert complete_trials(tmp_path / "run") == 2


def test_an_unexpected_error_in_one_trial_fails_that_trial_not_the_run(trained_checkpoint, tmp_path, steady_machine,
                                                                      monkeypatch):
    from edgeopt.optimize import trial as trial_module

    made = trial_module.make_variant

    def pruning_breaks(choice, context):
        if choice.pruned:
            raise RuntimeError("a layer this pruner has never seen\nsecond line")
        return made(choice, context)

    monkeypatch.setattr(trial_module, "make_variant", pruning_breaks)
    said: list[str] = []
    outcome = optimize(small_config(trained_checkpoint, trials=2), tmp_path / "run", echo=said.append)
    assert outcome.chosen is not None and outcome.trials == 1  # the baseline's trial; the pruned one failed
    study = optuna.load_study(study_name="optimize", storage=f"sqlite:///{tmp_path / 'run' / 'optimize.db'}")
    failed = [t for t in study.trials if t.state == optuna.trial.TrialState.FAIL]
    assert failed and failed[0].user_attrs["fail_reason"] == "RuntimeError: a layer this pruner has never seen"
    assert any("failed — RuntimeError: a layer this pruner has never seen" in line for line in said), said


def test_a_failed_choice_is_not_made_again_and_failures_in_a_row_end_the_trials(trained_checkpoint, tmp_path,
                                                                                steady_machine, monkeypatch):
    from edgeopt.optimize import run as run_module, trial as trial_module

    attempts: list[str] = []

    def always_breaks(choice, context):
        attempts.append(choice.variant_key)
        raise RuntimeError("never works")

    monkeypatch.setattr(trial_module, "make_variant", always_breaks)
    monkeypatch.setattr(run_module, "reference_accuracy", lambda _study, _context: trial_module.Reference(90.0, 90.0))
    said: list[str] = []
    with pytest.raises(EdgeoptError, match="the baseline was not measured in fp32 in any runtime"):
        optimize(small_config(trained_checkpoint, trials=2), tmp_path / "run", echo=said.append)
    assert sorted(attempts) == sorted(set(attempts))  # each choice was made (and failed) once
    assert any(f"{run_module.MAX_FAILURES} trials in a row failed" in line for line in said), said
