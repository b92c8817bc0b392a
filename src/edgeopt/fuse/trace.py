"""Trace a model with torch.fx for fusion, and say plainly where a trace stops.

Fusion rewrites the model's graph, so it needs one: ``torch.fx`` symbolic tracing, with the
standard leaf rule (``torch.nn`` modules such as ``Conv2d`` and ``BatchNorm2d`` stay single
``call_module`` nodes, so passes see and replace modules by their qualified names). When tracing
fails (data-dependent Python control flow, an unsupported call), the error names the innermost
module being traced and the line of the user's code that stopped it.

Example:
    >>> gm = trace(model)                      # a torch.fx.GraphModule sharing model's leaves
    >>> propagate_shapes(gm, torch.zeros(1, 1, 28, 28))
"""

from __future__ import annotations

import traceback
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, fx, nn
from torch.fx.passes.shape_prop import ShapeProp

from edgeopt.errors import EdgeoptError

_TORCH_DIR = str(Path(torch.__file__).parent)


class _NamingTracer(fx.Tracer):
    """An fx tracer that remembers the innermost module whose ``forward`` raised."""

    def __init__(self) -> None:
        super().__init__()
        self.failed_in: str | None = None

    def call_module(self, m: nn.Module, forward: Any, args: tuple[Any, ...],
                    kwargs: dict[str, Any]) -> Any:
        try:
            return super().call_module(m, forward, args, kwargs)
        except Exception:
            if self.failed_in is None:  # the innermost module sees the exception first
                try:
                    self.failed_in = self.path_of_module(m)
                except NameError:  # a module that is not an attribute of the model
                    self.failed_in = type(m).__name__
            raise


def trace(model: nn.Module) -> fx.GraphModule:
    """Symbolically trace ``model`` into a GraphModule (leaf modules are shared, not copied).

    Raises:
        EdgeoptError: fx cannot trace the model; the message names the module and source line.

    Example:
        >>> gm = trace(create_model("simple_cnn", in_chans=1).eval())
        >>> [n.target for n in gm.graph.nodes if n.op == "call_module"][:3]
        ['features.0.0', 'features.0.1', 'features.0.2']
    """
    tracer = _NamingTracer()
    try:
        graph = tracer.trace(model)
    except Exception as err:  # fx raises TraceError, TypeError, ... for untraceable code
        raise _trace_error(model, tracer.failed_in, err) from err
    return fx.GraphModule(tracer.root, graph, type(model).__name__)


def _trace_error(model: nn.Module, module: str | None, err: Exception) -> EdgeoptError:
    where = f"module {module!r}" if module else f"{type(model).__name__}.forward"
    line = _user_line(err)
    first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    return EdgeoptError(
        f"torch.fx cannot trace {type(model).__name__}: {where}"
        + (f" at {line}" if line else "") + f" stopped the trace ({type(err).__name__}: {first})",
        hint="fusion needs an fx-traceable model: replace data-dependent Python control flow "
        "(if/for on tensor values) with tensor ops, or skip fusion (ONNX Runtime and PT2E fold "
        "BatchNorm themselves)",
    )


def _user_line(err: BaseException) -> str | None:
    """``file:line `code``` of the deepest traceback frame outside torch (the user's code)."""
    frames = [f for f in traceback.extract_tb(err.__traceback__)
              if not f.filename.startswith(_TORCH_DIR) and not f.filename.endswith("fuse/trace.py")]
    if not frames:
        return None
    frame = frames[-1]
    code = f" `{frame.line.strip()}`" if frame.line else ""
    return f"{Path(frame.filename).name}:{frame.lineno}{code}"


def propagate_shapes(gm: fx.GraphModule, example: Tensor) -> None:
    """Run ``gm`` on ``example`` and store each node's output shape in ``node.meta``.

    Raises:
        EdgeoptError: a node fails although the eager model ran (the trace differs from eager).
    """
    try:
        with torch.no_grad():
            ShapeProp(gm).propagate(example)
    except Exception as err:  # the eager model ran on this input, so the trace is at fault
        raise EdgeoptError(
            f"the torch.fx trace of {type(gm).__name__} fails on an input the model accepts "
            f"({type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''})",
            hint="the model's forward probably depends on values fx cannot see; skip fusion",
        ) from err


def output_shape(node: fx.Node) -> tuple[int, ...] | None:
    """The output shape :func:`propagate_shapes` recorded for ``node`` (None if not a tensor)."""
    meta = node.meta.get("tensor_meta")
    shape = getattr(meta, "shape", None)
    return tuple(shape) if shape is not None else None
