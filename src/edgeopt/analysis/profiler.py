"""``profile``: exact per-layer MACs, parameters and activation memory of any traceable model.

The model is traced (torch.fx, or torch.export when fx cannot), run once on an example input
node by node, and every node is costed by the rules in :mod:`edgeopt.analysis.counting`;
:mod:`edgeopt.analysis.memory` computes the peak of live activations.

Counting convention: a MAC (multiply-add) is one multiplication plus one accumulation in a
convolution, linear layer or matrix product: conv = Cout × Hout × Wout × (Cin/groups) × kH × kW,
linear = in_features × out_features per row, matmul = k per output element. Bias adds,
BatchNorm, activations, pooling and residual adds are not MACs (as in the MobileNet paper, which
counts mult-adds of conv and FC layers only); they appear per row as ``flops_other``. MACs are
for the batch of the input (1 by default). Params are all unique parameters, BatchNorm
weight/bias included, each shared parameter once. See ``docs/profiling.md``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from edgeopt.analysis.results import ModelProfile
from edgeopt.analysis.rows import build_profile, node_label
from edgeopt.analysis.tracing import NodeFailed, NodeRecord, locate_eager_failure, record_run, trace_export, trace_fx
from edgeopt.errors import EdgeoptError
from edgeopt.utils.modes import preserve_modes

_METHODS = ("auto", "fx", "export")


def profile(model: nn.Module, input_size: tuple[int, ...] = (1, 3, 224, 224), *,
            example_input: Tensor | tuple[Tensor, ...] | None = None,
            dtype_bytes: int | None = None, method: str = "auto") -> ModelProfile:
    """Profile ``model``: MACs, params and activation memory per layer, and their totals.

    The model is switched to eval mode for the run and restored to its previous modes after;
    it is not otherwise changed.

    Args:
        model: Any model torch.fx or torch.export can trace.
        input_size: Shape of a random example input (batch first). Ignored if
            ``example_input`` is given.
        example_input: A real input (or tuple of inputs, one per ``forward`` argument).
        dtype_bytes: Count activations and parameters as this many bytes per element (e.g. 1
            for an int8 estimate) instead of their real element size.
        method: ``"auto"`` (fx, falling back to torch.export), ``"fx"`` or ``"export"``.

    Returns:
        The :class:`ModelProfile`.

    Raises:
        EdgeoptError: The input does not fit the model (names the failing layer), the model
            cannot be traced, or an argument is invalid.

    Example:
        >>> p = profile(nn.Conv2d(3, 8, 3, padding=1), (1, 3, 32, 32))
        >>> p.macs  # 8 * 32 * 32 * 3 * 3 * 3
        221184
    """
    _check_options(dtype_bytes, method)
    inputs, shown_size = _example_inputs(model, input_size, example_input)
    with _eval_mode(model), _one_thread(), torch.no_grad():
        records, used = _trace_and_record(model, inputs, shown_size, method)
    return build_profile(model, records, used, shown_size, dtype_bytes)


def _check_options(dtype_bytes: int | None, method: str) -> None:
    if dtype_bytes is not None and (not isinstance(dtype_bytes, int) or dtype_bytes <= 0):
        raise EdgeoptError(f"dtype_bytes must be a positive integer, got {dtype_bytes!r}",
                           hint="e.g. 4 for float32, 2 for float16, 1 for int8")
    if method not in _METHODS:
        raise EdgeoptError(f"unknown profiling method {method!r}",
                           hint="use one of " + ", ".join(_METHODS))


def _example_inputs(model: nn.Module, input_size: Sequence[int],
                    example_input: Tensor | tuple[Tensor, ...] | None,
                    ) -> tuple[list[Tensor], tuple[Any, ...]]:
    """The inputs to run (copies, so in-place ops cannot touch the caller's tensors)."""
    if example_input is not None:
        given = [example_input] if isinstance(example_input, Tensor) else list(example_input)
        inputs = [t.detach().clone() for t in given]
        shapes = tuple(tuple(t.shape) for t in inputs)
        return inputs, shapes[0] if len(shapes) == 1 else shapes
    size = tuple(input_size)
    if not size or not all(isinstance(d, int) and d > 0 for d in size):
        raise EdgeoptError(f"input size {input_size!r} is not a tuple of positive integers",
                           hint="give the batch-first shape, e.g. (1, 3, 224, 224)")
    reference = next((t for t in (*model.parameters(), *model.buffers())
                      if t.is_floating_point()), None)
    dtype = reference.dtype if reference is not None else torch.float32
    device = reference.device if reference is not None else torch.device("cpu")
    # Fixed seed: values do not change costs, but a reproducible input keeps runs comparable.
    generator = torch.Generator().manual_seed(0)
    sample = torch.randn(size, generator=generator).to(dtype=dtype, device=device)
    return [sample], size


@contextlib.contextmanager
def _eval_mode(model: nn.Module) -> Iterator[None]:
    """Eval mode inside; every submodule gets its own previous mode back after."""
    with preserve_modes(model):
        model.eval()
        yield


@contextlib.contextmanager
def _one_thread() -> Iterator[None]:
    """Run on one intra-op thread, then restore the thread count.

    Speed does not change costs, and on a busy machine two OpenMP threads stall on each other:
    a MobileNetV2 forward took 3.2 s with 2 threads against 0.06 s with 1 on a loaded 2-core box.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _trace_and_record(model: nn.Module, inputs: list[Tensor], size: tuple[Any, ...],
                      method: str) -> tuple[list[NodeRecord], str]:
    """Trace with fx (or export) and record a run; turn failures into clear EdgeoptErrors."""
    fx_problem: BaseException | None = None
    if method in ("auto", "fx"):
        try:
            gm = trace_fx(model, len(inputs))
        except Exception as error:  # any fx limitation sends us to the export fallback
            fx_problem = error
        else:
            try:
                return record_run(gm, inputs), "fx"
            except NodeFailed as failed:
                fx_problem = failed
    # A failing eager run means the input is wrong, not the tracer.
    eager = locate_eager_failure(model, inputs)
    if eager is not None:
        where = node_label(fx_problem.node) if isinstance(fx_problem, NodeFailed) else eager[0]
        raise _input_error(model, size, where, eager[1]) from eager[1]
    if method == "fx":
        raise EdgeoptError(f"torch.fx cannot trace {type(model).__name__}: {_short(fx_problem)}",
                           hint="use method='auto' to fall back to torch.export")
    try:
        gm = trace_export(model, inputs)
        return record_run(gm, inputs), "export"
    except Exception as error:  # neither tracer can represent this model
        raise EdgeoptError(
            f"cannot trace {type(model).__name__}: torch.fx failed ({_short(fx_problem)}); "
            f"torch.export failed ({_short(error)})",
            hint="forward must be traceable: avoid Python control flow that depends on tensor "
                 "values") from error


def _short(error: BaseException | None) -> str:
    """First line of an error message, at most 200 characters."""
    if error is None:
        return "not tried"
    text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return text[:200]


def _input_error(model: nn.Module, size: tuple[Any, ...], where: str,
                 error: BaseException) -> EdgeoptError:
    layer = f"layer '{where}'" if where else "the model's forward"
    return EdgeoptError(
        f"input size {size} does not fit {type(model).__name__}: {layer} failed: {_short(error)}",
        hint="pass the input size the model was built for (batch, channels, height, width), "
             "e.g. (1, 3, 224, 224); too small an input can shrink a feature map below a kernel")
