"""Channel dependency analysis: groups of channels that must be pruned together.

A *unit* is one prunable channel: removing it removes a slice of every coupled layer (an output
row of each conv that produces it, the BatchNorm entries that normalise it, the input columns of
each conv or linear that reads it — for a flattened feature map, all its spatial positions). A
:class:`ChannelGroup` is the set of units that share producing layers: the channels of one conv,
or of every conv on a residual path tied by the adds. The rules live in
:mod:`edgeopt.prune.structured_rules`; this module runs them and sums up the result.

Example:
    >>> graph = analyse(model, torch.zeros(1, 3, 224, 224))
    >>> [(g.channels, g.producers) for g in graph.groups][:2]
    [(32, ('features.0.0',)), (16, ('features.1.conv.1',))]
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from edgeopt.errors import EdgeoptError, suggest
from edgeopt.prune.structured_rules import PINNED, LayerUse, SlotInterpreter, SlotSets
from edgeopt.prune.structured_trace import trace_for_pruning


@dataclass(frozen=True)
class ChannelGroup:
    """Channels pruned together, and the layers they run through.

    Attributes:
        index: Position in execution order.
        units: The group's prunable channels (unit ids, stable within one analysis).
        producers: Conv2d/Linear modules whose output channels these are.
        layers: Every module that loses a slice when a unit goes (producers, BatchNorms,
            depthwise convs, consumers).
        multiplicity: Output channels per unit in the producers (the group count of a grouped
            conv whose channels are pruned in every group alike; 1 otherwise).
    """

    index: int
    units: tuple[int, ...]
    producers: tuple[str, ...]
    layers: tuple[str, ...]
    multiplicity: int = 1

    @property
    def channels(self) -> int:
        """Number of prunable units in the group."""
        return len(self.units)

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable summary."""
        return {"index": self.index, "channels": self.channels, "producers": list(self.producers),
                "layers": list(self.layers), "multiplicity": self.multiplicity}


@dataclass
class ChannelGraph:
    """The analysis of one model: per-layer units, the groups, and what was left unprunable.

    Attributes:
        layers: Module name -> its use, slots resolved to unit ids (0 = pinned, unprunable).
        groups: The prunable channel groups, in execution order.
        unknown_ops: Node/module -> op without a channel rule (its channels were pinned).
    """

    layers: dict[str, LayerUse]
    groups: list[ChannelGroup]
    unknown_ops: dict[str, str] = field(default_factory=dict)

    def group_of(self) -> dict[int, int]:
        """Unit -> index of its group."""
        return {u: g.index for g in self.groups for u in g.units}


def check_exclude(model: nn.Module, exclude: Iterable[str] | None) -> list[str]:
    """Return ``exclude`` as a list, raising if a name is not a submodule of ``model``."""
    names = list(exclude or [])
    if isinstance(exclude, str):
        names = [exclude]
    modules = dict(model.named_modules())
    for name in names:
        if name not in modules or not name:
            raise EdgeoptError(f"exclude names {name!r}, which is not a module of the model",
                               hint=suggest(name, [m for m in modules if m]) or
                               "list module names with model.named_modules()")
    return names


def analyse(model: nn.Module, example_input: Tensor, exclude: Iterable[str] | None = None) -> ChannelGraph:
    """Trace ``model`` and find its prunable channel groups (the model is not changed).

    Args:
        model: The model. A deep copy is traced and run in eval mode.
        example_input: An input batch (only its first sample is used).
        exclude: Qualified module names kept whole: traced as one opaque op, channels unpruned.

    Raises:
        EdgeoptError: A name in ``exclude`` does not exist, the model cannot be traced (the
            message names the module), or it does not run on ``example_input``.
    """
    names = check_exclude(model, exclude)
    work = copy.deepcopy(model).eval()
    gm = trace_for_pruning(work, names)
    interpreter = SlotInterpreter(gm)
    with torch.no_grad():
        try:
            interpreter.run(example_input[:1])
        except Exception as error:  # the model itself fails on this input: user error
            raise EdgeoptError(f"the model does not run on an input of shape "
                               f"{tuple(example_input.shape)}: {error}",
                               hint="pass an example input of the shape the model expects") from error
    return _summarise(interpreter.layers, interpreter.sets, interpreter.unknown)


def channel_groups(model: nn.Module, example_input: Tensor,
                   exclude: Iterable[str] | None = None) -> list[ChannelGroup]:
    """The prunable channel groups of ``model`` (see :func:`analyse`).

    Example:
        >>> groups = channel_groups(create_model("mobilenet_v2"), torch.zeros(1, 3, 224, 224))
        >>> sum(g.channels for g in groups) > 0
        True
    """
    return analyse(model, example_input, exclude).groups


def _summarise(uses: dict[str, LayerUse], sets: SlotSets, unknown: dict[str, str]) -> ChannelGraph:
    layers = {name: LayerUse(name, use.module, [sets.find(s) for s in use.out_slots],
                             [sets.find(s) for s in use.in_slots]) for name, use in uses.items()}
    grouping = SlotSets()  # units -> groups: union the units one producer creates
    unit_ids: dict[int, int] = {}

    def local(unit: int) -> int:
        if unit not in unit_ids:
            unit_ids[unit] = grouping.new(1)[0]
        return unit_ids[unit]

    for use in layers.values():
        grouping.union_all([local(u) for u in use.out_slots if u != PINNED])
    members: dict[int, list[int]] = {}
    for unit in unit_ids:  # insertion order = execution order
        members.setdefault(grouping.find(unit_ids[unit]), []).append(unit)
    groups = [_group(i, units, layers) for i, units in enumerate(members.values())]
    return ChannelGraph(layers, groups, dict(unknown))


def _group(index: int, units: list[int], layers: dict[str, LayerUse]) -> ChannelGroup:
    unit_set = set(units)
    producers, touched, multiplicity = [], [], 1
    for name, use in layers.items():
        outs = [u for u in use.out_slots if u in unit_set]
        if outs and isinstance(use.module, (nn.Conv2d, nn.Linear)) and set(use.in_slots).isdisjoint(unit_set):
            producers.append(name)
        if outs:
            multiplicity = max(multiplicity, len(outs) // len(set(outs)))
        if outs or unit_set.intersection(use.in_slots):
            touched.append(name)
    return ChannelGroup(index, tuple(units), tuple(producers), tuple(touched), multiplicity)
