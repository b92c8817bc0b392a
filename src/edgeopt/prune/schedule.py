"""Gradual magnitude pruning on the polynomial schedule of Zhu & Gupta (2017).

"To prune, or not to prune" raises sparsity from ``s_i`` to ``s_f`` over ``n`` pruning steps as
``s_t = s_f + (s_i - s_f) * (1 - t/n)**3``: large steps early, while many redundant weights are
left, and small ones near the end, when each weight matters more. The network fine-tunes between
steps and so recovers from each.

How fine-tuning plugs in: each pruning step is followed by its own :func:`edgeopt.train.fit` run
of ``config`` (``config.epochs`` epochs, or ``config.max_steps`` optimizer steps for finer
schedules), rather than one long ``fit`` with an ``on_step_end`` callback that re-prunes. Why:
inside one ``fit`` call the masks are then fixed, so ``restore_best`` stays correct (with a
re-pruning callback it would restore an earlier, *less sparse* epoch's snapshot, masks and all);
the validation accuracy of each step falls out of each run; and the masks themselves persist
without a callback (see :mod:`edgeopt.prune.masks`). The price is that the learning-rate
schedule restarts at each step (a warm restart), which fine-tuning of a trained model tolerates.

Example:
    >>> [round(polynomial_sparsity(t, 4, 0.0, 0.8), 3) for t in range(5)]
    [0.0, 0.463, 0.7, 0.787, 0.8]
    >>> sparse, history = gradual_magnitude(model, data.train, data.val, final_sparsity=0.8,
    ...                                     steps=4, config=TrainConfig(epochs=1))
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any, TypedDict, TypeGuard

from torch import nn
from torch.utils.data import Dataset

from edgeopt.errors import EdgeoptError
from edgeopt.prune.sparsity import sparsity_report
from edgeopt.prune.unstructured import Scope, _is_real, magnitude
from edgeopt.train import TrainConfig, TrainResult, evaluate, fit

__all__ = ["PruningStep", "gradual_magnitude", "polynomial_sparsity"]

log = logging.getLogger(__name__)


class PruningStep(TypedDict):
    """One row of :func:`gradual_magnitude`'s history (accuracies are None without val data)."""

    step: int
    target_sparsity: float
    sparsity: float | None  # SparsityReport.masked_sparsity: None only if no layer is masked
    val_acc_pruned: float | None
    val_acc: float | None
    epochs: int
    seconds: float


def polynomial_sparsity(step: int, steps: int, initial: float, final: float) -> float:
    """The target sparsity after pruning step ``step`` of ``steps``: Zhu & Gupta's cubic ramp.

    ``s_t = final + (initial - final) * (1 - step/steps)**3``; step 0 gives ``initial`` and step
    ``steps`` gives ``final``.

    Raises:
        EdgeoptError: ``steps`` < 1, ``step`` outside [0, steps], or sparsities outside [0, 1)
            or with ``initial`` > ``final``.

    Example:
        >>> polynomial_sparsity(1, 2, 0.0, 0.8)
        0.7
    """
    _check_steps(steps)
    if not _is_int(step) or not 0 <= step <= steps:
        raise EdgeoptError(f"pruning step {step!r} is outside 0..{steps}")
    _check_sparsities(initial, final)
    return final + (initial - final) * (1.0 - step / steps) ** 3


