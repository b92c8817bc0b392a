"""The fused model's self-check, and a default example input when none is given.

Folding is exact in real arithmetic; in float32 it changes rounding. The self-check runs the
original model (eval mode) and the fused one on the example input plus seeded random batches of
other sizes (:func:`edgeopt.export.parity.parity_inputs`) and requires every batch to agree
within ``rtol`` of the output's scale (``max|a - b| <= atol + rtol * max|reference|``, the
convention of :mod:`edgeopt.export.parity`). A fused model that fails it is never returned.

Example:
    >>> example = default_input(gm)          # e.g. (1, 3, 32, 32) for a Conv2d(3, ...) stem
    >>> references = run_batches(model, parity_inputs(example))
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor, fx, nn
from torch.nn.modules.conv import _ConvNd

from edgeopt.errors import EdgeoptError
from edgeopt.export.parity import ParityReport, compare_outputs
from edgeopt.utils.tensors import flat_tensors

# Spatial size of a guessed input per conv dimensionality: small, and large enough for five
# stride-2 stages (32 → 1), i.e. the usual ImageNet-style stems.
_GUESSED_SIZE = {nn.Conv1d: (64,), nn.Conv2d: (32, 32), nn.Conv3d: (16, 16, 16)}
ATOL = 0.0  # purely relative: tiny outputs (untrained nets) must match to rtol too


def default_input(gm: fx.GraphModule) -> Tensor:
    """A seeded random input shaped for the first conv or linear layer the graph calls.

    Raises:
        EdgeoptError: the graph starts with neither, so no input shape can be guessed.
    """
    modules = dict(gm.named_modules())
    for node in gm.graph.nodes:
        layer = modules.get(str(node.target)) if node.op == "call_module" else None
        shape: tuple[int, ...] | None = None
        if isinstance(layer, nn.Linear):
            shape = (1, layer.in_features)
        elif isinstance(layer, _ConvNd) and type(layer) in _GUESSED_SIZE:
            shape = (1, layer.in_channels, *_GUESSED_SIZE[type(layer)])
        if shape is not None:
            return torch.randn(shape, generator=torch.Generator().manual_seed(0))
    raise EdgeoptError(
        f"cannot guess an input shape for {type(gm).__name__} (no conv or linear layer found)",
        hint="pass example_input (CLI: --input-size C,H,W)",
    )


def run_batches(model: nn.Module, batches: Sequence[Tensor]) -> list[list[np.ndarray]]:
    """Run a float64 copy of ``model`` on each batch; return the outputs flattened to NumPy arrays.

    In float64 the only difference left between the original and the fused model is the fold
    itself (folded weights rounded once to float32), so the 1e-5 check tests the fusion, not
    float32 accumulation order, which alone reached 1.4e-5 on a pruned, recalibrated MobileNet.
    """
    double = copy.deepcopy(model).double()
    with torch.no_grad():
        return [[t.detach().cpu().numpy() for t in flat_tensors(double(x.double()))] for x in batches]


def compare(references: list[list[np.ndarray]], fused: list[list[np.ndarray]],
            rtol: float) -> ParityReport:
    """Compare the fused outputs with the references, batch by batch and output by output."""
    refs = [a for batch in references for a in batch]
    outs = [a for batch in fused for a in batch]
    if len(refs) != len(outs):
        raise EdgeoptError("the fused model returns a different number of outputs than the model")
    return compare_outputs(refs, outs, rtol=rtol, atol=ATOL)


def require_match(report: ParityReport, model_name: str) -> None:
    """Raise if the self-check failed: a fused model that computes something else is a bug."""
    if not report.passed:
        raise EdgeoptError(
            f"the fused {model_name} does not match the original: {report.summary()}",
            hint="this is a fusion bug or a numerically fragile model (e.g. a BatchNorm with tiny "
            "running_var); report it with the model, or use the model unfused",
        )


