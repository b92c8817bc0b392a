"""Export a PyTorch model to an ExecuTorch program (``.pte``) lowered to the XNNPACK delegate.

The flow is ExecuTorch's documented one: ``torch.export.export`` → ``to_edge_transform_and_lower``
with an ``XnnpackPartitioner`` → ``to_executorch``. Whatever XNNPACK does not take stays in the
program and runs on ExecuTorch's portable kernels; how much was delegated is recorded in the
artifact's metadata (``delegation``), because a node left outside the delegate is the usual
reason a ``.pte`` is slower than expected.

The input shape is static: the program takes batches of exactly the example's size (export with
batch 1 for an edge device). XNNPACK could take a bounded dynamic batch, but the memory planner
then reserves activations for the upper bound. :class:`~edgeopt.runtime.ExecuTorchRunner` feeds
larger batches in chunks.

Example:
    >>> art = export_executorch(model, torch.zeros(1, 1, 28, 28), "out/model.pte")
    >>> art.parity.passed, art.metadata["delegation"]["non_delegated_nodes"]
    (True, 0)
"""

from __future__ import annotations

import os
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from edgeopt.artifact import Artifact, ParityReport
from edgeopt.errors import EdgeoptError
from edgeopt.export.errors import exporter_error
from edgeopt.export.parity import check_parity, parity_inputs
from edgeopt.train.checks import _diagnose
from edgeopt.utils import atomic_path
from edgeopt.utils.modes import preserve_modes

BACKEND = "xnnpack"
EXPORTER = "torch.export + executorch.exir.to_edge_transform_and_lower(XnnpackPartitioner)"

# Where ExecuTorch's errors name the operator it could not handle:
#   "Missing out variants: {'mylib::op'}"                      (no ExecuTorch kernel form)
#   "Operator torch._ops.aten._linalg_eigh.default is not in Core ATen opset"
#   "OpOverload(op='aten.fft_fft', ...)"                        (torch.export itself)
_OPERATOR_PATTERNS = (
    re.compile(r"Missing out variants: \{'([\w.:]+)'"),
    re.compile(r"Operator torch\._ops\.([\w.]+) is not"),
    re.compile(r"OpOverload\(op='([\w.:]+)'"),
    re.compile(r"operator '([\w.:]+)'"),
)


@dataclass(frozen=True)
class LoweredProgram:
    """A program lowered for ExecuTorch, before it is written.

    Attributes:
        buffer: The serialised ``.pte`` bytes.
        delegation: What the XNNPACK delegate took (see :func:`delegation_summary`).
    """

    buffer: bytes
    delegation: dict[str, Any]


def export_executorch(
    model: nn.Module,
    example_input: Tensor,
    path: str | os.PathLike[str],
    *,
    check: bool = True,
    rtol: float = 1e-4,
    atol: float = 1e-5,
    parity_data: Tensor | None = None,
) -> Artifact:
    """Export ``model`` to an XNNPACK-delegated ``.pte`` at ``path`` and test parity.

    The model is exported in eval mode; each submodule's mode is restored afterwards. The file is
    written atomically: if export, lowering or the parity check fails, nothing is left at
    ``path`` (an existing file there is kept).

    Args:
        model: The eager model (on CPU).
        example_input: One input batch; its shape, batch included, is the program's input shape.
        path: Where to write the ``.pte`` file (parent folders are created).
        check: Run the parity check: the ``.pte`` in the ExecuTorch runtime vs the eager model.
        rtol, atol: Parity tolerance, relative to the output's scale (see :mod:`.parity`).
        parity_data: Real samples (N x C x H x W) to compare on, beside the example and seeded
            random batches.

    Returns:
        The :class:`Artifact` (format ``"executorch"``, precision ``"fp32"``), with its parity
        figures and ``metadata`` (backend, delegation counts, versions).

    Raises:
        EdgeoptError: bad arguments, an operator ExecuTorch cannot run (named when the error
            says which), or outputs that differ from the eager model.

    Example:
        >>> art = export_executorch(create_model("simple_cnn", in_chans=1), torch.zeros(1, 1, 8, 8), "cnn.pte")
        >>> art.format, art.metadata["delegation"]["delegated_nodes"] > 0
        ('executorch', True)
    """
    _check_arguments(model, example_input)
    _require_runnable(model, example_input)
    with preserve_modes(model), torch.no_grad():
        model.eval()
        program = capture(model, example_input)
    lowered = lower_to_executorch(program, model)
    return write_program(
        lowered, path, example_input, "fp32",
        reference=model if check else None, parity_data=parity_data, rtol=rtol, atol=atol,
    )


def standard_layout(example: Tensor) -> Tensor:
    """The example with row-major strides, whatever strides it came with.

    ``torch.export`` records the example's dim order in the program. A one-channel batch sliced
    from an NHWC array has strides like ``(64, 1, 8, 1)``: torch calls it contiguous, export reads
    it as channels-last, and the XNNPACK delegate then refuses every row-major input at run time
    ("Propagating input shapes failed"). ``.contiguous()`` keeps such strides; this does not.
    """
    return example.clone(memory_format=torch.contiguous_format)


def capture(model: nn.Module, example_input: Tensor) -> torch.export.ExportedProgram:
    """``torch.export.export`` the model on the example, with a clear error when it cannot."""
    try:
        return torch.export.export(model, (standard_layout(example_input),))
    except (EdgeoptError, KeyboardInterrupt):
        raise
    except Exception as exc:  # torch.export raises many types; all mean "cannot export"
        raise executorch_error(model, exc) from exc


