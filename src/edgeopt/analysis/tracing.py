"""Turn a model into a recorded graph run: torch.fx first, torch.export as the fallback.

Both paths give a :class:`torch.fx.GraphModule` that is run node by node on a real example
input by :class:`RecordingInterpreter`, which notes for every node the shapes of its inputs and
outputs and whether its outputs share storage with an input. Aliasing is read off the real
tensors (same storage = alias), so views, ``reshape`` of contiguous tensors and in-place ops are
recognised exactly, without a hand-kept list of view ops.

* torch.fx (``symbolic_trace`` semantics): standard ``torch.nn`` modules without children are
  leaves, so rows read as the model's own modules (``features.3.conv``).
* torch.export (non-strict): for models fx cannot trace (e.g. shape-dependent Python control
  flow). The graph is ATen ops; ``nn_module_stack`` metadata names the module each op ran in.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import fx, nn

from edgeopt.analysis.counting import TensorInfo, normalize_op_name
from edgeopt.utils.tensors import flat_tensors

ParamKey = tuple[int, tuple[int, ...]]


class NodeFailed(Exception):
    """A node raised while running on the example input."""

    def __init__(self, node: fx.Node, error: BaseException) -> None:
        super().__init__(f"{node.name}: {error}")
        self.node = node
        self.error = error


@dataclass
class NodeRecord:
    """What one executed node did (tensors kept only as shapes and storage addresses).

    Attributes:
        node: The graph node.
        op: Normalized op name (``conv2d``, ``add``) or the module class name for modules.
        module: The called module for ``call_module`` nodes.
        args: Positional arguments, tensors replaced by TensorInfo.
        kwargs: Keyword arguments, tensors replaced by TensorInfo.
        outputs: Tensor outputs, flattened.
        fresh: For each output, whether it owns new storage (False: view or in-place result).
        aliases: Names of input nodes whose storage some output shares.
        storages: Storage addresses of the outputs (for the aliasing test of later nodes).
        params: ``(key, numel)`` of parameters this node owns (module) or fetches (get_attr).
    """

    node: fx.Node
    op: str
    module: nn.Module | None
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    outputs: list[TensorInfo]
    fresh: list[bool]
    aliases: tuple[str, ...]
    storages: frozenset[int]
    params: list[tuple[ParamKey, int]] = field(default_factory=list)


def is_torch_leaf(module: nn.Module) -> bool:
    """A standard ``torch.nn`` module without children: profiled as one row, never traced into.

    Containers and composite modules (``Sequential``, ``MultiheadAttention``) are traced through
    so no multiply-add hides inside a row no rule knows.
    """
    origin = type(module).__module__
    is_torch = origin.startswith(("torch.nn.", "torch.ao.nn."))
    return is_torch and next(module.children(), None) is None


class LeafTracer(fx.Tracer):
    """fx tracer that keeps childless ``torch.nn`` modules as leaves (see :func:`is_torch_leaf`)."""

    def is_leaf_module(self, m: nn.Module, module_qualified_name: str) -> bool:
        return is_torch_leaf(m)


def trace_fx(model: nn.Module, n_inputs: int = 1) -> fx.GraphModule:
    """Symbolically trace ``model`` (raises whatever fx raises if it cannot).

    A bare leaf (``nn.LSTM``, ``nn.Conv2d``) becomes one module call taking ``n_inputs`` inputs,
    so it is costed like the same module inside a bigger model.
    """
    if is_torch_leaf(model):
        return _single_call(model, n_inputs)
    tracer = LeafTracer()
    graph = tracer.trace(model)
    return fx.GraphModule(tracer.root, graph, type(model).__name__)


def _single_call(model: nn.Module, n_inputs: int) -> fx.GraphModule:
    name = type(model).__name__.lower()
    holder = nn.Module()
    holder.add_module(name, model)
    graph = fx.Graph()
    inputs = [graph.placeholder(f"input_{i}") for i in range(n_inputs)]
    graph.output(graph.call_module(name, tuple(inputs)))
    return fx.GraphModule(holder, graph, type(model).__name__)


def trace_export(model: nn.Module, inputs: Sequence[torch.Tensor]) -> fx.GraphModule:
    """Export ``model`` with ``torch.export`` (non-strict) and return its ATen graph module."""
    # Export's UserWarnings (e.g. about RNN weight attributes) concern its internals, not the
    # user's model, and the graph is checked by running it anyway.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        program = torch.export.export(model, tuple(inputs), strict=False)
        return program.module()


def tensor_key(t: torch.Tensor) -> ParamKey:
    """Identity of a parameter's data: tied weights (one tensor, two names) share the key."""
    return (t.data_ptr(), tuple(t.shape))


