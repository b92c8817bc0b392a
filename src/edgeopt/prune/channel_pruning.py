"""Structured channel pruning: remove whole channels and rebuild smaller layers.

Steps: analyse channel dependencies on the traced graph (:mod:`edgeopt.prune.graph`), score the
channels (:mod:`edgeopt.prune.importance`), choose which go (:mod:`edgeopt.prune.structured_select`),
rebuild smaller modules (:mod:`edgeopt.prune.rebuild`) — then *check* the result: the pruned
model must compute exactly what the original computes once the removed channels' contributions
are zeroed. A model whose code reads channel positions in a way the analysis did not follow
fails that check with a clear error instead of silently computing something else.

Example:
    >>> small = structured(model, 0.5, torch.zeros(1, 1, 28, 28), importance="l1", round_to=8)
    >>> profile(small, input_size=(1, 1, 28, 28)).macs < profile(model, input_size=(1, 1, 28, 28)).macs
    True
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from torch import Tensor, nn
from torch.utils.data import Dataset

from edgeopt.errors import EdgeoptError, suggest
from edgeopt.prune.graph import ChannelGraph, analyse
from edgeopt.prune.importance import channel_importance, check_criterion
from edgeopt.prune.rebuild import conv_layout, rebuild
from edgeopt.prune.structured_select import SCOPES, select_units
from edgeopt.utils.modes import preserve_modes
from edgeopt.utils.tensors import flat_tensors


@dataclass
class StructuredReport:
    """What one structured pruning call removed.

    Attributes:
        ratio, importance, scope, round_to: The settings.
        groups: Prunable channel groups found.
        channels_before, channels_after: Prunable channels (units) before and after.
        per_group: ``{index, producers, before, after}`` per group.
        unprunable_ops: Ops without a channel rule, whose channels were left whole.
        check_max_abs_diff: Largest difference between the pruned model and the original with the
            removed channels zeroed, on the example input (the self-check; ~1e-6 is float noise).
    """

    ratio: float
    importance: str
    scope: str
    round_to: int | None
    groups: int
    channels_before: int
    channels_after: int
    per_group: list[dict[str, Any]] = field(default_factory=list)
    unprunable_ops: dict[str, str] = field(default_factory=dict)
    check_max_abs_diff: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form."""
        return asdict(self)


def structured(model: nn.Module, ratio: float, example_input: Tensor, importance: str = "l1", *,
               scope: str = "uniform", round_to: int | None = None,
               exclude: Iterable[str] | None = None, data: Dataset[Any] | None = None) -> nn.Module:
    """Remove ``ratio`` of the prunable channels and return a new, smaller ``nn.Module``.

    The input model is not changed. The output shape stays the same: the network's inputs and
    outputs, and channels flowing through ops edgeopt has no rule for, are never pruned.

    Args:
        model: The model (traceable by torch.fx, apart from excluded modules).
        ratio: Fraction of channels to remove, in [0, 1).
        example_input: An input batch of the right shape, e.g. ``torch.zeros(1, 3, 224, 224)``.
        importance: ``l1``, ``l2``, ``bn_scale`` or ``taylor`` (needs ``data``).
        scope: ``uniform`` (every group loses ``ratio`` of its channels) or ``global`` (least
            important channels across all groups, scores normalised per group).
        round_to: Keep channel counts multiples of this (8 or 16 suit vectorised kernels).
        exclude: Qualified names of modules to keep whole (and to not trace into).
        data: ``(input, label)`` dataset for the ``taylor`` criterion.

    Raises:
        EdgeoptError: A bad ratio, scope, criterion, round_to or exclude name; an untraceable
            model (naming the module to exclude); or a failed self-check.

    Example:
        >>> small = structured(create_model("mobilenet_v2"), 0.5, torch.zeros(1, 3, 224, 224))
    """
    return structured_with_report(model, ratio, example_input, importance, scope=scope,
                                  round_to=round_to, exclude=exclude, data=data)[0]


