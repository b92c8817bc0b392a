"""Distillation losses: softened-logit KL (Hinton et al., 2015) mixed with the label loss.

Convention (the one Hinton et al. and most libraries use)::

    loss = α · T² · KL(softmax(t / T) ‖ softmax(s / T)) + (1 − α) · CE(s, y)

with ``s`` the student's and ``t`` the teacher's logits, ``T`` the temperature and ``α`` the
weight of the teacher's soft targets. The KL is summed over classes and averaged over the batch
(``reduction="batchmean"``, the true KL per sample). Multiplying by ``T²`` keeps the soft-target
gradients the same size as the label gradients whatever ``T`` is (their magnitude scales as
``1/T²``), so α means the same at every temperature. ``α = 0`` is plain cross-entropy;
``α = 1`` ignores the labels.

Example:
    >>> loss = distillation_loss(student_logits, teacher_logits, labels, temperature=4.0, alpha=0.7)
"""

from __future__ import annotations

import math

import torch.nn.functional as F
from torch import Tensor

from edgeopt.errors import EdgeoptError

__all__ = ["check_loss_options", "distillation_loss", "soft_target_loss"]


def check_loss_options(temperature: float, alpha: float) -> None:
    """Raise :class:`EdgeoptError` unless ``temperature > 0`` and ``0 <= alpha <= 1``.

    Example:
        >>> check_loss_options(4.0, 0.7)
    """
    if not isinstance(temperature, (int, float)) or not math.isfinite(temperature) or temperature <= 0:
        raise EdgeoptError(f"temperature must be a positive number, got {temperature!r}",
                           hint="e.g. temperature=4.0 (1 means no softening)")
    if not isinstance(alpha, (int, float)) or not math.isfinite(alpha) or not 0 <= alpha <= 1:
        raise EdgeoptError(f"alpha must be in [0, 1], got {alpha!r}",
                           hint="alpha is the weight of the teacher's soft targets, e.g. 0.7")


def soft_target_loss(student_logits: Tensor, teacher_logits: Tensor, temperature: float) -> Tensor:
    """``T² · KL(softmax(t/T) ‖ softmax(s/T))``, averaged over the batch.

    Gradients flow into the student only; the teacher's logits are treated as constants.

    Example:
        >>> soft_target_loss(torch.zeros(2, 10), torch.zeros(2, 10), 4.0)
        tensor(0.)
    """
    if student_logits.shape != teacher_logits.shape:
        raise EdgeoptError(
            f"student logits {tuple(student_logits.shape)} and teacher logits "
            f"{tuple(teacher_logits.shape)} differ in shape",
            hint="the student and the teacher must predict the same classes",
        )
    t = float(temperature)
    log_p_student = F.log_softmax(student_logits / t, dim=-1)
    log_p_teacher = F.log_softmax(teacher_logits.detach() / t, dim=-1)
    kl = F.kl_div(log_p_student, log_p_teacher, reduction="batchmean", log_target=True)
    return kl * (t * t)


def distillation_loss(
    student_logits: Tensor,
    teacher_logits: Tensor,
    targets: Tensor,
    *,
    temperature: float = 4.0,
    alpha: float = 0.7,
    label_smoothing: float = 0.0,
) -> Tensor:
    """``α · T² · KL(teacher ‖ student at T) + (1 − α) · CE(student, labels)``.

    Args:
        student_logits: N × K logits of the student (with gradients).
        teacher_logits: N × K logits of the teacher (treated as constants).
        targets: N integer labels.
        temperature: Softening temperature ``T`` (> 0).
        alpha: Weight of the soft-target term, in [0, 1].
        label_smoothing: Applied to the cross-entropy term only.

    Returns:
        The scalar loss.

    Example:
        >>> distillation_loss(s, t, y, temperature=4.0, alpha=0.7).backward()
    """
    check_loss_options(temperature, alpha)
    hard = F.cross_entropy(student_logits, targets, label_smoothing=label_smoothing)
    if alpha == 0:
        return hard  # skip the KL entirely: exactly the plain label loss
    soft = soft_target_loss(student_logits, teacher_logits, temperature)
    return alpha * soft + (1.0 - alpha) * hard
