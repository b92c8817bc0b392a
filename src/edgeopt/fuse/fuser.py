"""``fuse`` and ``fuse_with_report``: fold every foldable BatchNorm into the layer before it.

The input model is never touched: fusion works on a deep copy, switched to eval mode. Folding a
BatchNorm is only defined for its running statistics (eval-mode behaviour), so a model in
training mode is not an error: its eval-mode behaviour is fused, the result is returned in eval
mode, and the report says so (``input_was_training``). The common case is a model fresh from
``create_model``/``load_checkpoint`` or a training loop, which is in training mode although the
user means the trained network.

Passes run in this order, each BatchNorm claimed by the first pattern that describes it:
``conv_bn_act`` (conv → bn → relu/relu6), ``depthwise_conv_bn`` (depthwise convs, with or
without an activation), ``conv_bn``, ``linear_bn``. A candidate whose fold would not be exact
(:mod:`.safety`) is left in place and listed in ``report.skipped`` with the reason.

Example:
    >>> fused, report = fuse_with_report(model, torch.randn(1, 1, 28, 28))
    >>> report.batchnorm_after, report.max_rel_error < 1e-5
    (0, True)
"""

from __future__ import annotations

import copy

import numpy as np
import torch
from torch import Tensor, fx, nn

from edgeopt.errors import EdgeoptError
from edgeopt.export.parity import parity_inputs
from edgeopt.fuse.check import compare, default_input, require_match, run_batches
from edgeopt.fuse.conv_bn import ConvBN
from edgeopt.fuse.conv_bn_act import ConvBNAct
from edgeopt.fuse.depthwise_bn import DepthwiseConvBN
from edgeopt.fuse.fold import apply_fold
from edgeopt.fuse.linear_bn import LinearBN
from edgeopt.fuse.pattern import BATCHNORM_TYPES, Candidate, Pattern
from edgeopt.fuse.report import Fusion, FusionReport, Skipped
from edgeopt.fuse.safety import why_not_foldable
from edgeopt.fuse.trace import propagate_shapes, trace

PATTERNS: tuple[Pattern, ...] = (ConvBNAct(), DepthwiseConvBN(), ConvBN(), LinearBN())
RTOL = 1e-5


def fuse(model: nn.Module, example_input: Tensor | None = None, *, rtol: float = RTOL) -> fx.GraphModule:
    """Return a new model with every foldable BatchNorm folded into the conv/linear before it.

    Same as :func:`fuse_with_report` without the report.

    Example:
        >>> fused = fuse(create_model("mobilenet_v1", width_mult=0.25))
        >>> any(isinstance(m, nn.BatchNorm2d) for m in fused.modules())
        False
    """
    return fuse_with_report(model, example_input, rtol=rtol)[0]


def fuse_with_report(
    model: nn.Module, example_input: Tensor | None = None, *, rtol: float = RTOL
) -> tuple[fx.GraphModule, FusionReport]:
    """Fuse a copy of ``model`` (eval mode) and check it against the original.

    Args:
        model: Any fx-traceable model; it is not modified.
        example_input: One input batch. Default: a seeded random batch shaped for the first
            conv/linear layer (e.g. ``(1, C, 32, 32)`` for a Conv2d stem).
        rtol: Largest allowed output error relative to the output's scale in the self-check.

    Returns:
        The fused ``torch.fx.GraphModule`` (eval mode; activations kept after the folded layers)
        and a :class:`FusionReport`.

    Raises:
        EdgeoptError: the model is not a module, fx cannot trace it (naming the module and line),
            it does not run on the example input, or the fused model does not match it.

    Example:
        >>> fused, report = fuse_with_report(create_model("mobilenet_v2", width_mult=0.35))
        >>> report.counts
        {'conv_bn_relu6': 18, 'depthwise_conv_bn_relu6': 17, 'conv_bn': 17}
    """
    if not isinstance(model, nn.Module):
        raise EdgeoptError(f"fuse expects a torch.nn.Module, got {type(model).__name__}")
    report = FusionReport(rtol=rtol, input_was_training=any(m.training for m in model.modules()))
    work = copy.deepcopy(model).eval()
    # A float32 model is fused in float64 and rounded once at the end, so the self-check tests
    # the folds themselves: float32 folding error alone grows with depth (1.5e-5 relative on a
    # pruned, untrained MobileNet whose outputs are small) and says nothing about correctness.
    in_double = _all_float32(work)
    if in_double:
        work = work.double()
    gm = trace(work)
    example = default_input(gm) if example_input is None else _checked_input(example_input)
    example = example.double() if in_double else example
    batches = parity_inputs(example)
    references = _run_original(work, batches, example)
    propagate_shapes(gm, example)
    report.batchnorm_before = _count_batchnorms(gm)
    _fold_all(gm, report)
    gm.graph.lint()
    gm.delete_all_unused_submodules()
    gm.recompile()
    gm.eval()
    report.batchnorm_after = _count_batchnorms(gm)
    parity = compare(references, run_batches(gm, batches), rtol)
    require_match(parity, type(model).__name__)
    report.max_abs_error, report.max_rel_error = parity.max_abs_error, parity.max_rel_error
    report.checked_samples = parity.n_samples
    return (gm.float() if in_double else gm), report


def _all_float32(model: nn.Module) -> bool:
    tensors = [*model.parameters(), *model.buffers()]
    return all(t.dtype == torch.float32 for t in tensors if t.is_floating_point())


def _fold_all(gm: fx.GraphModule, report: FusionReport) -> None:
    modules = dict(gm.named_modules())
    for node in list(gm.graph.nodes):
        if node.op != "call_module" or not isinstance(modules.get(str(node.target)), BATCHNORM_TYPES):
            continue
        candidate = _claim(node, modules)
        if candidate is None:
            continue  # not after a conv/linear (e.g. a BatchNorm on the input): nothing to fold
        reason = why_not_foldable(candidate, modules, gm.graph)
        if reason is not None:
            report.skipped.append(Skipped(candidate.label, candidate.module_names, reason))
            continue
        report.fused.append(Fusion(candidate.label, candidate.module_names, str(candidate.producer.target)))
        apply_fold(gm, candidate)
        modules = dict(gm.named_modules())


def _claim(bn: fx.Node, modules: dict[str, nn.Module]) -> Candidate | None:
    for pattern in PATTERNS:
        candidate = pattern.claim(bn, modules)
        if candidate is not None:
            return candidate
    return None


def _count_batchnorms(gm: fx.GraphModule) -> int:
    modules = dict(gm.named_modules())
    return sum(
        1 for n in gm.graph.nodes
        if n.op == "call_module" and isinstance(modules.get(str(n.target)), BATCHNORM_TYPES)
    )


def _checked_input(example: object) -> Tensor:
    if not isinstance(example, Tensor):
        raise EdgeoptError(
            f"example_input must be one tensor batch, got {type(example).__name__}",
            hint="e.g. torch.zeros(1, 3, 224, 224)",
        )
    if not example.is_floating_point():
        raise EdgeoptError(f"example_input must be a float tensor, got {example.dtype}")
    return example.detach()


def _run_original(model: nn.Module, batches: list[Tensor], example: Tensor) -> list[list[np.ndarray]]:
    try:
        return run_batches(model, batches)
    except Exception as err:  # the model rejects the input: a shape the user must fix
        raise EdgeoptError(
            f"{type(model).__name__} does not run on an input of shape {tuple(example.shape)} "
            f"({type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''})",
            hint="pass an example_input the model accepts (CLI: --input-size C,H,W)",
        ) from err