def lower_to_executorch(program: torch.export.ExportedProgram, model: nn.Module | None = None) -> LoweredProgram:
    """Lower an exported program to XNNPACK and serialise it (nothing is written).

    Args:
        program: From ``torch.export.export`` (fp32, or a PT2E-quantized model's export).
        model: The model it came from, to name it in errors.

    Raises:
        EdgeoptError: an operator ExecuTorch cannot handle.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
            from executorch.exir import to_edge_transform_and_lower
    except ImportError as exc:
        raise EdgeoptError(
            "ExecuTorch is not installed", hint="pip install 'edgeopt[executorch]' (executorch==1.5.1)"
        ) from exc
    try:
        edge = to_edge_transform_and_lower(program, partitioner=[XnnpackPartitioner()])
        delegation = delegation_summary(edge.exported_program().graph_module)
        buffer = edge.to_executorch().buffer
    except (EdgeoptError, KeyboardInterrupt):
        raise
    except Exception as exc:
        raise executorch_error(model, exc) from exc
    return LoweredProgram(bytes(buffer), delegation)


def write_program(
    lowered: LoweredProgram,
    path: str | os.PathLike[str],
    example_input: Tensor,
    precision: str,
    *,
    reference: nn.Module | None = None,
    parity_data: Tensor | None = None,
    rtol: float = 1e-4,
    atol: float = 1e-5,
    metadata: dict[str, Any] | None = None,
) -> Artifact:
    """Write a lowered program atomically, after a parity check against ``reference`` if given.

    The parity check runs the file in the ExecuTorch runtime (the temporary file, before it is
    renamed), so a program that fails it never appears at ``path``.
    """
    report: ParityReport | None = None
    with atomic_path(path) as tmp:
        tmp.write_bytes(lowered.buffer)
        if reference is not None:
            report = _parity(reference, tmp, example_input, parity_data, rtol, atol)
    info = {
        "backend": BACKEND,
        "exporter": EXPORTER,
        "delegation": lowered.delegation,
        "dynamic_batch": False,
        "batch_size": int(example_input.shape[0]),
        "torch_version": torch.__version__,
        "executorch_version": _executorch_version(),
        **(metadata or {}),
    }
    return Artifact.from_file(
        path, "executorch", precision, tuple(example_input.shape), parity=report, metadata=info
    )


def delegation_summary(graph_module: torch.fx.GraphModule) -> dict[str, Any]:
    """How much of a lowered graph XNNPACK took: node counts and the operators left outside.

    Example:
        >>> delegation_summary(edge.exported_program().graph_module)
        {'delegated_subgraphs': 1, 'delegated_nodes': 58, 'non_delegated_nodes': 0, 'non_delegated_ops': {}}
    """
    from executorch.devtools.backend_debug import get_delegation_info

    info = get_delegation_info(graph_module)
    left: dict[str, int] = {}
    for name, counts in info.delegation_by_operator.items():
        if counts.non_delegated > 0 and name != "getitem":
            left[name] = int(counts.non_delegated)
    return {
        "delegated_subgraphs": int(info.num_delegated_subgraphs),
        "delegated_nodes": int(info.num_delegated_nodes),
        "non_delegated_nodes": int(sum(left.values())),
        "non_delegated_ops": left,
    }


def executorch_error(model: nn.Module | None, exc: BaseException) -> EdgeoptError:
    """An :class:`EdgeoptError` for a failed export or lowering, naming the operator if known.

    Example:
        >>> executorch_error(net, RuntimeError("Missing out variants: {'mylib::op'}"))
        EdgeoptError("cannot export Net to ExecuTorch: operator 'mylib::op' has no ExecuTorch kernel ...")
    """
    name = type(model).__name__ if model is not None else "the model"
    return exporter_error(name, "ExecuTorch", exc, "has no ExecuTorch kernel or XNNPACK lowering",
                          _OPERATOR_PATTERNS)


def _check_arguments(model: Any, example_input: Any) -> None:
    if not isinstance(model, nn.Module):
        raise EdgeoptError(f"expected a torch.nn.Module to export, got {type(model).__name__}")
    if not isinstance(example_input, Tensor) or example_input.ndim < 1 or example_input.shape[0] < 1:
        raise EdgeoptError(
            "the example input must be a tensor with a batch dimension",
            hint="e.g. torch.zeros(1, 3, 224, 224)",
        )


def _require_runnable(model: nn.Module, example: Tensor) -> None:
    """Fail with a readable error if the model cannot run on the example at all."""
    with preserve_modes(model), torch.inference_mode():
        model.eval()
        try:
            model(example)
        except RuntimeError as err:
            raise _diagnose(model, example, None, err) from err


def _parity(
    model: nn.Module, path: Path, example: Tensor, data: Tensor | None, rtol: float, atol: float
) -> ParityReport:
    # Imported here: the ExecuTorch runtime loads only when a parity check runs.
    from edgeopt.runtime.executorch_runner import ExecuTorchRunner

    runner = ExecuTorchRunner(path, threads=1)
    try:
        return check_parity(
            model, runner, parity_inputs(example, data), rtol=rtol, atol=atol,
            what="the ExecuTorch export (run in the ExecuTorch runtime)",
        )
    finally:
        runner.close()


def _executorch_version() -> str:
    try:
        from executorch.version import __version__

        return str(__version__)
    except ImportError:
        return "unknown"
