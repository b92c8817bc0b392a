"""What a trial chooses (pruning, distillation, int8 calibration) and how many distinct choices exist."""

from __future__ import annotations

import itertools

import optuna
import pytest
from optuna.trial import FixedTrial

from edgeopt.optimize.choices import Choice, first_trials, space_size, suggest
from edgeopt.optimize.config import OptimizeConfig


def config(**options: object) -> OptimizeConfig:
    base: dict[str, object] = {"model": "m.pt", "prune_ratios": (0.0, 0.5), "importance": ("l1", "l2"),
                               "round_to": (None, 8), "distill": True, "finetune_epochs": 1,
                               "calibrations": ("minmax", "entropy")}
    return OptimizeConfig(**{**base, **options})


def test_unpruned_float_trial_asks_for_neither_pruning_details_nor_calibration():
    trial = FixedTrial({"prune_ratio": 0.0, "int8": False})
    assert suggest(trial, config()) == Choice()
    assert set(trial.params) == {"prune_ratio", "int8"}


def test_pruned_int8_trial_asks_for_every_parameter():
    trial = FixedTrial({"prune_ratio": 0.5, "importance": "l2", "round_to": 8, "distill": True, "int8": True,
                        "calibration": "entropy"})
    assert suggest(trial, config()) == Choice(0.5, "l2", 8, True, "entropy")
    assert set(trial.params) == {"prune_ratio", "importance", "round_to", "distill", "int8", "calibration"}


def test_unpruned_trial_ignores_pruning_values_offered():
    trial = FixedTrial({"prune_ratio": 0.0, "importance": "l2", "round_to": 8, "distill": True, "int8": True,
                        "calibration": "minmax"})
    assert suggest(trial, config()) == Choice(calibration="minmax")
    assert set(trial.params) == {"prune_ratio", "int8", "calibration"}


def test_distill_is_asked_only_when_fine_tuning_and_allowed():
    params = {"prune_ratio": 0.5, "importance": "l1", "round_to": None, "distill": True, "int8": False}
    for options in ({"finetune_epochs": 0}, {"distill": False}):
        trial = FixedTrial(params)
        assert suggest(trial, config(**options)) == Choice(0.5, "l1", None, False, None)
        assert "distill" not in trial.params


def test_no_int8_question_without_quantize():
    trial = FixedTrial({"prune_ratio": 0.0, "int8": True, "calibration": "minmax"})
    assert suggest(trial, config(quantize=False)) == Choice()
    assert set(trial.params) == {"prune_ratio"}


def test_variant_key_shared_across_calibrations_and_distinct_across_pruning_options():
    pruned = Choice(0.5, "l1", 8, False)
    assert pruned.variant_key == Choice(0.5, "l1", 8, False, "minmax").variant_key \
        == Choice(0.5, "l1", 8, False, "entropy").variant_key
    assert Choice().variant_key == Choice(calibration="minmax").variant_key == "baseline"
    others = [Choice(0.25, "l1", 8, False), Choice(0.5, "l2", 8, False), Choice(0.5, "l1", None, False),
              Choice(0.5, "l1", 8, True), Choice()]
    keys = {c.variant_key for c in [pruned, *others]}
    assert len(keys) == 6
    assert pruned.variant_key.startswith("prune50-")


def test_labels():
    assert Choice().label == "baseline"
    assert Choice(calibration="minmax").label == "baseline + int8 (minmax)"
    assert Choice(0.25, "taylor").label == "prune 25% (taylor)"
    assert Choice(0.5, "l1", 8, True, "entropy").label == "prune 50% (l1, round 8, distilled) + int8 (entropy)"


def test_to_dict_round_trips():
    choice = Choice(0.75, "bn_scale", 8, True, "percentile")
    assert Choice.from_dict(choice.to_dict()) == choice


def distinct_by_enumeration(cfg: OptimizeConfig) -> int:
    """Every combination of every parameter value, through suggest: the distinct choices it yields."""
    values = {"prune_ratio": cfg.prune_ratios, "importance": cfg.importance, "round_to": cfg.round_to,
              "distill": (False, True), "int8": (False, True), "calibration": cfg.calibrations}
    found = set()
    for combo in itertools.product(*values.values()):
        found.add(suggest(FixedTrial(dict(zip(values, combo, strict=True))), cfg))
    return len(found)


@pytest.mark.parametrize("options, by_hand", [
    # 2 importances x 2 roundings x 2 (distilled or not) = 8 pruned models + the baseline = 9 models;
    # each as float or int8 with 2 calibrations: 9 x 3 = 27
    ({}, 27),
    # no distillation: 4 pruned + 1 = 5 models, x 3 = 15
    ({"distill": False}, 15),
    # fine-tuning 0 epochs: no distillation either
    ({"finetune_epochs": 0}, 15),
    # no int8: 9 models
    ({"quantize": False}, 9),
    # two ratios > 0: 16 pruned + 1 = 17, x 3 = 51
    ({"prune_ratios": (0.0, 0.25, 0.5)}, 51),
    # no baseline ratio: 8 pruned models, x 3
    ({"prune_ratios": (0.5,)}, 24),
])
def test_space_size_matches_a_hand_count_and_the_enumeration(options, by_hand):
    cfg = config(**options)
    assert space_size(cfg) == by_hand
    assert distinct_by_enumeration(cfg) == by_hand


def test_first_trials_are_the_baseline_then_its_int8_with_the_first_calibration():
    cfg = config(calibrations=("entropy", "minmax"))
    first = first_trials(cfg)
    assert first == [{"prune_ratio": 0.0, "int8": False}, {"prune_ratio": 0.0, "int8": True, "calibration": "entropy"}]
    assert [suggest(FixedTrial(p), cfg) for p in first] == [Choice(), Choice(calibration="entropy")]


def test_first_trial_without_quantize_is_the_float_baseline_only():
    cfg = config(quantize=False)
    assert first_trials(cfg) == [{"prune_ratio": 0.0}]
    assert suggest(FixedTrial(first_trials(cfg)[0]), cfg) == Choice()


def test_queued_first_trials_run_in_a_real_study():
    cfg = config()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study()
    for params in first_trials(cfg):
        study.enqueue_trial(params)
    seen: list[Choice] = []
    study.optimize(lambda t: (seen.append(suggest(t, cfg)), 1.0)[1], n_trials=2)
    assert seen == [Choice(), Choice(calibration="minmax")]


@pytest.mark.xfail(strict=True, raises=ValueError, reason=(
    "choices.first_trials always queues prune_ratio 0.0, but OptimizeConfig accepts prune_ratios without 0 "
    "(e.g. --prune-ratio 0.5): Optuna raises ValueError \"'0.0' not in (0.5,)\" in the first trial, which "
    "run._trials does not catch (catch=(EdgeoptError,)), so `edgeopt optimize` crashes with a traceback"))
def test_prune_ratios_without_zero_are_refused_or_still_start_from_the_baseline():
    try:
        cfg = config(prune_ratios=(0.5,))
    except ValueError:  # refused up front (pydantic's ValidationError is a ValueError): acceptable
        return
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study()
    for params in first_trials(cfg):
        study.enqueue_trial(params)
    seen: list[Choice] = []
    study.optimize(lambda t: (seen.append(suggest(t, cfg)), 1.0)[1], n_trials=1)
    assert seen == [Choice()]
