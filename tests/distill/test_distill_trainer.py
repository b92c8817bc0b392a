import copy

import pytest
import torch
from torch import nn

from edgeopt.distill import distill
from edgeopt.distill.teacher import FrozenTeacher, frozen_copy
from edgeopt.errors import EdgeoptError
from edgeopt.models import create_model
from edgeopt.train import TrainConfig, evaluate, fit

QUICK = TrainConfig(epochs=2, lr=1e-2, progress=False)


def states_equal(a: nn.Module, b: nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_teacher_runs_in_eval_mode_without_gradients_and_is_left_untouched(
    tiny_student, digits, digits_teacher
):
    teacher = copy.deepcopy(digits_teacher).train()  # the caller's teacher is even in train mode
    before = copy.deepcopy(teacher)
    calls = []
    # deepcopy (inside distill) copies hooks too, so this sees the teacher that actually runs
    teacher.register_forward_hook(lambda m, a, o: calls.append((m.training, torch.is_grad_enabled(), o.requires_grad)))
    student = tiny_student()
    student_before = copy.deepcopy(student)
    distill(student, teacher, digits.train, digits.val, QUICK.model_copy(update={"max_steps": 5}),
            cache_teacher=False)
    training_calls = calls[2:]  # after the probe and teacher-accuracy passes
    assert len(training_calls) >= 5
    assert all(mode == (False, False, False) for mode in calls)  # eval, no grad, no graph
    # nothing of the caller's models changed: weights, BN statistics, modes, gradients
    assert states_equal(teacher, before) and teacher.training
    assert all(p.grad is None for p in teacher.parameters())
    assert states_equal(student, student_before)


def test_distillation_improves_the_student_over_its_initialisation(tiny_student, digits, digits_teacher):
    student = tiny_student(width=8)
    init_acc = evaluate(student, digits.val).accuracy
    result = distill(student, digits_teacher, digits.train, digits.val, QUICK)
    assert init_acc < 0.3
    assert result.student_accuracy > 0.7 and result.student_accuracy > init_acc + 0.4
    assert result.teacher_accuracy == evaluate(digits_teacher, digits.val).accuracy
    assert type(result.model) is type(student)


def test_alpha_zero_trains_exactly_like_plain_cross_entropy(tiny_student, digits, digits_teacher):
    config = QUICK.model_copy(update={"epochs": 1, "max_steps": 6})
    plain = tiny_student()
    history = fit(plain, digits.train, digits.val, config).history
    result = distill(tiny_student(), digits_teacher, digits.train, digits.val, config, alpha=0.0)
    assert result.train_result.history[0]["train_loss"] == pytest.approx(history[0]["train_loss"], rel=1e-6)
    assert states_equal(result.model, plain)


def test_cached_teacher_gives_the_same_losses_with_one_teacher_pass_per_batch_of_the_first_epoch(
    tiny_student, digits, digits_teacher
):
    config = QUICK.model_copy(update={"epochs": 2})
    steps_per_epoch = -(-len(digits.train) // config.batch_size)
    live = distill(tiny_student(), digits_teacher, digits.train, digits.val, config, cache_teacher=False)
    cached = distill(tiny_student(), digits_teacher, digits.train, digits.val, config, cache_teacher=True)
    assert live.teacher_stats["teacher_forward_batches"] == 2 * steps_per_epoch
    assert cached.teacher_stats["teacher_forward_batches"] == steps_per_epoch
    assert cached.teacher_stats["cache_hits"] == steps_per_epoch
    assert cached.teacher_stats["cached_samples"] == len(digits.train)
    for a, b in zip(live.train_result.history, cached.train_result.history, strict=True):
        assert a["train_loss"] == pytest.approx(b["train_loss"], rel=1e-5)
        assert a["val_acc"] == b["val_acc"]


def test_cache_hits_return_what_the_teacher_computes_for_a_reshuffled_batch(digits, digits_teacher):
    inputs = digits.train.tensors[0][:32]
    live = FrozenTeacher(frozen_copy(digits_teacher), ["features.2"], [None])
    cached = FrozenTeacher(frozen_copy(digits_teacher), ["features.2"], [None], cache=True)
    cached(inputs[:16]), cached(inputs[16:])
    order = torch.randperm(32, generator=torch.Generator().manual_seed(0))
    logits, features = cached(inputs[order])
    want_logits, want_features = live(inputs[order])
    assert cached.forward_batches == 2 and cached.cache.hits == 1
    assert torch.allclose(logits, want_logits, atol=1e-5)
    assert torch.allclose(features[0], want_features[0], atol=1e-5)


def test_caching_is_on_by_default_only_without_augmentation(tiny_student, digits, digits_teacher):
    quick = QUICK.model_copy(update={"epochs": 1, "max_steps": 2})
    shifted = quick.model_copy(update={"augment_shift": 1})
    assert distill(tiny_student(), digits_teacher, digits.train, None, quick).cached_teacher
    assert not distill(tiny_student(), digits_teacher, digits.train, None, shifted).cached_teacher
    with pytest.raises(EdgeoptError, match="cache_teacher=True with augment_shift=1"):
        distill(tiny_student(), digits_teacher, digits.train, None, shifted, cache_teacher=True)


def test_feature_hints_train_adapters_that_are_discarded(tiny_student, digits, digits_teacher):
    student = tiny_student()
    # teacher width 8: features.2 has 16 channels at 4x4; student width 4: 8 channels at 4x4
    result = distill(student, digits_teacher, digits.train, digits.val,
                     QUICK.model_copy(update={"epochs": 1, "max_steps": 4}),
                     features=["features.2:features.2", "features.0:features.4"], feature_weight=0.5)
    assert result.adapters == ["1x1 conv 8->16, compared at 4x4", "1x1 conv 16->8, compared at 2x2"]
    assert result.model.state_dict().keys() == student.state_dict().keys()
    assert all(not m._forward_hooks for m in result.model.modules())
    record = result.to_dict()
    assert record["features"][0] == {"teacher": "features.2", "student": "features.2",
                                     "adapter": "1x1 conv 8->16, compared at 4x4"}


@pytest.mark.slow
def test_feature_loss_pulls_the_student_map_towards_the_teachers(tiny_student, digits, digits_teacher):
    config = QUICK.model_copy(update={"epochs": 2})
    # the same run with β = 10 and β = 0: only the hint term differs
    hint = ["features.2:features.2"]
    with_hint = distill(tiny_student(width=8), digits_teacher, digits.train, None, config, features=hint,
                        feature_weight=10.0)
    without = distill(tiny_student(width=8), digits_teacher, digits.train, None, config, features=hint,
                      feature_weight=0.0)
    x = digits.val.tensors[0]

    def map_of(model, name):
        out = {}
        handle = model.get_submodule(name).register_forward_hook(lambda m, a, o: out.setdefault("o", o))
        with torch.no_grad():
            model.eval()(x)
        handle.remove()
        return out["o"]

    target = map_of(digits_teacher, "features.2")
    # student and teacher both have width 8, so no adapter: the student's own map is compared
    assert with_hint.adapters == ["compared at 4x4"]
    mse_with = torch.mean((map_of(with_hint.model, "features.2") - target) ** 2)
    mse_without = torch.mean((map_of(without.model, "features.2") - target) ** 2)
    assert mse_with < 0.5 * mse_without


def test_student_with_other_class_count_is_an_error(tiny_student, digits, digits_teacher):
    with pytest.raises(EdgeoptError, match="student predicts 5 classes but the teacher predicts 10") as info:
        distill(tiny_student(num_classes=5), digits_teacher, digits.train, digits.val, QUICK)
    assert info.value.hint == "build the student with num_classes=10"


def test_teacher_that_cannot_take_the_inputs_is_an_error(tiny_student, digits):
    rgb_teacher = create_model("simple_cnn", num_classes=10, in_chans=3, width=4)
    with pytest.raises(EdgeoptError, match="the teacher expects 3 input channels"):
        distill(tiny_student(), rgb_teacher, digits.train, digits.val, QUICK)


def test_bad_hint_and_weight_are_errors(tiny_student, digits, digits_teacher):
    with pytest.raises(EdgeoptError, match="teacher .* has no module named 'features.9'"):
        distill(tiny_student(), digits_teacher, digits.train, None, QUICK, features=["features.9:features.2"])
    with pytest.raises(EdgeoptError, match="feature_weight must be"):
        distill(tiny_student(), digits_teacher, digits.train, None, QUICK, feature_weight=-1)