def _describe(value: Any) -> Any:
    """Replace tensors by TensorInfo inside nested tuples, lists and dicts."""
    if isinstance(value, torch.Tensor):
        return TensorInfo(tuple(value.shape), value.element_size())
    if isinstance(value, list):
        return [_describe(v) for v in value]
    if isinstance(value, tuple):  # torch.Size and named tuples become plain tuples
        return tuple(_describe(v) for v in value)
    if isinstance(value, dict):
        return {k: _describe(v) for k, v in value.items()}
    return value


def _storage(t: torch.Tensor) -> int:
    """Address of the memory a tensor lives in (shared by its views and in-place results)."""
    try:
        return t.untyped_storage().data_ptr()
    except (RuntimeError, NotImplementedError):  # sparse or storage-less tensor subclasses
        return id(t)


def _op_name(node: fx.Node, module: nn.Module | None) -> str:
    if module is not None:
        return type(module).__name__
    if node.op == "call_method":
        return normalize_op_name(str(node.target))
    if isinstance(node.target, torch._ops.OpOverload):
        return normalize_op_name(node.target.name())  # type: ignore[no-untyped-call]  # OpOverload.name is unannotated
    return normalize_op_name(getattr(node.target, "__name__", str(node.target)))


class RecordingInterpreter(fx.Interpreter):
    """Runs a GraphModule on real inputs and records a :class:`NodeRecord` per node."""

    def __init__(self, gm: fx.GraphModule) -> None:
        super().__init__(gm)
        self.records: dict[str, NodeRecord] = {}

    def run_node(self, n: fx.Node) -> Any:
        try:
            result = super().run_node(n)
        except Exception as error:  # classified by the caller: bad input or untraceable model
            raise NodeFailed(n, error) from error
        if n.op != "output":
            # Inputs are still in the environment here (it is pruned after run_node returns).
            args, kwargs = self.fetch_args_kwargs_from_env(n)
            self.records[n.name] = self._record(n, args, kwargs, result)
        return result

    def _record(self, n: fx.Node, args: tuple[Any, ...], kwargs: dict[str, Any],
                result: Any) -> NodeRecord:
        module = self.module.get_submodule(str(n.target)) if n.op == "call_module" else None
        inputs = {a.name: self.records[a.name].storages for a in n.all_input_nodes
                  if a.name in self.records}
        outputs, fresh, aliases = [], [], set()
        for t in flat_tensors(result):
            outputs.append(TensorInfo(tuple(t.shape), t.element_size()))
            shared = [name for name, s in inputs.items() if t.numel() and _storage(t) in s]
            fresh.append(not shared and n.op != "get_attr")
            aliases.update(shared)
        record = NodeRecord(n, _op_name(n, module), module, _describe(args), _describe(kwargs),
                            outputs, fresh, tuple(sorted(aliases)),
                            frozenset(_storage(t) for t in flat_tensors(result) if t.numel()))
        owned = module.parameters() if module is not None else (
            [result] if isinstance(result, nn.Parameter) else [])
        record.params = [(tensor_key(p), p.numel()) for p in owned]
        return record


def record_run(gm: fx.GraphModule, inputs: Sequence[torch.Tensor]) -> list[NodeRecord]:
    """Run ``gm`` on ``inputs`` and return the records in execution order.

    Raises:
        NodeFailed: A node raised (shape mismatch, or a graph that does not match eager).
    """
    interpreter = RecordingInterpreter(gm)
    interpreter.run(*inputs)
    return list(interpreter.records.values())


@contextlib.contextmanager
def _module_stack(model: nn.Module) -> Iterator[list[str]]:
    """Track the names of the modules currently inside ``forward`` (innermost last)."""
    names = {id(m): name for name, m in model.named_modules()}
    stack: list[str] = []

    def enter(module: nn.Module, _: Any) -> None:
        if id(module) in names:
            stack.append(names[id(module)])

    def leave(module: nn.Module, _: Any, __: Any) -> None:
        if id(module) in names and stack:
            stack.pop()

    handles = [nn.modules.module.register_module_forward_pre_hook(enter),
               nn.modules.module.register_module_forward_hook(leave)]
    try:
        yield stack
    finally:
        for handle in handles:
            handle.remove()


def locate_eager_failure(model: nn.Module,
                         inputs: Sequence[torch.Tensor]) -> tuple[str, BaseException] | None:
    """Run ``model`` eagerly; if it raises, return (innermost module name, error), else None."""
    with _module_stack(model) as stack:
        try:
            model(*inputs)
        except Exception as error:  # any failure on the example input is reported to the user
            return (stack[-1] if stack else "", error)
    return None
