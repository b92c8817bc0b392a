"""The one training / evaluation loop everyone reuses.

Fine-tuning after pruning, quantization-aware training and distillation all train through
:func:`fit`; they differ only in the loss (a :class:`LossFn`, which runs the forward pass itself so
a teacher can run inside it) and in what happens after each optimizer step (``on_step_end``, e.g.
re-applying pruning masks). :func:`evaluate` is the one place accuracy is measured in eager mode.

Example:
    >>> result = fit(model, splits.train, splits.val, TrainConfig(epochs=5))
    >>> evaluate(model, splits.test).accuracy
    0.97
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from edgeopt.utils.lazy import lazy_exports

# public name -> module that defines it
_EXPORTS: dict[str, str] = {
    "TrainConfig": "edgeopt.train.config",
    "EvalResult": "edgeopt.train.evaluation",
    "evaluate": "edgeopt.train.evaluation",
    "predict": "edgeopt.train.evaluation",
    "StepCallback": "edgeopt.train.loop",
    "TrainResult": "edgeopt.train.loop",
    "fit": "edgeopt.train.loop",
    "LossFn": "edgeopt.train.losses",
    "LossOutput": "edgeopt.train.losses",
    "cross_entropy_loss": "edgeopt.train.losses",
    "seed_everything": "edgeopt.train.seeding",
    "Train": "edgeopt.train.transform",
}

# Literal, not sorted(_EXPORTS): mypy reads only a literal __all__ and would export nothing.
__all__ = [
    "EvalResult",
    "LossFn",
    "LossOutput",
    "StepCallback",
    "Train",
    "TrainConfig",
    "TrainResult",
    "cross_entropy_loss",
    "evaluate",
    "fit",
    "predict",
    "seed_everything",
]

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())

if TYPE_CHECKING:  # for type checkers and IDEs; not executed at run time
    from edgeopt.train.config import TrainConfig as TrainConfig
    from edgeopt.train.evaluation import EvalResult as EvalResult, evaluate as evaluate, predict as predict
    from edgeopt.train.loop import StepCallback as StepCallback, TrainResult as TrainResult, fit as fit
    from edgeopt.train.losses import (
        LossFn as LossFn,
        LossOutput as LossOutput,
        cross_entropy_loss as cross_entropy_loss,
    )
    from edgeopt.train.seeding import seed_everything as seed_everything
    from edgeopt.train.transform import Train as Train
