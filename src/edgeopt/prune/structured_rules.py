"""Channel dependency rules: which channels of which layers must be pruned together.

The traced graph is run on a real example input, and beside every activation runs a *slot map*:
an int64 tensor of the same shape whose elements name the channel ("slot") each element comes
from. A Conv2d or Linear creates fresh slots for its outputs; every other op is applied to the
slot map the way it is applied to the activation, so views, transposes, concatenation and
flattening move slots exactly as they move data (channel shuffle included). Elementwise ops
between tensors join the slots they meet (a residual add ties the channels of both branches; an
SE gate ties its channels to the ones it scales). Slots are kept in a union-find; slot 0 is
*pinned*: anything joined to it cannot be pruned. The network's inputs and outputs, parameters
read directly, and every op without a rule here are pinned — never guessed.

Example:
    >>> interp = SlotInterpreter(trace_for_pruning(model))
    >>> interp.run(torch.zeros(1, 3, 32, 32))
    >>> interp.layers["features.0.0"].out_slots[:4]
    [5, 6, 7, 8]
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, fx, nn

from edgeopt.utils.tensors import flat_tensors

PINNED = 0

PASSTHROUGH_MODULES = (
    nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.ELU, nn.SiLU, nn.GELU, nn.Hardswish, nn.Hardsigmoid,
    nn.Sigmoid, nn.Tanh, nn.Mish, nn.Hardtanh, nn.Softplus, nn.Dropout, nn.Dropout2d, nn.Identity,
)
SPATIAL_MODULES = (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d, nn.AvgPool2d, nn.MaxPool2d, nn.Upsample)
PASSTHROUGH_OPS = frozenset({
    "relu", "relu_", "relu6", "hardtanh", "hardtanh_", "sigmoid", "sigmoid_", "tanh", "silu",
    "hardswish", "hardsigmoid", "gelu", "leaky_relu", "elu", "mish", "softplus", "dropout",
    "dropout2d", "contiguous", "clone", "clamp", "clamp_", "clamp_min", "float", "to", "detach",
    "abs", "neg", "exp",
})
ELEMENTWISE_OPS = frozenset({
    "add", "add_", "iadd", "sub", "sub_", "isub", "mul", "mul_", "imul", "truediv", "div",
    "div_", "itruediv", "maximum", "minimum",
})
SPATIAL_OPS = frozenset({"adaptive_avg_pool2d", "adaptive_max_pool2d", "avg_pool2d", "max_pool2d",
                         "interpolate"})
REDUCE_OPS = frozenset({"mean", "sum", "amax", "amin"})
MOVE_OPS = frozenset({"flatten", "permute", "transpose", "squeeze", "unsqueeze", "t", "expand"})
VIEW_OPS = frozenset({"view", "reshape"})
CAT_OPS = frozenset({"cat", "concat", "concatenate", "stack"})


class SlotSets:
    """Union-find over slots; slot 0 (pinned) always stays its set's root."""

    def __init__(self) -> None:
        self.parent = [PINNED]

    def new(self, n: int) -> list[int]:
        start = len(self.parent)
        self.parent.extend(range(start, start + n))
        return list(range(start, start + n))

    def find(self, s: int) -> int:
        root = s
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[s] != root:  # path compression
            self.parent[s], s = root, self.parent[s]
        return root

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            if ra == PINNED:
                ra, rb = rb, ra
            self.parent[ra] = rb

    def union_all(self, slots: list[int]) -> None:
        for s in slots[1:]:
            self.union(slots[0], s)

    def pin(self, slots: Tensor | list[int]) -> None:
        values = torch.unique(slots).tolist() if isinstance(slots, Tensor) else slots
        for s in values:
            self.union(s, PINNED)


@dataclass
class LayerUse:
    """How one Conv2d / Linear / BatchNorm module's channels map to slots.

    Attributes:
        name: Qualified module name.
        module: The module (in the traced copy).
        out_slots: Slot of each output channel (Conv2d/Linear) or of each channel (BatchNorm).
        in_slots: Slot of each input channel (Conv2d) or input feature (Linear); empty for BN.
    """

    name: str
    module: nn.Module
    out_slots: list[int]
    in_slots: list[int] = field(default_factory=list)


