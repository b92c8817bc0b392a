"""Which layer of an ExecuTorch int8 program first departs from its PT2E simulation.

XNNPACK runs the whole program as delegate calls, inside which ExecuTorch's debugging (ETDump
intermediate outputs) sees nothing. To localise a failed self-check, edgeopt builds a *debug
program*: the same converted PT2E graph with every activation quantizer's integer output added
as a program output, lowered the same way. It runs those codes in the ExecuTorch runtime and in
PyTorch (the simulation) on the same inputs, and names the first quantizer, in graph order, whose
codes differ by more than one step, by the PyTorch module that produced its input. It is a
diagnostic: the extra outputs may change what XNNPACK fuses, so the name is where the debug
program departs, which is where the shipped one does unless the fault is in a fusion.

Example:
    >>> first_diverging_layer(converted, inputs, example)
    'features.3.pointwise.0'
"""

from __future__ import annotations

import copy
import tempfile
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from edgeopt.utils.quiet import no_warnings


def _quantizers(graph: torch.fx.GraphModule) -> list[torch.fx.Node]:
    return [node for node in graph.graph.nodes
            if node.op == "call_function" and "quantize_per_tensor" in str(node.target)
            and "dequantize" not in str(node.target)]


_ACTIVATIONS = ("relu", "hardtanh", "clamp")


def _module_of(node: torch.fx.Node) -> str:
    """The layer whose output a quantizer quantizes (through a ReLU/ReLU6 to the conv or linear)."""
    source = node.args[0] if node.args and isinstance(node.args[0], torch.fx.Node) else node
    while (source.op == "call_function" and any(a in str(source.target) for a in _ACTIVATIONS)
           and source.args and isinstance(source.args[0], torch.fx.Node)):
        source = source.args[0]
    if source.op == "placeholder":
        return "input"
    stack = source.meta.get("nn_module_stack") or {}
    if stack:
        path = list(stack.values())[-1]
        return str(path[0] if isinstance(path, tuple) else path)
    return str(source.name)


def debug_module(quantized: torch.fx.GraphModule) -> tuple[torch.fx.GraphModule, list[str]]:
    """A copy of ``quantized`` that also returns every activation quantizer's codes; their layer names."""
    graph_module = copy.deepcopy(quantized)
    quantizers = _quantizers(graph_module)
    output = next(node for node in graph_module.graph.nodes if node.op == "output")
    main = output.args[0]
    main_tuple = tuple(main) if isinstance(main, (tuple, list)) else (main,)
    output.args = (main_tuple + tuple(quantizers),)
    graph_module.graph._codegen = torch.fx.graph.CodeGen()  # plain outputs: the exported pytree spec held one
    graph_module.recompile()
    return graph_module, [_module_of(node) for node in quantizers]


def first_diverging_layer(quantized: torch.fx.GraphModule, inputs: Tensor, example: Tensor) -> str | None:
    """The first layer whose int8 codes in the program differ from the simulation's by more than one step."""
    from edgeopt.export.executorch_export import capture, lower_to_executorch

    debug, names = debug_module(quantized)
    if not names:
        return None
    try:
        with no_warnings():
            program = capture(debug, example)
        lowered = lower_to_executorch(program, debug)
    except Exception:  # a diagnostic: when it cannot be built, no layer is named
        return None
    batch = inputs.detach().float()[: example.shape[0]] if example.shape[0] > 1 else inputs.detach().float()
    with tempfile.TemporaryDirectory(prefix="edgeopt-pte-debug-") as tmp:
        path = Path(tmp) / "debug.pte"
        path.write_bytes(lowered.buffer)
        try:
            from executorch.runtime import Runtime

            method = Runtime.get().load_program(str(path)).load_method("forward")
        except Exception:
            return None
        for sample in torch.split(batch, example.shape[0]):
            if sample.shape[0] != example.shape[0]:
                continue
            got = method.execute([sample])
            with torch.no_grad():
                want = debug(sample)
            for name, mine, theirs in zip(names, got[1:], want[1:], strict=False):
                a = np.asarray(mine).astype(np.int64)
                b = theirs.detach().numpy().astype(np.int64)
                if a.shape == b.shape and np.any(np.abs(a - b) > 1):
                    return name
    return None
