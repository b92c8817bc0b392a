"""What a fusion pattern is: a BatchNorm node, the layer that feeds it, and an optional activation.

Every pattern starts from a BatchNorm ``call_module`` node and looks at its producer (the node
feeding it) and, for the labels with an activation, at its only consumer. Patterns only *claim*
candidates; whether a fold is exact is decided once for all of them in :mod:`.safety`, and the
weights are folded in :mod:`.fold`. Each concrete pattern lives in its own file (``conv_bn``,
``conv_bn_act``, ``depthwise_bn``, ``linear_bn``).

Example:
    >>> candidate = ConvBN().claim(bn_node, modules)
    >>> candidate.label, candidate.module_names
    ('conv_bn', ('features.0', 'features.1'))
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

import torch
import torch.nn.functional as F
from torch import fx, nn
from torch.fx.node import Target

CONV_TYPES = (nn.Conv1d, nn.Conv2d, nn.Conv3d)
BATCHNORM_TYPES = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.SyncBatchNorm)
# The layers a BatchNorm folds into (not transposed convs: their weights are laid out in/out).
FoldableLayer: TypeAlias = nn.Linear | nn.Conv1d | nn.Conv2d | nn.Conv3d

# Activations that may follow the BatchNorm. They stay in the graph after the folded layer (see
# docs/fusion.md): only the label records them.
_ACTIVATION_MODULES: dict[type[nn.Module], str] = {nn.ReLU: "relu", nn.ReLU6: "relu6"}
_ACTIVATION_FUNCTIONS: dict[Target, str] = {F.relu: "relu", torch.relu: "relu", torch.relu_: "relu", F.relu6: "relu6"}
_ACTIVATION_METHODS = {"relu": "relu", "relu_": "relu"}

Modules = dict[str, nn.Module]


@dataclass(frozen=True)
class Candidate:
    """A BatchNorm node with the conv/linear node feeding it, claimed by a pattern.

    Attributes:
        label: The fusion's pattern name, e.g. ``depthwise_conv_bn_relu6``.
        producer: The ``call_module`` node of the conv or linear layer.
        bn: The BatchNorm ``call_module`` node.
        activation: The activation node after the BatchNorm, if the label names one.
    """

    label: str
    producer: fx.Node
    bn: fx.Node
    activation: fx.Node | None = None

    @property
    def module_names(self) -> tuple[str, ...]:
        """Qualified names of the matched modules (a functional activation: its node name)."""
        names = [str(self.producer.target), str(self.bn.target)]
        if self.activation is not None:
            act = self.activation
            names.append(str(act.target) if act.op == "call_module" else act.name)
        return tuple(names)


class Pattern:
    """Base class: a named rule that claims (producer, BatchNorm[, activation]) candidates."""

    name: str = ""

    def claim(self, bn: fx.Node, modules: Modules) -> Candidate | None:
        """Return a :class:`Candidate` if this pattern describes ``bn`` and its producer."""
        raise NotImplementedError


def module_of(node: object, modules: Modules) -> nn.Module | None:
    """The module a ``call_module`` node calls (None for other nodes and non-node arguments)."""
    if isinstance(node, fx.Node) and node.op == "call_module":
        return modules.get(str(node.target))
    return None


def producer_of(bn: fx.Node) -> fx.Node | None:
    """The node whose output the BatchNorm normalises (its first argument)."""
    return bn.args[0] if bn.args and isinstance(bn.args[0], fx.Node) else None


def is_depthwise(conv: nn.Module | None) -> bool:
    """A conv with one group per input channel (``groups == in_channels > 1``)."""
    return isinstance(conv, CONV_TYPES) and conv.groups > 1 and conv.groups == conv.in_channels


def activation_after(bn: fx.Node, modules: Modules) -> tuple[fx.Node, str] | None:
    """The ReLU/ReLU6 that is the BatchNorm's only consumer, and its name, if there is one."""
    if len(bn.users) != 1:
        return None
    user = next(iter(bn.users))
    if user.args[:1] != (bn,):
        return None
    module = module_of(user, modules)
    name = _ACTIVATION_MODULES.get(type(module)) if module is not None else None
    if user.op == "call_function":
        name = _ACTIVATION_FUNCTIONS.get(user.target)
    elif user.op == "call_method":
        name = _ACTIVATION_METHODS.get(str(user.target))
    return (user, name) if name else None
