"""Export a PyTorch model to an OpenVINO IR (``.xml`` + ``.bin``), parity-tested in OpenVINO.

The route is edgeopt's own ONNX export (:func:`~edgeopt.export.onnx_export.export_onnx`, the
torch.export-based exporter every other format shares), then ``openvino.convert_model`` on that
file. Converting the ``.onnx`` rather than the torch module means the IR holds the graph edgeopt
has already checked, and an operator that fails fails the same way for ONNX and OpenVINO.

The IR keeps fp32 weights (``compress_to_fp16=False``: ``save_model`` would otherwise halve them
to fp16, a precision change nobody asked for) and the ONNX file's dynamic batch dimension.

Example:
    >>> art = export_openvino(model, torch.zeros(1, 1, 28, 28), "out/model.xml")
    >>> art.format, art.parity.passed, sorted(p.name for p in Path("out").iterdir())
    ('openvino', True, ['model.bin', 'model.xml'])
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from torch import Tensor, nn

from edgeopt.artifact import Artifact
from edgeopt.errors import EdgeoptError
from edgeopt.export.onnx_export import export_onnx
from edgeopt.export.parity import check_parity, parity_inputs
from edgeopt.runtime.openvino_runner import import_openvino, ov_error_reason

EXPORTER = "torch.onnx.export(dynamo=True) + openvino.convert_model"


def export_openvino(
    model: nn.Module,
    example_input: Tensor,
    path: str | os.PathLike[str],
    *,
    check: bool = True,
    rtol: float = 1e-4,
    atol: float = 1e-5,
    parity_data: Tensor | None = None,
) -> Artifact:
    """Export ``model`` to an OpenVINO IR at ``path`` (``.xml``; weights in the ``.bin`` beside it).

    Both files are written together or not at all: if export, conversion or the parity check
    fails, nothing is left at ``path`` (existing files there are kept).

    Args:
        model: The eager model (on CPU).
        example_input: One input batch, e.g. ``torch.zeros(1, 1, 28, 28)``.
        path: The ``.xml`` file to write (parent folders are created).
        check: Run the parity check (the IR in OpenVINO, fp32, against the eager model).
        rtol, atol: Parity tolerance, relative to the output's scale (see :mod:`.parity`).
        parity_data: Real samples (N x C x H x W) to compare on, beside the example and
            seeded random batches.

    Returns:
        The :class:`Artifact` (format ``"openvino"``; size and hash cover the ``.xml`` and ``.bin``).

    Raises:
        EdgeoptError: a path not ending in ``.xml``, OpenVINO missing, an operator that cannot be
            exported or converted, or outputs that differ from the eager model.

    Example:
        >>> export_openvino(create_model("simple_cnn", in_chans=1), torch.zeros(1, 1, 8, 8), "cnn.xml").format
        'openvino'
    """
    target = Path(path)
    if target.suffix.lower() != ".xml" or not target.stem:
        raise EdgeoptError(f"an OpenVINO IR is named NAME.xml, got {target.name!r}", hint="e.g. model.xml")
    ov = import_openvino()
    target.parent.mkdir(parents=True, exist_ok=True)
    # The temporary folder sits beside the target, so the final renames stay on one file system.
    with tempfile.TemporaryDirectory(prefix=f".{target.stem}.", dir=target.parent) as tmp:
        onnx_art = export_onnx(model, example_input, Path(tmp) / "model.onnx", check=False)
        staged = Path(tmp) / "model.xml"
        _convert(ov, onnx_art.path, staged)
        report = _parity(model, staged, example_input, parity_data, rtol, atol) if check else None
        _publish(staged, target)
    metadata = {"opset": onnx_art.metadata.get("opset"), "exporter": EXPORTER, "openvino_version": ov.__version__,
                "dynamic_batch": True, "weights": target.with_suffix(".bin").name}
    return Artifact.from_file(target, "openvino", "fp32", tuple(example_input.shape), parity=report,
                              metadata=metadata)


def onnx_to_openvino(onnx_path: str | os.PathLike[str], path: str | os.PathLike[str], *, precision: str = "fp32",
                     check_input: np.ndarray | None = None, atol: float = 1e-4) -> Artifact:
    """Convert an ONNX file (fp32, or int8 QDQ) to an OpenVINO IR at ``path`` (``.xml`` + ``.bin``).

    The IR is the graph OpenVINO builds when it reads the ``.onnx`` itself, saved so a deployment
    needs no ONNX frontend; with ``check_input`` both are run in OpenVINO and must agree.

    Raises:
        EdgeoptError: OpenVINO missing, a conversion it refuses, or outputs that differ.
    """
    from edgeopt.runtime.openvino_runner import OpenVINORunner

    source, target = Path(onnx_path), Path(path)
    if target.suffix.lower() != ".xml" or not target.stem:
        raise EdgeoptError(f"an OpenVINO IR is named NAME.xml, got {target.name!r}", hint="e.g. model.xml")
    ov = import_openvino()
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{target.stem}.", dir=target.parent) as tmp:
        staged = Path(tmp) / "model.xml"
        _convert(ov, source, staged)
        if check_input is not None:
            runners = [OpenVINORunner(source, precision="fp32"), OpenVINORunner(staged, precision="fp32")]
            try:
                got = [runner.run(check_input) for runner in runners]
            finally:
                for runner in runners:
                    runner.close()
            worst = float(np.max(np.abs(got[0] - got[1])))
            if worst > atol:
                raise EdgeoptError(f"the OpenVINO IR of {source.name} differs from the .onnx in OpenVINO by "
                                   f"{worst:.3g}", hint="run the .onnx in OpenVINO instead (it reads ONNX directly)")
        _publish(staged, target)
    shape = tuple(check_input.shape) if check_input is not None else None
    return Artifact.from_file(target, "openvino", precision, shape,
                              metadata={"converted_from": source.name, "openvino_version": ov.__version__,
                                        "weights": target.with_suffix(".bin").name})


def _convert(ov: Any, onnx_path: Path, xml_path: Path) -> None:
    """``convert_model`` + ``save_model`` (fp32 weights); the ONNX file's dynamic batch is kept."""
    try:
        converted = ov.convert_model(str(onnx_path))
        ov.save_model(converted, str(xml_path), compress_to_fp16=False)
    except Exception as exc:  # OpenVINO's conversion errors are RuntimeErrors with C++ traces
        raise EdgeoptError(f"OpenVINO cannot convert the ONNX export: {ov_error_reason(exc)}",
                           hint="an operator OpenVINO lacks; run the .onnx in ONNX Runtime instead") from exc


def _parity(model: nn.Module, xml: Path, example: Tensor, data: Tensor | None, rtol: float, atol: float) -> Any:
    from edgeopt.runtime.openvino_runner import OpenVINORunner

    runner = OpenVINORunner(xml, precision="fp32")
    try:
        return check_parity(model, runner, parity_inputs(example, data), rtol=rtol, atol=atol,
                            what="the OpenVINO IR (run in OpenVINO)")
    finally:
        runner.close()  # release the mapped .bin before it is renamed (needed on Windows)


def _publish(staged: Path, target: Path) -> None:
    """Move the staged ``.bin`` then ``.xml`` onto the target names.

    The ``.xml`` goes last: it is the file users open, so until it lands the target is either the
    old model or absent. If it cannot be moved, the new ``.bin`` is removed again.
    """
    weights = target.with_suffix(".bin")
    os.replace(staged.with_suffix(".bin"), weights)
    try:
        os.replace(staged, target)
    except OSError:
        weights.unlink(missing_ok=True)
        raise
