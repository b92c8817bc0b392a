"""From recorded graph nodes to profile rows: costs, readable names, parameters, peak memory.

Row names are module paths (``features.3.conv``) for module calls; a functional op is named by
the module it ran in plus the op (``layers.2.add``). On the export path an ATen op that is the
only op inside a ``torch.nn`` leaf takes the leaf's path and class (``bn``, ``BatchNorm2d``),
so both tracers give the same rows for the same model.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from typing import Any

from torch import fx, nn

from edgeopt.analysis.counting import OpCost, TensorInfo, function_cost, module_cost
from edgeopt.analysis.memory import Step, peak_memory
from edgeopt.analysis.results import LayerCost, ModelProfile
from edgeopt.analysis.tracing import NodeRecord, ParamKey, is_torch_leaf

_RNN_OPS = frozenset({"lstm", "gru", "rnn_tanh", "rnn_relu"})


def scope_of(node: fx.Node) -> str:
    """Path of the innermost module the node ran in ('' at top level)."""
    stack = node.meta.get("nn_module_stack") or {}
    return str(list(stack.values())[-1][0]) if stack else ""


def node_label(node: fx.Node) -> str:
    """A readable name for a node in error messages."""
    if node.op == "call_module":
        return str(node.target)
    scope = scope_of(node)
    return f"{scope}.{node.name}" if scope else node.name


def _leaf_in(model: nn.Module, scope: str) -> nn.Module | None:
    """The ``torch.nn`` leaf module an ATen op ran inside, if any."""
    try:
        module = model.get_submodule(scope) if scope else model
    except AttributeError:
        return None
    return module if is_torch_leaf(module) else None


def _is_row(record: NodeRecord) -> bool:
    """Rows are calls producing tensors; unpacking a tuple (``getitem`` on a list) is not."""
    if not record.node.op.startswith("call_") or not record.outputs:
        return False
    return not (record.op == "getitem" and not isinstance(record.args[0], TensorInfo))


def _cost(record: NodeRecord, leaf: nn.Module | None) -> OpCost:
    if record.module is not None:
        return module_cost(record.module, record.args, record.outputs)
    if record.op in _RNN_OPS and isinstance(leaf, nn.RNNBase):
        return module_cost(leaf, record.args, record.outputs[:1])
    cost = function_cost(record.op, record.args, record.kwargs, record.outputs)
    # An ATen op inside a torch.nn leaf (export path) reads as that module, like fx rows do.
    if leaf is not None and cost.op_type == record.op:
        cost = replace(cost, op_type=type(leaf).__name__)
    return cost


def _unique(base: str, taken: set[str]) -> str:
    name, k = base, 0
    while name in taken:
        k += 1
        name = f"{base}_{k}"
    taken.add(name)
    return name


def _row_name(record: NodeRecord, scope: str, sole_op: bool, taken: set[str]) -> str:
    if record.node.op == "call_module":
        return _unique(str(record.node.target), taken)
    if sole_op:
        return _unique(scope, taken)
    return _unique(f"{scope}.{record.op}" if scope else record.op, taken)


def _new_params(record: NodeRecord, by_name: dict[str, NodeRecord], seen: set[ParamKey]) -> int:
    """Parameters the node owns or reads (via get_attr) that no earlier row counted."""
    owned = [*record.params, *(p for a in record.node.all_input_nodes
                               if a.name in by_name for p in by_name[a.name].params)]
    total = 0
    for key, numel in owned:
        if key not in seen:
            seen.add(key)
            total += numel
    return total


def _input_bytes(record: NodeRecord, by_name: dict[str, NodeRecord],
                 dtype_bytes: int | None) -> int:
    """Bytes of the activations a row reads; get_attr inputs are parameters or buffers."""
    total = 0
    for node in record.node.all_input_nodes:
        if node.op != "get_attr" and node.name in by_name:
            total += sum(o.numel * (dtype_bytes or o.itemsize) for o in by_name[node.name].outputs)
    return total


def _step(record: NodeRecord, dtype_bytes: int | None) -> Step:
    """The node as liveness sees it: fresh output bytes, what it reads, what it aliases."""
    fresh = sum(o.numel * (dtype_bytes or o.itemsize)
                for o, new in zip(record.outputs, record.fresh, strict=True) if new)
    reads = tuple(a.name for a in record.node.all_input_nodes)
    return Step(record.node.name, fresh, reads, record.aliases)


def _output_names(records: list[NodeRecord]) -> list[str]:
    """Names of the nodes whose values the graph returns."""
    if not records:
        return []
    output = next(n for n in reversed(records[0].node.graph.nodes) if n.op == "output")
    return [n.name for n in output.all_input_nodes]


def build_profile(model: nn.Module, records: list[NodeRecord], method: str,
                  size: tuple[Any, ...], dtype_bytes: int | None) -> ModelProfile:
    """Cost every row, attribute parameters once, run the liveness sweep, total it all up.

    Args:
        model: The profiled model (for parameters, buffers and module lookups).
        records: Recorded nodes in execution order.
        method: ``"fx"`` or ``"export"``.
        size: Input shape to report.
        dtype_bytes: Bytes per element to count instead of the real element size.
    """
    by_name = {r.node.name: r for r in records}
    ops_in_scope = Counter(scope_of(r.node) for r in records if _is_row(r))
    seen: set[ParamKey] = set()
    layers: list[LayerCost] = []
    labels: dict[str, str] = {}
    taken: set[str] = set()
    for record in filter(_is_row, records):
        scope = scope_of(record.node)
        leaf = record.module or (_leaf_in(model, scope) if method == "export" else None)
        cost = _cost(record, leaf)
        name = _row_name(record, scope, leaf is not None and ops_in_scope[scope] == 1, taken)
        labels[record.node.name] = name
        shapes = [o.shape for o in record.outputs]
        layers.append(LayerCost(
            name, cost.op_type, shapes[0] if len(shapes) == 1 else tuple(shapes),
            _new_params(record, by_name, seen), cost.macs,
            sum(o.numel * (dtype_bytes or o.itemsize) for o in record.outputs),
            cost.flops_other, alias=not any(record.fresh),
            input_bytes=_input_bytes(record, by_name, dtype_bytes)))
    peak = peak_memory([_step(r, dtype_bytes) for r in records], _output_names(records))
    params = list(model.parameters())  # already unique: shared parameters appear once
    return ModelProfile(
        macs=sum(layer.macs for layer in layers),
        params=sum(p.numel() for p in params),
        param_bytes=sum(p.numel() * (dtype_bytes or p.element_size()) for p in params),
        buffers_bytes=sum(b.numel() * b.element_size() for b in model.buffers()),
        peak_activation_bytes=peak.peak_bytes,
        peak_layer=labels.get(peak.peak_step, peak.peak_step),
        input_size=size, layers=layers,
        flops_other=sum(layer.flops_other for layer in layers), method=method)