def _varies(m: Tensor, dim: int) -> bool:
    return m.shape[dim] > 1 and bool((m.amax(dim) != m.amin(dim)).any())


def _pinned_like(value: Any) -> Any:
    """A slot map of pinned slots with the structure of a result (None where no tensor)."""
    if isinstance(value, Tensor):
        return torch.zeros(value.shape, dtype=torch.long)
    if isinstance(value, (list, tuple)):
        return [_pinned_like(v) for v in value]
    return None


def _name_of(n: fx.Node) -> str:
    return n.target if isinstance(n.target, str) else getattr(n.target, "__name__", str(n.target))


class SlotInterpreter(fx.Interpreter):
    """Runs the traced model and its slot maps side by side, recording layer uses and ties."""

    def __init__(self, gm: fx.GraphModule) -> None:
        super().__init__(gm)
        self.sets = SlotSets()
        self.maps: dict[str, Any] = {}
        self.layers: dict[str, LayerUse] = {}
        self.unknown: dict[str, str] = {}  # node name -> op that had no rule (its channels pinned)

    def run_node(self, n: fx.Node) -> Any:
        args, kwargs = self.fetch_args_kwargs_from_env(n)
        result = getattr(self, n.op)(n.target, args, kwargs)
        if n.op == "output":
            for m in flat_tensors(self._in_maps(n.args)):
                self.sets.pin(m)  # the network's outputs are never pruned
        else:
            value = self._slot_map(n, args, result)
            # contiguous like the activations it shadows, so `view` works on both alike
            self.maps[n.name] = value.contiguous() if isinstance(value, Tensor) else value
        for dead in self.user_to_last_uses.get(n, []):
            self.maps.pop(dead.name, None)
        return result

    # --- dispatch ---------------------------------------------------------------------------

    def _in_maps(self, value: Any) -> Any:
        """Replace nodes by their slot maps (tensor nodes) or their real values (others)."""
        return fx.node.map_arg(value, lambda a: self.maps[a.name] if self.maps.get(a.name) is not None
                               else self.env[a])

    def _slot_map(self, n: fx.Node, args: tuple[Any, ...], result: Any) -> Any:
        if n.op in ("placeholder", "get_attr"):
            return _pinned_like(result)
        if not flat_tensors(result):
            return None  # sizes, shapes, flags: they constrain no channel
        maps = self._in_maps(n.args)
        kwargs = self._in_maps(n.kwargs)
        if n.op == "call_module":
            module = self.module.get_submodule(str(n.target))
            return self._module_rule(str(n.target), module, maps, result)
        rule = self._op_rule(n)
        if rule is None:
            return self._unknown(n, _name_of(n), maps, kwargs, result)
        out = rule(n, maps, kwargs, result)
        if out is None or (isinstance(out, Tensor) and (not isinstance(result, Tensor) or out.shape != result.shape)):
            return self._unknown(n, _name_of(n), maps, kwargs, result)
        return out

    def _unknown(self, n: fx.Node, what: str, maps: Any, kwargs: Any, result: Any) -> Any:
        for m in flat_tensors(maps) + flat_tensors(kwargs):
            self.sets.pin(m)
        self.unknown[n.name] = what
        return _pinned_like(result)

    def _op_rule(self, n: fx.Node) -> Callable[..., Any] | None:
        name = _name_of(n)
        if n.target is operator.getitem:
            return self._getitem
        for names, rule in ((PASSTHROUGH_OPS, self._passthrough), (ELEMENTWISE_OPS, self._elementwise),
                            (SPATIAL_OPS, self._spatial_op), (REDUCE_OPS, self._reduce),
                            (MOVE_OPS, self._move), (VIEW_OPS, self._view), (CAT_OPS, self._move)):
            if name in names:
                return rule
        return None

    # --- modules ----------------------------------------------------------------------------

    def _module_rule(self, name: str, module: nn.Module, maps: Any, result: Any) -> Any:
        x = maps[0] if maps and isinstance(maps[0], Tensor) else None
        if x is None or len(flat_tensors(maps)) != 1 or not isinstance(result, Tensor):
            return self._unknown_module(name, module, maps, result)
        # Exact types: a subclass may do more in forward than the rebuilt plain module would.
        if type(module) is nn.Conv2d and module.padding_mode == "zeros":
            return self._conv(name, module, x, result)
        if type(module) is nn.Linear:
            return self._linear(name, module, x, result)
        if type(module) in (nn.BatchNorm1d, nn.BatchNorm2d):
            self._record(name, module, self.channel_slots(x, 1), [])
            return x
        if isinstance(module, PASSTHROUGH_MODULES) and result.shape == x.shape:
            return x
        if isinstance(module, SPATIAL_MODULES):
            return self._spatial(x, result)
        if isinstance(module, nn.Flatten):
            return torch.flatten(x, module.start_dim, module.end_dim)
        return self._unknown_module(name, module, maps, result)

    def _unknown_module(self, name: str, module: nn.Module, maps: Any, result: Any) -> Any:
        for m in flat_tensors(maps):
            self.sets.pin(m)
        self.unknown[name] = type(module).__name__
        return _pinned_like(result)

    def _conv(self, name: str, conv: nn.Conv2d, x: Tensor, y: Tensor) -> Tensor:
        in_slots = self.channel_slots(x, 1)
        g, out = conv.groups, conv.out_channels
        cin_g, cout_g = conv.in_channels // g, out // g
        if g > 1 and cin_g == 1:  # depthwise (any multiplier): an input channel owns its group
            out_slots = [in_slots[p // cout_g] for p in range(out)]
        elif g > 1:  # grouped: prune the same within-group channels of every group
            for b in range(cin_g):
                self.sets.union_all([in_slots[a * cin_g + b] for a in range(g)])
            fresh = self.sets.new(cout_g)
            out_slots = [fresh[p % cout_g] for p in range(out)]
        else:
            out_slots = self.sets.new(out)
        out_slots = self._record(name, conv, out_slots, in_slots)
        return torch.tensor(out_slots).view(1, out, 1, 1).expand(y.shape)

    def _linear(self, name: str, linear: nn.Linear, x: Tensor, y: Tensor) -> Tensor:
        in_slots = self.channel_slots(x, -1)
        out_slots = self._record(name, linear, self.sets.new(linear.out_features), in_slots)
        return torch.tensor(out_slots).expand(y.shape)

    def _record(self, name: str, module: nn.Module, out_slots: list[int], in_slots: list[int]) -> list[int]:
        """Note a layer use; a module called again must prune the same channels each time."""
        first = self.layers.get(name)
        if first is None:
            self.layers[name] = LayerUse(name, module, out_slots, in_slots)
            return out_slots
        for a, b in zip(first.out_slots, out_slots, strict=True):  # the same module: the same channels
            self.sets.union(a, b)
        for a, b in zip(first.in_slots, in_slots, strict=True):
            self.sets.union(a, b)
        return first.out_slots

    def channel_slots(self, m: Tensor, dim: int) -> list[int]:
        """The slot of each index along ``dim``; an index whose elements disagree is pinned."""
        flat = m.movedim(dim, 0).reshape(m.shape[dim], -1)
        lo, hi = flat.amin(1), flat.amax(1)
        mixed = lo != hi
        if bool(mixed.any()):
            self.sets.pin(flat[mixed])
            lo = lo.masked_fill(mixed, PINNED)
        return lo.tolist()

    # --- functions and methods --------------------------------------------------------------

    def _passthrough(self, n: fx.Node, maps: Any, kwargs: Any, result: Any) -> Any:
        return maps[0]

    def _elementwise(self, n: fx.Node, maps: Any, kwargs: Any, result: Tensor) -> Tensor:
        """Join the slots elements meet; an operand broadcast across varying slots is pinned."""
        ms = [m for m in list(maps) + list(kwargs.values()) if isinstance(m, Tensor)]
        shape = result.shape
        full = [m.expand(shape) for m in ms]
        kept = []
        for i, m in enumerate(ms):
            aligned = m.reshape((1,) * (len(shape) - m.dim()) + tuple(m.shape))
            spread = [d for d in range(len(shape)) if aligned.shape[d] == 1 and shape[d] > 1]
            if any(_varies(full[j], d) for j in range(len(ms)) if j != i for d in spread):
                self.sets.pin(m)  # one value serves many channels: it cannot follow any of them
            else:
                kept.append(full[i])
        if not kept:
            return torch.zeros(shape, dtype=torch.long)
        for other in kept[1:]:
            pairs = torch.unique((kept[0].reshape(-1) << 32) | other.reshape(-1)).tolist()
            for key in pairs:
                self.sets.union(key >> 32, key & 0xFFFFFFFF)
        return kept[0]

    def _spatial(self, x: Tensor, y: Tensor) -> Tensor:
        """Pooling / resizing: each output channel comes from the same input channel."""
        if y.dim() < 2 or y.shape[1] != x.shape[1]:
            self.sets.pin(x)
            return torch.zeros(y.shape, dtype=torch.long)
        slots = torch.tensor(self.channel_slots(x, 1))
        return slots.view(1, -1, *([1] * (y.dim() - 2))).expand(y.shape)

    def _spatial_op(self, n: fx.Node, maps: Any, kwargs: Any, result: Any) -> Any:
        if not isinstance(result, Tensor) or not isinstance(maps[0], Tensor):
            return None
        return self._spatial(maps[0], result)

    def _reduce(self, n: fx.Node, maps: Any, kwargs: Any, result: Tensor) -> Tensor | None:
        x: Tensor = maps[0]
        dims = kwargs.get("dim", maps[1] if len(maps) > 1 else None)
        keepdim = kwargs.get("keepdim", maps[2] if len(maps) > 2 else False)
        if dims is None or isinstance(dims, Tensor):
            return None
        dims = [dims] if isinstance(dims, int) else list(dims)
        if any(_varies(x, d) for d in dims):
            return None  # a sum across channels: unknown territory, pinned by the caller
        return x.amax(dim=dims, keepdim=bool(keepdim))

    def _move(self, n: fx.Node, maps: Any, kwargs: Any, result: Any) -> Any:
        """Data movement: apply the very same op to the slot map."""
        target = n.target
        if n.op == "call_method" or isinstance(target, str):
            return getattr(maps[0], str(target))(*maps[1:], **kwargs)
        return target(*maps, **kwargs)

    def _view(self, n: fx.Node, maps: Any, kwargs: Any, result: Tensor) -> Tensor:
        """view/reshape: a size written as a literal on a channel dim must stay that size.

        ``x.view(b, groups, c // groups, h, w)`` (channel shuffle) keeps ``groups`` whole, so the
        channels at the same place in every group are tied; a literal with no free channel dim
        beside it (``x.view(1, 512)``) would break after pruning, so those channels are pinned.
        """
        out: Tensor = self._move(n, maps, kwargs, result)
        if "shape" in n.kwargs or "size" in n.kwargs:
            size_arg = n.kwargs.get("shape", n.kwargs.get("size"))
            sizes = list(size_arg) if isinstance(size_arg, (tuple, list)) else [size_arg]
        elif len(n.args) == 2 and isinstance(n.args[1], (tuple, list)):
            sizes = list(n.args[1])
        else:
            sizes = list(n.args[1:])
        varying = [d for d in range(out.dim()) if _varies(out, d)]
        fixed = [d for d in varying if d < len(sizes) and isinstance(sizes[d], int) and sizes[d] != -1]
        if not fixed:
            return out
        if len(fixed) == len(varying):
            self.sets.pin(out)
            return out
        for d in fixed:
            rows = torch.unique(out.movedim(d, -1).reshape(-1, out.shape[d]), dim=0)
            for row in rows.tolist():
                self.sets.union_all(row)
        return out

    def _getitem(self, n: fx.Node, maps: Any, kwargs: Any, result: Any) -> Any:
        source, index = maps[0], maps[1]
        if not isinstance(source, Tensor):
            return source[index] if isinstance(source, (list, tuple)) else None
        items = index if isinstance(index, tuple) else (index,)
        simple = all(isinstance(i, (slice, int)) for i in items)
        for d, item in enumerate(items if simple else range(source.dim())):
            if (not simple or item != slice(None)) and _varies(source, d):
                self.sets.pin(source)  # positions change when channels go: cannot follow
                return torch.zeros(result.shape, dtype=torch.long)
        return source[index]
