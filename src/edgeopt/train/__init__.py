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

from edgeopt.train.config import TrainConfig
from edgeopt.train.evaluation import EvalResult, evaluate, predict
from edgeopt.train.loop import StepCallback, TrainResult, fit
from edgeopt.train.losses import LossFn, LossOutput, cross_entropy_loss
from edgeopt.train.seeding import seed_everything

__all__ = [
    "EvalResult", "LossFn", "LossOutput", "StepCallback", "TrainConfig", "TrainResult",
    "cross_entropy_loss", "evaluate", "fit", "predict", "seed_everything",
]
