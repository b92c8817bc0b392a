"""How much each prunable channel matters: one score per unit, summed over its coupled layers.

Criteria:

- ``l1`` / ``l2``: the L1 / L2 norm of every weight slice the unit owns — the output filter of
  each conv or linear producing it, and the input column of each conv or linear reading it
  (Li et al. 2017, "Pruning Filters for Efficient ConvNets").
- ``bn_scale``: ``|gamma|`` of the BatchNorms normalising it (Liu et al. 2017, "network
  slimming"); units that meet no BatchNorm fall back to ``l1``.
- ``taylor``: ``|sum(weight * grad)|`` over every slice, the gradients of the loss summed over a
  few batches of ``data`` — the first-order estimate of the loss change when the slice is
  removed (Molchanov et al. 2019).

Example:
    >>> graph = analyse(model, x)
    >>> scores = channel_importance(model, graph, "l1")
    >>> min(scores.values()) >= 0
    True
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset

from edgeopt.errors import EdgeoptError, suggest
from edgeopt.prune.graph import ChannelGraph
from edgeopt.prune.rebuild import conv_layout
from edgeopt.prune.structured_rules import PINNED

IMPORTANCE_CRITERIA: tuple[str, ...] = ("l1", "l2", "bn_scale", "taylor")
TAYLOR_BATCHES = 4
TAYLOR_BATCH_SIZE = 64

# element map, then how a slice's sum becomes a score
_Reducer = tuple[Callable[[Tensor], Tensor], Callable[[Tensor], Tensor]]


def check_criterion(criterion: str) -> str:
    """Return ``criterion`` if known, else raise with a suggestion."""
    if criterion not in IMPORTANCE_CRITERIA:
        raise EdgeoptError(f"unknown importance criterion {criterion!r}",
                           hint=suggest(str(criterion), IMPORTANCE_CRITERIA) or f"use one of {IMPORTANCE_CRITERIA}")
    return criterion


def channel_importance(model: nn.Module, graph: ChannelGraph, criterion: str = "l1",
                       data: Dataset[Any] | None = None, *, batches: int = TAYLOR_BATCHES) -> dict[int, float]:
    """Score every prunable unit of ``graph`` (higher = keep); the model is not changed.

    Args:
        model: The analysed model (module names match ``graph``).
        graph: Its channel analysis (:func:`edgeopt.prune.graph.analyse`).
        criterion: One of :data:`IMPORTANCE_CRITERIA`.
        data: ``(input, label)`` dataset; required by ``taylor``.
        batches: Batches of ``data`` used by ``taylor``.

    Raises:
        EdgeoptError: Unknown criterion, or ``taylor`` without data.
    """
    check_criterion(criterion)
    units = [u for g in graph.groups for u in g.units]
    if criterion == "taylor":
        products = _weight_times_grad(model, data, batches)
        return _slice_scores(model, graph, units, (lambda w: w, torch.abs), products)
    if criterion == "bn_scale":
        return _bn_scores(model, graph, units)
    if criterion == "l2":
        return _slice_scores(model, graph, units, (torch.square, torch.sqrt))
    return _slice_scores(model, graph, units, (torch.abs, lambda s: s))


def _slice_scores(model: nn.Module, graph: ChannelGraph, units: list[int], reducer: _Reducer,
                  products: dict[str, Tensor] | None = None) -> dict[int, float]:
    """Sum, per unit, the score of every weight slice it owns (``products`` replace weights)."""
    elementwise, finish = reducer
    scores = dict.fromkeys(units, 0.0)
    for name, use in graph.layers.items():
        module = model.get_submodule(name)
        if not isinstance(module, (nn.Conv2d, nn.Linear)):
            continue
        weight = products[name] if products is not None else module.weight.detach()
        values = elementwise(weight)
        out_scores = finish(values.flatten(1).sum(1))
        in_scores = _input_scores(module, values, finish)
        for position, unit in enumerate(use.out_slots):
            if unit != PINNED:
                scores[unit] += float(out_scores[position])
        if in_scores is not None:
            for position, unit in enumerate(use.in_slots):
                if unit != PINNED:
                    scores[unit] += float(in_scores[position])
    return scores


def _input_scores(module: nn.Conv2d | nn.Linear, values: Tensor, finish: Callable[[Tensor], Tensor]) -> Tensor | None:
    """Score per input position (conv channel / linear feature); None for depthwise convs."""
    if isinstance(module, nn.Linear):
        return finish(values.sum(0))
    g, cin_g, cout_g = conv_layout(module)
    if g > 1 and cin_g == 1:  # its input channel is its own output channel: counted once
        return None
    per_group = values.reshape(g, cout_g, cin_g, -1).sum((1, 3))  # [group, within-group input]
    return finish(per_group.reshape(-1))


def _bn_scores(model: nn.Module, graph: ChannelGraph, units: list[int]) -> dict[int, float]:
    scores: dict[int, float] = {}
    for name, use in graph.layers.items():
        bn = model.get_submodule(name)
        if isinstance(bn, nn.modules.batchnorm._BatchNorm) and bn.affine:
            for position, unit in enumerate(use.out_slots):
                if unit != PINNED:
                    scores[unit] = scores.get(unit, 0.0) + float(bn.weight.detach()[position].abs())
    missing = [u for u in units if u not in scores]
    if missing:
        fallback = _slice_scores(model, graph, units, (torch.abs, lambda s: s))
        scores.update({u: fallback[u] for u in missing})
    return scores


def _weight_times_grad(model: nn.Module, data: Dataset[Any] | None, batches: int) -> dict[str, Tensor]:
    """Per conv/linear module: ``weight * grad`` with the gradient summed over a few batches.

    Kept signed: the caller sums it over each slice and then takes the absolute value.
    """
    if data is None:
        raise EdgeoptError("the 'taylor' importance needs data to compute gradients",
                           hint="pass data=splits.train (a few batches are used)")
    work = copy.deepcopy(model).eval()  # eval: BN statistics of the user's model stay as they are
    layers = {n: m for n, m in work.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))}
    totals = {n: torch.zeros_like(m.weight) for n, m in layers.items()}
    loader = DataLoader(data, batch_size=TAYLOR_BATCH_SIZE, shuffle=False)
    for index, (inputs, targets) in enumerate(loader):
        if index >= batches:
            break
        work.zero_grad()
        F.cross_entropy(work(inputs), targets).backward()  # type: ignore[no-untyped-call]  # torch: Tensor.backward
        for name, module in layers.items():
            if module.weight.grad is not None:
                totals[name] += module.weight.detach() * module.weight.grad
    return totals
