"""Iterative structured pruning: prune a little, fine-tune, repeat.

Removing half of the channels at once costs more accuracy than removing them in steps with
fine-tuning between (the network recovers around each cut). The per-round ratio is chosen so
the channels left after ``rounds`` rounds are ``1 - ratio`` of the original:
``(1 - r) ** rounds = 1 - ratio``.

Example:
    >>> small, history = iterative_structured(model, 0.5, torch.zeros(1, 1, 28, 28),
    ...                                       splits.train, splits.val, TrainConfig(epochs=2), rounds=2)
    >>> [row["round"] for row in history]
    [1, 2]
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypedDict

from torch import Tensor, nn
from torch.utils.data import Dataset

from edgeopt.analysis import profile
from edgeopt.errors import EdgeoptError
from edgeopt.prune.bn_recalibration import recalibrate_batchnorm
from edgeopt.prune.channel_pruning import structured_with_report
from edgeopt.train import TrainConfig, evaluate, fit


class PruningRound(TypedDict):
    """One row of :func:`iterative_structured`'s history (accuracies are None without val data)."""

    round: int
    ratio: float  # of the channels left before the round
    params: int
    macs: int
    channels: int  # prunable channels left
    val_acc_pruned: float | None
    val_acc_finetuned: float | None
    fit: dict[str, Any]  # TrainResult.to_dict()


def iterative_structured(
    model: nn.Module,
    ratio: float,
    example_input: Tensor,
    train: Dataset[Any],
    val: Dataset[Any] | None,
    config: TrainConfig,
    *,
    rounds: int = 1,
    importance: str = "l1",
    scope: str = "uniform",
    round_to: int | None = None,
    exclude: Iterable[str] | None = None,
    importance_data: Dataset[Any] | None = None,
) -> tuple[nn.Module, list[PruningRound]]:
    """Prune ``ratio`` of the channels in ``rounds`` prune → fine-tune rounds (the shared ``fit``).

    Args:
        model: The trained model (not changed).
        ratio: Fraction of channels removed in all, in [0, 1).
        example_input: An input batch of the right shape.
        train: Fine-tuning data (also the ``taylor`` criterion's data).
        val: Validation data (best epoch restored, accuracy recorded), or None.
        config: Fine-tuning hyper-parameters for each round.
        rounds: Number of prune → fine-tune rounds (>= 1).
        importance, scope, round_to, exclude: As in :func:`edgeopt.prune.structured`.
        importance_data: What ``taylor`` scores channels on (default: ``train``).

    Returns:
        The pruned, fine-tuned model and one history row per round (ratio of the round, params,
        MACs, validation accuracy after pruning and after fine-tuning, the fit history).
    """
    if isinstance(rounds, bool) or not isinstance(rounds, int) or rounds < 1:
        raise EdgeoptError(f"rounds must be a positive integer, got {rounds!r}")
    if isinstance(ratio, bool) or not isinstance(ratio, (int, float)) or not 0 <= ratio < 1:
        raise EdgeoptError(f"pruning ratio must be in [0, 1), got {ratio!r}", hint="e.g. 0.5")
    step = 1 - (1 - ratio) ** (1 / rounds)
    current, history = model, list[PruningRound]()
    size = tuple(example_input.shape)
    for index in range(1, rounds + 1):
        current, report = structured_with_report(
            current, step, example_input, importance, scope=scope, round_to=round_to,
            exclude=exclude, data=train if importance_data is None else importance_data)
        recalibrate_batchnorm(current, train)  # stale BN statistics alone take accuracy to chance
        cost = profile(current, input_size=size)
        val_acc_pruned = evaluate(current, val).accuracy if val is not None else None
        result = fit(current, train, val, config)
        history.append({"round": index, "ratio": step, "params": cost.params, "macs": cost.macs,
                        "channels": report.channels_after, "val_acc_pruned": val_acc_pruned,
                        "val_acc_finetuned": result.best_val_acc, "fit": result.to_dict()})
    return current, history
