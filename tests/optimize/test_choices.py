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
                               "round_to": (None, 8), "distill": True, "finetune_epochs": 1, "scopes": ("uniform",),
                               "calibrations": ("minmax", "entropy")}
    return OptimizeConfig(**{**base, **options})


def test_unpruned_trial_asks_only_for_the_calibration():
    trial = FixedTrial({"prune_ratio": 0.0, "calibration": "entropy"})
    assert suggest(trial, config()) == Choice(calibration="entropy")
    assert set(trial.params) == {"prune_ratio", "calibration"}


def test_pruned_trial_asks_for_every_parameter():
    trial = FixedTrial({"prune_ratio": 0.5, "importance": "l2", "scope": "global", "round_to": 8, "epochs": 1,
                        "distill": True, "calibration": "entropy"})
    assert suggest(trial, config(scopes=("uniform", "global"))) == Choice(0.5, "l2", 8, True, "entropy", 1, "global")
    assert set(trial.params) == {"prune_ratio", "importance", "scope", "round_to", "epochs", "distill",
                                 "calibration"}


def test_unpruned_trial_ignores_pruning_values_offered():
    trial = FixedTrial({"prune_ratio": 0.0, "importance": "l2", "round_to": 8, "distill": True,
                        "calibration": "minmax"})
    assert suggest(trial, config()) == Choice(calibration="minmax")
    assert set(trial.params) == {"prune_ratio", "calibration"}


def test_distill_is_asked_only_when_fine_tuning_and_allowed():
    for epochs, options in ((0, {"finetune_epochs": 0}), (1, {"distill": False})):
        trial = FixedTrial({"prune_ratio": 0.5, "importance": "l1", "scope": "uniform", "round_to": None,
                            "epochs": epochs, "distill": True, "calibration": "minmax"})
        assert suggest(trial, config(**options)) == Choice(0.5, "l1", None, False, "minmax", epochs, "uniform")
        assert "distill" not in trial.params


def test_no_calibration_question_without_quantize():
    trial = FixedTrial({"prune_ratio": 0.0, "calibration": "minmax"})
    assert suggest(trial, config(quantize=False)) == Choice()
    assert set(trial.params) == {"prune_ratio"}


def test_variant_key_shared_across_calibrations_and_distinct_across_pruning_options():
    pruned = Choice(0.5, "l1", 8, False)
    assert pruned.variant_key == Choice(0.5, "l1", 8, False, "minmax").variant_key \
        == Choice(0.5, "l1", 8, False, "entropy").variant_key
    assert Choice().variant_key == Choice(calibration="minmax").variant_key == "baseline"
    others = [Choice(0.25, "l1", 8, False), Choice(0.5, "l2", 8, False), Choice(0.5, "l1", None, False),
              Choice(0.5, "l1", 8, True), Choice(0.5, "l1", 8, False, epochs=10),
              Choice(0.5, "l1", 8, False, scope="global"), Choice()]
    keys = {c.variant_key for c in [pruned, *others]}
    assert len(keys) == 8
    assert Choice(0.5, "l1", 8, False, scope="uniform").variant_key == pruned.variant_key  # uniform: the default
    assert pruned.variant_key.startswith("prune50-")


def test_labels():
    assert Choice().label == "baseline"
    assert Choice(calibration="minmax").label == "baseline; int8 minmax"
    assert Choice(0.25, "taylor").label == "prune 25% (taylor, not tuned)"
    assert Choice(0.25, "taylor", epochs=3).label == "prune 25% (taylor, tuned 3 ep)"
    assert Choice(0.25, "taylor", epochs=3, scope="global").label == "prune 25% (taylor, global, tuned 3 ep)"
    choice = Choice(0.5, "l1", 8, True, "entropy", 10)
    assert choice.row_label("fp32") == choice.row_label("bf16") == "prune 50% (l1, round 8, distilled 10 ep)"
    assert choice.row_label("int8") == "prune 50% (l1, round 8, distilled 10 ep) + int8 (entropy)"
    assert choice.row_label("int8", "pt2e") == "prune 50% (l1, round 8, distilled 10 ep) + int8 (pt2e)"


def test_epochs_accept_one_number_or_several_and_refuse_bad_ones():
    assert config(finetune_epochs=4).finetune_epochs == (4,)
    assert config(finetune_epochs=[3, 10, 3]).finetune_epochs == (3, 10)
    for bad in ((), (-1,), (2.5,), (True,)):
        with pytest.raises(ValueError, match="fine-tuning epochs"):
            config(finetune_epochs=bad)


