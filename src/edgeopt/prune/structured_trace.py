"""Trace a model for channel analysis with torch.fx, naming the module that stops the trace.

Structured pruning must know which module produced each tensor (it rebuilds those modules), so
it traces with ``torch.fx.symbolic_trace`` semantics: childless ``torch.nn`` modules and the
modules the user excludes stay leaves. torch.export is not used as a fallback here: its ATen
graph no longer says which ``nn.Module`` owns a weight slice, which the rebuild needs.

Example:
    >>> gm = trace_for_pruning(model, exclude={"head.attention"})
    >>> [n.target for n in gm.graph.nodes if n.op == "call_module"][:2]
    ['features.0.0', 'features.0.1']
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

from torch import fx, nn

from edgeopt.analysis.tracing import is_torch_leaf
from edgeopt.errors import EdgeoptError


class _PruningTracer(fx.Tracer):
    """Keeps torch leaves and excluded modules whole; remembers which module is being traced."""

    def __init__(self, exclude: Collection[str]) -> None:
        super().__init__()
        self.exclude = set(exclude)
        self.stack: list[str] = []

    def is_leaf_module(self, m: nn.Module, module_qualified_name: str) -> bool:
        return module_qualified_name in self.exclude or is_torch_leaf(m)

    def call_module(
        self, m: nn.Module, forward: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        name = self.path_of_module(m)
        self.stack.append(name)
        result = super().call_module(m, forward, args, kwargs)
        self.stack.pop()  # not popped on error: the stack then names where tracing stopped
        return result


def trace_for_pruning(model: nn.Module, exclude: Collection[str] = ()) -> fx.GraphModule:
    """Symbolically trace ``model`` keeping ``exclude`` (qualified module names) as leaves.

    Raises:
        EdgeoptError: The model cannot be traced; the message names the innermost module being
            traced and the operation that failed, and the hint says how to exclude it.
    """
    tracer = _PruningTracer(exclude)
    try:
        graph = tracer.trace(model)
    except Exception as error:  # fx raises many types (TraceError, TypeError, NotImplementedError)
        where = tracer.stack[-1] if tracer.stack else ""
        what = f"module '{where}' ({type(model.get_submodule(where)).__name__})" if where else "the model's own forward"
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        hint = (f"exclude it (exclude=['{where}'], CLI --exclude {where}) to keep it whole and "
                "unpruned" if where else "make forward traceable by torch.fx (no Python control "
                "flow on tensor values), or move that code into a submodule and exclude it")
        raise EdgeoptError(f"torch.fx cannot trace {what} for channel analysis: {first_line}",
                           hint=hint) from error
    return fx.GraphModule(tracer.root, graph, type(model).__name__)
