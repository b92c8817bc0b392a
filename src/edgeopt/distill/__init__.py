"""Knowledge distillation: a small student learns from a trained teacher.

- Logit distillation (Hinton et al., 2015): ``α·T²·KL(teacher ‖ student at T) + (1−α)·CE``
  (:func:`distillation_loss`, convention in :mod:`edgeopt.distill.losses`).
- Feature distillation (hint learning): chosen intermediate maps matched by MSE through learned
  1×1 adapters and adaptive pooling (:class:`FeatureHint`, :class:`HintAdapter`).
- :func:`distill` trains the student with the shared loop :func:`edgeopt.train.fit`; the teacher
  is frozen (eval mode, no gradients) and its outputs are cached when augmentation is off.

Names are imported lazily (PEP 562).

Example:
    >>> from edgeopt.distill import distill
    >>> result = distill(student, teacher, splits.train, splits.val, TrainConfig(epochs=10),
    ...                  temperature=4.0, alpha=0.7)
    >>> result.model, result.teacher_accuracy
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from edgeopt.utils.lazy import lazy_exports

# public name -> module that defines it
_EXPORTS: dict[str, str] = {
    "distill": "edgeopt.distill.trainer",
    "DistillResult": "edgeopt.distill.trainer",
    "distillation_loss": "edgeopt.distill.losses",
    "soft_target_loss": "edgeopt.distill.losses",
    "FeatureHint": "edgeopt.distill.features",
    "HintAdapter": "edgeopt.distill.features",
    "FrozenTeacher": "edgeopt.distill.teacher",
    "ContentCache": "edgeopt.distill.cache",
    "Distill": "edgeopt.distill.transform",
}

# Literal, not sorted(_EXPORTS): mypy reads only a literal __all__ and would export nothing.
__all__ = [
    "ContentCache",
    "Distill",
    "DistillResult",
    "FeatureHint",
    "FrozenTeacher",
    "HintAdapter",
    "distill",
    "distillation_loss",
    "soft_target_loss",
]

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())

if TYPE_CHECKING:  # for type checkers and IDEs; not executed at run time
    from edgeopt.distill.cache import ContentCache as ContentCache
    from edgeopt.distill.features import FeatureHint as FeatureHint, HintAdapter as HintAdapter
    from edgeopt.distill.losses import distillation_loss as distillation_loss, soft_target_loss as soft_target_loss
    from edgeopt.distill.teacher import FrozenTeacher as FrozenTeacher
    from edgeopt.distill.trainer import DistillResult as DistillResult, distill as distill
    from edgeopt.distill.transform import Distill as Distill