def test_to_dict_round_trips():
    choice = Choice(0.75, "bn_scale", 8, True, "percentile", 10, "global")
    assert Choice.from_dict(choice.to_dict()) == choice


def distinct_by_enumeration(cfg: OptimizeConfig) -> int:
    """Every combination of every parameter value, through suggest: the distinct choices it yields."""
    values = {"prune_ratio": cfg.prune_ratios, "importance": cfg.importance, "scope": cfg.scopes,
              "round_to": cfg.round_to, "epochs": cfg.finetune_epochs, "distill": (False, True),
              "calibration": cfg.calibrations}
    found = set()
    for combo in itertools.product(*values.values()):
        found.add(suggest(FixedTrial(dict(zip(values, combo, strict=True))), cfg))
    return len(found)


@pytest.mark.parametrize("options, by_hand", [
    # 2 importances x 2 roundings x 2 (distilled or not) = 8 pruned models + the baseline = 9 models;
    # each with 2 calibrations of its int8 files: 9 x 2 = 18
    ({}, 18),
    # no distillation: 4 pruned + 1 = 5 models, x 2 = 10
    ({"distill": False}, 10),
    # fine-tuning 0 epochs: no distillation either
    ({"finetune_epochs": 0}, 10),
    # no int8: 9 models
    ({"quantize": False}, 9),
    # two ratios > 0: 16 pruned + 1 = 17, x 2 = 34
    ({"prune_ratios": (0.0, 0.25, 0.5)}, 34),
    # two fine-tuning lengths: 2 x 2 x 2 x 2 = 16 pruned + 1 = 17, x 2 = 34
    ({"finetune_epochs": (1, 5)}, 34),
    # 0 and 5 epochs: 4 untuned + 8 (5 epochs, distilled or not) = 12 pruned + 1 = 13, x 2 = 26
    ({"finetune_epochs": (0, 5)}, 26),
    # two scopes: 16 pruned + 1 = 17, x 2 = 34
    ({"scopes": ("uniform", "global")}, 34),
    # 0 is added to the ratios: the same space as (0, 0.5)
    ({"prune_ratios": (0.5,)}, 18),
])
def test_space_size_matches_a_hand_count_and_the_enumeration(options, by_hand):
    cfg = config(**options)
    assert space_size(cfg) == by_hand
    assert distinct_by_enumeration(cfg) == by_hand


def test_first_trials_are_the_baseline_then_a_ladder_of_ratios():
    cfg = config(calibrations=("entropy", "minmax"), prune_ratios=(0.5, 0.25), finetune_epochs=(1, 4))
    first = first_trials(cfg)
    assert first[0] == {"prune_ratio": 0.0, "calibration": "entropy"}
    assert [suggest(FixedTrial(p), cfg) for p in first] == [
        Choice(calibration="entropy"), Choice(0.25, "l1", None, True, "entropy", 4, "uniform"),
        Choice(0.5, "l1", None, True, "entropy", 4, "uniform")]


def test_ladder_without_distillation_does_not_ask_for_it():
    cfg = config(distill=False)
    assert all("distill" not in p for p in first_trials(cfg))
    assert [suggest(FixedTrial(p), cfg) for p in first_trials(cfg)][1] == Choice(0.5, "l1", None, False, "minmax", 1,
                                                                                "uniform")


def test_first_trial_without_quantize_is_the_float_baseline_only():
    cfg = config(quantize=False, prune_ratios=(0.0,))
    assert first_trials(cfg) == [{"prune_ratio": 0.0}]
    assert suggest(FixedTrial(first_trials(cfg)[0]), cfg) == Choice()


def first_choice_in_a_study(cfg: OptimizeConfig) -> Choice:
    """What the first trial of a real study with ``cfg``'s queued trials chooses."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study()
    for params in first_trials(cfg):
        study.enqueue_trial(params)
    seen: list[Choice] = []
    study.optimize(lambda t: (seen.append(suggest(t, cfg)), 1.0)[1], n_trials=1)
    return seen[0]


def test_queued_first_trial_runs_in_a_real_study():
    assert first_choice_in_a_study(config()) == Choice(calibration="minmax")


def test_prune_ratios_without_zero_still_start_from_the_baseline():
    cfg = config(prune_ratios=(0.5,))
    assert cfg.prune_ratios == (0.0, 0.5)
    assert first_choice_in_a_study(cfg) == Choice(calibration="minmax")
