"""The student trainer: :func:`distill`, built on the shared loop :func:`edgeopt.train.fit`.

The distillation plugs in as fit's ``loss_fn``: for each batch it asks the frozen teacher for its
logits (and feature targets), runs the student, and returns
``α·T²·KL + (1−α)·CE [+ β·mean feature MSE]`` (see :mod:`edgeopt.distill.losses`). Feature
adapters are extra parameters handed to fit's optimizer and dropped after training.

Example:
    >>> student = create_model("mobilenet_v1", num_classes=10, in_chans=1, width_mult=0.25, stem_stride=1)
    >>> result = distill(student, teacher, splits.train, splits.val, TrainConfig(epochs=10),
    ...                  temperature=4.0, alpha=0.7)
    >>> result.teacher_accuracy, result.student_accuracy
    (0.986, 0.978)
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn
from torch.utils.data import Dataset

from edgeopt.distill.checks import check_same_classes, example_inputs, probe
from edgeopt.distill.features import (
    FeatureCapture,
    FeatureHint,
    HintAdapter,
    HintLike,
    feature_loss,
    parse_hints,
    target_size,
)
from edgeopt.distill.losses import check_loss_options, distillation_loss
from edgeopt.distill.teacher import FrozenTeacher, frozen_copy
from edgeopt.errors import EdgeoptError
from edgeopt.train import LossOutput, StepCallback, TrainConfig, TrainResult, evaluate, fit
from edgeopt.utils.modes import device_of

__all__ = ["DistillResult", "distill"]


@dataclass
class DistillResult:
    """A distilled student and what the run did.

    Attributes:
        model: The trained student (a new module; the one passed in is untouched).
        train_result: fit's history; ``train_loss`` is the distillation loss.
        teacher_accuracy: The teacher's top-1 on the validation data (None without it).
        student_accuracy: The student's top-1 on the validation data after training.
        teacher_stats: Teacher forward passes run and cache hits/misses, see
            :meth:`FrozenTeacher.stats`.
    """

    model: nn.Module
    train_result: TrainResult
    teacher_accuracy: float | None
    student_accuracy: float | None
    temperature: float
    alpha: float
    feature_weight: float
    features: list[FeatureHint] = field(default_factory=list)
    adapters: list[str] = field(default_factory=list)
    cached_teacher: bool = False
    teacher_stats: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain, JSON-serialisable form (without the model)."""
        return {
            "temperature": self.temperature,
            "alpha": self.alpha,
            "feature_weight": self.feature_weight,
            "features": [{**h.to_dict(), "adapter": a} for h, a in zip(self.features, self.adapters, strict=True)],
            "cached_teacher": self.cached_teacher,
            "teacher_stats": dict(self.teacher_stats),
            "teacher_accuracy": self.teacher_accuracy,
            "student_accuracy": self.student_accuracy,
            "train": self.train_result.to_dict(),
        }


def distill(
    student: nn.Module,
    teacher: nn.Module,
    train: Dataset[Any],
    val: Dataset[Any] | None = None,
    config: TrainConfig | None = None,
    *,
    temperature: float = 4.0,
    alpha: float = 0.7,
    features: Iterable[HintLike] | HintLike | None = None,
    feature_weight: float = 1.0,
    cache_teacher: bool | None = None,
    on_step_end: Sequence[StepCallback] = (),
) -> DistillResult:
    """Train a copy of ``student`` to match ``teacher`` (logits, and optionally features).

    Args:
        student: Any classifier: a registry model, a pruned or loaded checkpoint. Not modified;
            a trained copy is returned.
        teacher: A trained classifier with the same number of classes. Not modified; a frozen
            copy runs in eval mode without gradients.
        train: Training ``(input, label)`` pairs.
        val: Validation data (best-epoch restore, accuracies).
        config: fit's hyper-parameters (epochs, lr, augmentation, seed, ...).
        temperature: Softening temperature T (> 0).
        alpha: Weight of the soft-target term in [0, 1]; 0 is plain cross-entropy.
        features: Hints pairing teacher and student modules, as ``"t_layer:s_layer"`` strings,
            ``(t, s)`` pairs or :class:`FeatureHint`; matched by MSE through learned adapters.
        feature_weight: β, the weight of the mean feature MSE (>= 0).
        cache_teacher: Compute the teacher's outputs once per sample and reuse them. None (the
            default) caches when ``config.augment_shift == 0``; True with augmentation is an error.
        on_step_end: Callbacks after each optimizer step (e.g. re-applying pruning masks).

    Raises:
        EdgeoptError: Bad options, a model that cannot take the data's inputs, a student whose
            number of classes differs from the teacher's, or an unknown hint module.

    Example:
        >>> result = distill(student, teacher, splits.train, splits.val,
        ...                  TrainConfig(epochs=10), features=["features.6:features.6"])
        >>> result.model  # the trained student, same architecture as ``student``
    """
    cfg = config or TrainConfig()
    check_loss_options(temperature, alpha)
    _check_feature_weight(feature_weight)
    hints = parse_hints(features)
    use_cache = _resolve_cache(cache_teacher, cfg)
    model = copy.deepcopy(student)
    device = device_of(model)
    frozen = frozen_copy(teacher, device)
    hint_adapters, sizes = _build_adapters(model, frozen, train, hints, cfg.seed)
    adapters = nn.ModuleList(hint_adapters)
    targets = FrozenTeacher(frozen, [h.teacher for h in hints], sizes, cache=use_cache)
    teacher_acc = evaluate(frozen, val, cfg.eval_batch_size).accuracy if val is not None else None
    with FeatureCapture(model, [h.student for h in hints], "student") as capture:
        loss_fn = _DistillLoss(targets, capture, adapters, temperature, alpha, feature_weight,
                               cfg.label_smoothing, bool(hints))
        params = [*model.parameters(), *adapters.parameters()]
        result = fit(model, train, val, cfg, loss_fn=loss_fn, on_step_end=on_step_end, params=params)
    student_acc = evaluate(model, val, cfg.eval_batch_size).accuracy if val is not None else None
    return DistillResult(
        model=model, train_result=result, teacher_accuracy=teacher_acc,
        student_accuracy=student_acc, temperature=float(temperature), alpha=float(alpha),
        feature_weight=float(feature_weight), features=hints,
        adapters=[a.describe() for a in hint_adapters], cached_teacher=use_cache,
        teacher_stats=targets.stats(),
    )