def structured_with_report(model: nn.Module, ratio: float, example_input: Tensor, importance: str = "l1", *,
                           scope: str = "uniform", round_to: int | None = None,
                           exclude: Iterable[str] | None = None,
                           data: Dataset[Any] | None = None) -> tuple[nn.Module, StructuredReport]:
    """:func:`structured`, also returning a :class:`StructuredReport`."""
    _check_settings(ratio, scope, round_to)
    check_criterion(importance)
    if not isinstance(example_input, Tensor):
        raise EdgeoptError("example_input must be a tensor", hint="e.g. torch.zeros(1, 3, 224, 224)")
    graph = analyse(model, example_input, exclude)
    scores = channel_importance(model, graph, importance, data=data)
    pruned_units = select_units(graph.groups, scores, ratio, scope, round_to)
    small = rebuild(copy.deepcopy(model), graph, pruned_units)
    diff = check_pruned(model, small, graph, pruned_units, example_input)
    report = StructuredReport(
        ratio=float(ratio), importance=importance, scope=scope, round_to=round_to,
        groups=len(graph.groups),
        channels_before=sum(g.channels for g in graph.groups),
        channels_after=sum(g.channels for g in graph.groups) - len(pruned_units),
        per_group=[{"index": g.index, "producers": list(g.producers), "before": g.channels,
                    "after": g.channels - len(pruned_units.intersection(g.units))} for g in graph.groups],
        unprunable_ops=dict(graph.unknown_ops), check_max_abs_diff=diff,
    )
    return small, report


def _check_settings(ratio: float, scope: str, round_to: int | None) -> None:
    if isinstance(ratio, bool) or not isinstance(ratio, (int, float)) or not 0 <= ratio < 1:
        raise EdgeoptError(f"pruning ratio must be in [0, 1), got {ratio!r}",
                           hint="e.g. 0.5 removes half of the channels")
    if scope not in SCOPES:
        raise EdgeoptError(f"unknown pruning scope {scope!r}",
                           hint=suggest(str(scope), SCOPES) or f"use one of {SCOPES}")
    if round_to is not None and (isinstance(round_to, bool) or not isinstance(round_to, int) or round_to < 1):
        raise EdgeoptError(f"round_to must be a positive integer or None, got {round_to!r}", hint="e.g. 8 or 16")


def masked_copy(model: nn.Module, graph: ChannelGraph, pruned: set[int]) -> nn.Module:
    """A copy of ``model`` whose layers ignore the pruned channels (their input columns zeroed)."""
    masked = copy.deepcopy(model)
    with torch.no_grad():
        for name, use in graph.layers.items():
            module = masked.get_submodule(name)
            gone = [p for p, unit in enumerate(use.in_slots) if unit in pruned]
            if not gone:
                continue
            if isinstance(module, nn.Linear):
                module.weight[:, gone] = 0
            elif isinstance(module, nn.Conv2d):
                g, cin_g, cout_g = conv_layout(module)
                if g > 1 and cin_g == 1:
                    continue  # depthwise: its pruned inputs are pruned outputs, zeroed downstream
                view = module.weight.view(g, cout_g, cin_g, *module.weight.shape[2:])
                for p in gone:
                    view[p // cin_g, :, p % cin_g] = 0
    return masked


def check_pruned(original: nn.Module, small: nn.Module, graph: ChannelGraph, pruned: set[int],
                 example_input: Tensor) -> float:
    """Compare ``small`` with the masked original on ``example_input``; return the max difference.

    Raises:
        EdgeoptError: Output shapes differ or the values disagree beyond float rounding.
    """
    masked = masked_copy(original, graph, pruned)
    with torch.no_grad(), preserve_modes(masked), preserve_modes(small):
        reference = flat_tensors(masked.eval()(example_input))
        got = flat_tensors(small.eval()(example_input))
    if len(reference) != len(got):
        raise EdgeoptError("structured pruning changed the number of outputs")
    worst = 0.0
    for ref, out in zip(reference, got, strict=True):
        if ref.shape != out.shape:
            raise EdgeoptError(f"structured pruning changed an output shape {tuple(ref.shape)} -> "
                               f"{tuple(out.shape)}", hint="exclude the module that builds that output")
        diff = float((ref - out).abs().max()) if ref.numel() else 0.0
        worst = max(worst, diff)
        if diff > 1e-3 * float(ref.abs().max()) + 1e-7:  # relative: float rounding, not mistakes
            raise EdgeoptError(
                f"the pruned model computes something other than the original (max difference "
                f"{diff:.3g}): an op reads channel positions in a way edgeopt did not follow",
                hint="exclude the module with such an op (e.g. custom indexing or reshapes)")
    return worst