def gradual_magnitude(
    model: nn.Module,
    train: Dataset[Any],
    val: Dataset[Any] | None = None,
    *,
    final_sparsity: float,
    initial_sparsity: float = 0.0,
    steps: int = 5,
    config: TrainConfig | None = None,
    scope: Scope = "global",
    exclude: Iterable[str] | str | None = None,
) -> tuple[nn.Module, list[PruningStep]]:
    """Prune ``model`` gradually to ``final_sparsity``, fine-tuning after each pruning step.

    Step 0 prunes to ``initial_sparsity`` (nothing when 0). Each step ``t`` = 1..``steps`` prunes
    to :func:`polynomial_sparsity` ``(t, steps, initial, final)`` with :func:`magnitude` (weights
    pruned earlier stay pruned) and then trains with :func:`edgeopt.train.fit` and ``config``.
    The sparsity is that of the pruned layers; the first conv and classifier stay dense unless
    ``exclude`` says otherwise. The result is masked: fine-tune it further if you like, then
    :func:`edgeopt.prune.finalize` it for export. It is not faster on a dense runtime.

    Args:
        model: The trained model; it is not modified.
        train: Fine-tuning data.
        val: Validation data, evaluated after every step (and used by ``fit`` to keep each
            step's best epoch). Without it the history's accuracies are None.
        final_sparsity: Sparsity after the last step, in [0, 1).
        initial_sparsity: Sparsity of step 0, in [0, final_sparsity].
        steps: Number of pruning steps after step 0 (``n``), at least 1.
        config: Fine-tuning per step; default ``TrainConfig(epochs=1, lr=1e-3)`` (a trained
            model needs a gentler lr than training from scratch).
        scope, exclude: As for :func:`magnitude`.

    Returns:
        The masked model and one history row per step: ``step``, ``target_sparsity``,
        ``sparsity`` (achieved, over pruned layers), ``val_acc_pruned`` (right after pruning),
        ``val_acc`` (after fine-tuning), ``epochs``, ``seconds``.

    Example:
        >>> sparse, history = gradual_magnitude(model, data.train, data.val, final_sparsity=0.8,
        ...                                     steps=4, config=TrainConfig(epochs=1))
        >>> [round(row["sparsity"], 2) for row in history]
        [0.0, 0.46, 0.7, 0.79, 0.8]
    """
    _check_steps(steps)
    _check_sparsities(initial_sparsity, final_sparsity)
    cfg = config or TrainConfig(epochs=1, lr=1e-3)
    current = magnitude(model, initial_sparsity, scope=scope, exclude=exclude)
    history = [_row(0, initial_sparsity, current, val, None)]
    for step in range(1, steps + 1):
        target = polynomial_sparsity(step, steps, initial_sparsity, final_sparsity)
        current = magnitude(current, target, scope=scope, exclude=exclude)
        val_pruned = None if val is None else evaluate(current, val, cfg.eval_batch_size).accuracy
        result = fit(current, train, val, cfg)
        history.append(_row(step, target, current, val, result, val_pruned))
        log.info("pruning step %d/%d: sparsity %.3f, val acc %s", step, steps,
                 history[-1]["sparsity"], history[-1]["val_acc"])
    return current, history


# --- helpers ------------------------------------------------------------------------------------


def _row(
    step: int,
    target: float,
    model: nn.Module,
    val: Dataset[Any] | None,
    result: TrainResult | None,
    val_pruned: float | None = None,
) -> PruningStep:
    val_acc = evaluate(model, val).accuracy if val is not None else None
    return {
        "step": step,
        "target_sparsity": target,
        "sparsity": sparsity_report(model, compress=False).masked_sparsity,
        "val_acc_pruned": val_pruned if result is not None else val_acc,
        "val_acc": val_acc,
        "epochs": len(result.history) if result is not None else 0,
        "seconds": result.seconds if result is not None else 0.0,
    }


def _check_steps(steps: object) -> None:
    if not _is_int(steps) or steps < 1:
        raise EdgeoptError(f"the number of pruning steps must be an integer >= 1, got {steps!r}")


def _check_sparsities(initial: object, final: object) -> None:
    if _sparsity(initial, "initial") > _sparsity(final, "final"):
        raise EdgeoptError(
            f"initial sparsity {initial} is above final sparsity {final}",
            hint="sparsity only grows during gradual pruning",
        )


def _sparsity(value: object, what: str) -> float:
    """``value`` as a float, if it is a sparsity in [0, 1)."""
    if not _is_real(value) or not 0.0 <= float(value) < 1.0:
        raise EdgeoptError(
            f"{what} sparsity {value!r} is outside [0, 1)",
            hint="give the fraction of weights to zero, e.g. 0.8 for 80%",
        )
    return float(value)


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)