class _DistillLoss:
    """fit's loss: teacher targets, student forward, then the mixed distillation loss."""

    def __init__(self, teacher: FrozenTeacher, capture: FeatureCapture, adapters: nn.ModuleList,
                 temperature: float, alpha: float, feature_weight: float, label_smoothing: float,
                 with_features: bool) -> None:
        self.teacher, self.capture, self.adapters = teacher, capture, adapters
        self.temperature, self.alpha, self.beta = temperature, alpha, feature_weight
        self.label_smoothing = label_smoothing
        self.with_features = with_features

    def __call__(self, model: nn.Module, inputs: Tensor, targets: Tensor) -> LossOutput:
        teacher_logits, teacher_features = self.teacher(inputs)
        logits = model(inputs)
        loss = distillation_loss(logits, teacher_logits, targets, temperature=self.temperature,
                                 alpha=self.alpha, label_smoothing=self.label_smoothing)
        if self.with_features:
            hint = feature_loss(self.capture.outputs(), teacher_features, self.adapters)
            loss = loss + self.beta * hint
        return LossOutput(loss, logits)


def _build_adapters(
    student: nn.Module, teacher: nn.Module, train: Dataset[Any], hints: list[FeatureHint], seed: int
) -> tuple[list[HintAdapter], list[tuple[int, int] | None]]:
    """Probe both models on two samples; check classes; one adapter and target size per hint."""
    inputs = example_inputs(train, device_of(student))
    teacher_classes, teacher_shapes = probe(teacher, "teacher", inputs, [h.teacher for h in hints])
    student_classes, student_shapes = probe(student, "student", inputs, [h.student for h in hints])
    check_same_classes(student_classes, teacher_classes)
    # Seeded on a forked RNG: adapters start the same for a given seed, the caller's RNG is untouched.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        adapters = [HintAdapter.for_shapes(s, t) for s, t in zip(student_shapes, teacher_shapes, strict=True)]
    sizes = [target_size(s, t) for s, t in zip(student_shapes, teacher_shapes, strict=True)]
    return [a.to(device_of(student)) for a in adapters], sizes


def _resolve_cache(cache_teacher: bool | None, cfg: TrainConfig) -> bool:
    if cache_teacher is None:
        return cfg.augment_shift == 0
    if cache_teacher and cfg.augment_shift > 0:
        raise EdgeoptError(
            f"cache_teacher=True with augment_shift={cfg.augment_shift}: augmented inputs differ "
            "every epoch, so cached teacher outputs would never be reused",
            hint="set augment_shift=0 to cache, or leave cache_teacher=None",
        )
    return bool(cache_teacher)


def _check_feature_weight(feature_weight: float) -> None:
    ok = isinstance(feature_weight, (int, float)) and math.isfinite(feature_weight)
    if not ok or feature_weight < 0:
        raise EdgeoptError(f"feature_weight must be a number >= 0, got {feature_weight!r}",
                           hint="e.g. feature_weight=1.0 (0 ignores the feature hints)")
