"""Export a PyTorch model to an ONNX file, checked and parity-tested against the eager model.

Which exporter: ``torch.onnx.export(..., dynamo=True)``, the torch.export-based one. On torch
2.13 both exporters produce correct graphs for edgeopt's CNNs (MobileNetV1/V2, SimpleCNN; max
error ~1e-8 against eager), but only this one exports the ``torch.fx.GraphModule`` s that
edgeopt itself produces: fused models (``fuse/`` rewrites with torch.fx) and ``.pt2`` programs
loaded with ``torch.export.load``. The legacy TorchScript exporter (``dynamo=False``) fails on
both ("'Graph' object has no attribute 'outputs'", "Calling train() is not supported"), is
deprecated since torch 2.9 and announced for removal. Sharing torch.export with the ExecuTorch
exporter also means a model either exports to both formats or fails the same way. The price: a
few seconds per export (the legacy one takes well under one) and opset 18 at least — torch 2.13
has no opset-17 translations and keeps the model at 18 when asked for 17, so we ask for 18 and
say so rather than record an opset the file does not have.

Example:
    >>> art = export_onnx(model, torch.zeros(1, 1, 28, 28), "out/model.onnx")
    >>> art.parity.passed, art.metadata["opset"]
    (True, 18)
"""

from __future__ import annotations

import contextlib
import logging
import os
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import onnx
import torch
from torch import Tensor, nn

from edgeopt.artifact import Artifact
from edgeopt.errors import EdgeoptError
from edgeopt.export.errors import exporter_error
from edgeopt.export.parity import check_parity, parity_inputs
from edgeopt.train.checks import _diagnose
from edgeopt.utils import atomic_path
from edgeopt.utils.modes import preserve_modes

MIN_OPSET = 18  # the lowest opset torch 2.13's dynamo exporter implements
INPUT_NAME = "input"
OUTPUT_NAME = "logits"
EXPORTER = "torch.onnx.export(dynamo=True)"

# Where an exporter error names the operator it could not translate:
#   dynamo: "No ONNX function found for <OpOverload(op='aten._linalg_eigh', overload='default')>"
#   legacy: "Exporting the operator 'aten::linalg_eigh' to ONNX opset version 17 is not supported"

def export_onnx(
    model: nn.Module,
    example_input: Tensor,
    path: str | os.PathLike[str],
    *,
    opset: int = MIN_OPSET,
    check: bool = True,
    rtol: float = 1e-4,
    atol: float = 1e-5,
    parity_data: Tensor | None = None,
) -> Artifact:
    """Export ``model`` to ONNX at ``path`` (batch dimension dynamic), check it, and test parity.

    The model is exported in eval mode; each submodule's mode is restored afterwards. The file is
    written atomically: if export, the ONNX checker or the parity check fails, nothing is left at
    ``path`` (an existing file there is kept).

    Args:
        model: The eager model (on CPU).
        example_input: One input batch, e.g. ``torch.zeros(1, 1, 28, 28)``.
        path: Where to write the ``.onnx`` file (parent folders are created).
        opset: ONNX opset, at least 18 (see the module docstring).
        check: Run ``onnx.checker`` and the parity check (ONNX Runtime vs eager).
        rtol, atol: Parity tolerance, relative to the output's scale (see :mod:`.parity`).
        parity_data: Real samples (N x C x H x W) to compare on, beside the example and
            seeded random batches.

    Returns:
        The :class:`Artifact`, with its parity figures and ``metadata`` (opset, exporter...).

    Raises:
        EdgeoptError: bad arguments, an operator ONNX cannot express (named when the exporter
            says which), an invalid graph, or outputs that differ from the eager model.

    Example:
        >>> art = export_onnx(create_model("simple_cnn", in_chans=1), torch.zeros(1, 1, 8, 8), "cnn.onnx")
        >>> art.format, art.parity.max_abs_error < 1e-5
        ('onnx', True)
    """
    _check_arguments(model, example_input, opset)
    _require_runnable(model, example_input)
    program = _export_program(model, example_input, opset)
    with atomic_path(path) as tmp:
        program.save(str(tmp), external_data=False)
        proto = strip_node_metadata(onnx.load(str(tmp)))
        onnx.save(proto, str(tmp))
        report = None
        if check:
            _check_graph(tmp)
            report = _parity(model, tmp, example_input, parity_data, rtol, atol)
    metadata = {
        "opset": _opset_of(proto),
        "exporter": EXPORTER,
        "torch_version": torch.__version__,
        "input_name": INPUT_NAME,
        "output_name": OUTPUT_NAME,
        "dynamic_batch": True,
    }
    return Artifact.from_file(
        path, "onnx", "fp32", tuple(example_input.shape), parity=report, metadata=metadata
    )


def export_onnx_quick(model: nn.Module, example_input: Tensor, path: str | os.PathLike[str]) -> Artifact:
    """Export with torch's TorchScript-based exporter, for timing many candidates (search trials).

    It takes about 1 s where :func:`export_onnx` takes about 5 s for a small MobileNet (most of
    that in the dynamo exporter's translation), which matters across hundreds of trials. The
    graph holds the same Conv/Add/Mul/Pool/Gemm nodes ONNX Runtime fuses alike; files users get
    (export, quantization, a search's finalists) still come from :func:`export_onnx`, with
    parity checks. The batch dimension is fixed at the example's.

    Raises:
        EdgeoptError: the model cannot be exported this way (the message says why).
    """
    _check_arguments(model, example_input, MIN_OPSET)
    with atomic_path(path) as tmp, preserve_modes(model), _quiet(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.eval()
        try:
            torch.onnx.export(model, (example_input,), str(tmp), dynamo=False, opset_version=MIN_OPSET,
                              input_names=[INPUT_NAME], output_names=[OUTPUT_NAME])
        except Exception as exc:  # the exporter raises many types; all mean "cannot export"
            raise export_error(model, exc) from exc
    return Artifact.from_file(path, "onnx", "fp32", tuple(example_input.shape),
                              metadata={"exporter": "torch.onnx.export(dynamo=False)", "input_name": INPUT_NAME})


def _check_arguments(model: Any, example_input: Any, opset: Any) -> None:
    if not isinstance(model, nn.Module):
        raise EdgeoptError(f"expected a torch.nn.Module to export, got {type(model).__name__}")
    if not isinstance(example_input, Tensor) or example_input.ndim < 1:
        raise EdgeoptError(
            "the example input must be a tensor with a batch dimension",
            hint="e.g. torch.zeros(1, 3, 224, 224)",
        )
    newest = int(onnx.defs.onnx_opset_version())
    if isinstance(opset, bool) or not isinstance(opset, int) or not MIN_OPSET <= opset <= newest:
        raise EdgeoptError(
            f"ONNX opset {opset!r} is not supported",
            hint=f"use an opset from {MIN_OPSET} (the lowest torch's ONNX exporter implements) to {newest} "
            "(the newest the installed onnx knows)",
        )


def _require_runnable(model: nn.Module, example: Tensor) -> None:
    """Fail with a readable error if the model cannot run on the example at all."""
    with preserve_modes(model), torch.inference_mode():
        model.eval()
        try:
            model(example)
        except RuntimeError as err:
            raise _diagnose(model, example, None, err) from err


def _export_program(model: nn.Module, example: Tensor, opset: int) -> Any:
    """Capture and translate the model; returns a ``torch.onnx.ONNXProgram``."""
    with preserve_modes(model), _quiet():
        model.eval()
        try:
            return torch.onnx.export(
                model,
                (example,),
                dynamo=True,
                opset_version=opset,
                input_names=[INPUT_NAME],
                output_names=[OUTPUT_NAME],
                # A named string axis becomes Dim.DYNAMIC: unlike torch.export.Dim("batch"), it
                # does not fail when the example has batch 1 (which export would specialise).
                dynamic_shapes=({0: "batch"},),
                verbose=False,
            )
        except (EdgeoptError, KeyboardInterrupt):
            raise
        except Exception as exc:  # the exporter raises many types; all mean "cannot export"
            raise export_error(model, exc) from exc


def strip_node_metadata(proto: onnx.ModelProto) -> onnx.ModelProto:
    """Drop the exporter's per-node metadata and doc strings, in place.

    torch's dynamo exporter records a Python stack trace per node: local source paths in a file
    meant to be shipped, and on small int8 models a fifth of the file.
    """
    for node in proto.graph.node:
        del node.metadata_props[:]
        node.doc_string = ""
    proto.graph.doc_string = ""
    return proto


def export_error(model: nn.Module, exc: BaseException) -> EdgeoptError:
    """An :class:`EdgeoptError` for a failed export, naming the operator when the text does.

    Example:
        >>> export_error(net, RuntimeError("No ONNX function found for <OpOverload(op='aten.fft_fft'..."))
        EdgeoptError("cannot export Net to ONNX: operator 'aten.fft_fft' has no ONNX translation ...")
    """
    return exporter_error(type(model).__name__, "ONNX", exc, "has no ONNX translation")


def _check_graph(path: Path) -> None:
    try:
        onnx.checker.check_model(str(path), full_check=True)
    except onnx.checker.ValidationError as exc:
        raise EdgeoptError(
            f"the exported ONNX graph is invalid: {str(exc).splitlines()[0][:300]}",
            hint="this is an exporter bug; please report it with the model",
        ) from exc


def _parity(
    model: nn.Module, path: Path, example: Tensor, data: Tensor | None, rtol: float, atol: float
) -> Any:
    # Imported here: ONNX Runtime loads only when a parity check runs.
    from edgeopt.runtime.onnxruntime_runner import OnnxRuntimeRunner

    runner = OnnxRuntimeRunner(path)
    try:
        return check_parity(
            model, runner, parity_inputs(example, data), rtol=rtol, atol=atol,
            what="the ONNX export (run in ONNX Runtime)",
        )
    finally:
        runner.close()  # release the file before it is renamed (needed on Windows)


def _opset_of(proto: onnx.ModelProto) -> int:
    return next((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), 0)


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence the exporter's chatter that says nothing about the user's model.

    torch.onnx logs a warning per torchvision operator it skips (torchvision is not installed
    here) and internals raise FutureWarnings; neither is actionable by the user.
    """
    logger = logging.getLogger("torch.onnx")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            warnings.simplefilter("ignore", DeprecationWarning)
            yield
    finally:
        logger.setLevel(level)
