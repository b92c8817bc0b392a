"""The peer for the ExecuTorch int8 path: ExecuTorch's documented XNNPACK PT2E flow, defaults only.

What ExecuTorch's XNNPACK quantization page does, step by step and with nothing tuned:
``XNNPACKQuantizer().set_global(get_symmetric_quantization_config(is_per_channel=True))``,
``torch.export.export(model, sample_inputs).module()`` (static batch), ``prepare_pt2e``, one
forward per calibration sample, ``convert_pt2e``, ``to_edge_transform_and_lower`` with an
``XnnpackPartitioner`` and ``to_executorch``. No BatchNorm folding beforehand (PT2E folds conv+BN
itself) and no parity check. The quantization benchmark runs it beside
:func:`edgeopt.quantize.ptq_executorch` on the same model and calibration samples, and measures
both ``.pte`` files the same way.

Example:
    >>> peer = executorch_peer_ptq(model, calib_images, "peer.int8.pte", eval_data=splits.test)
    >>> peer.int8_accuracy, peer.artifact.size_bytes
"""

from __future__ import annotations

import copy
import os
from typing import Any

import torch
from torch import Tensor, nn
from torch.utils.data import Dataset

from edgeopt.artifact import Artifact
from edgeopt.quantize.pt2e import artifact_accuracy, calibration_batches, float_accuracy
from edgeopt.quantize.result import QuantizationResult
from edgeopt.utils import atomic_path
from edgeopt.utils.quiet import no_warnings


def executorch_peer_ptq(
    model: nn.Module,
    calibration_data: Tensor | Dataset[Any],
    path: str | os.PathLike[str],
    *,
    example_input: Tensor | None = None,
    eval_data: Dataset[Any] | None = None,
) -> QuantizationResult:
    """Quantize and lower ``model`` exactly as ExecuTorch's XNNPACK docs show; write ``path``.

    Args:
        model: The fp32 model (a copy is quantized).
        calibration_data: The same real samples edgeopt calibrates on.
        path: The ``.pte`` to write.
        example_input: The sample input (batch 1 by default, the docs' shape).
        eval_data: Labelled data; accuracy is measured on the ``.pte`` in the ExecuTorch runtime.

    Returns:
        A :class:`QuantizationResult` with ``method="peer:executorch-docs"``.
    """
    from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
    from executorch.backends.xnnpack.quantizer.xnnpack_quantizer import (
        XNNPACKQuantizer,
        get_symmetric_quantization_config,
    )
    from executorch.exir import to_edge_transform_and_lower
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

    batches = calibration_batches(calibration_data)
    sample = example_input if example_input is not None else batches[0][:1]
    float_model = copy.deepcopy(model).eval()
    with no_warnings():
        quantizer = XNNPACKQuantizer().set_global(get_symmetric_quantization_config(is_per_channel=True))
        graph = torch.export.export(float_model, (sample,)).module()
        prepared = prepare_pt2e(graph, quantizer)
        with torch.no_grad():
            for batch in batches:  # the docs feed samples one at a time, at the export's shape
                for one in torch.split(batch, sample.shape[0]):
                    if one.shape[0] == sample.shape[0]:
                        prepared(one)
        quantized = convert_pt2e(prepared)
        program = to_edge_transform_and_lower(
            torch.export.export(quantized, (sample,)), partitioner=[XnnpackPartitioner()]
        ).to_executorch()
    with atomic_path(path) as tmp:
        tmp.write_bytes(program.buffer)
    artifact = Artifact.from_file(path, "executorch", "int8", tuple(sample.shape),
                                  metadata={"peer": "executorch docs: XNNPACK PT2E, defaults"})
    return QuantizationResult(
        artifact=artifact,
        backend="executorch",
        method="peer:executorch-docs",
        calibration="histogram",
        float_accuracy=float_accuracy(model, eval_data),
        int8_accuracy=artifact_accuracy(artifact, eval_data),
        metadata={"calibration_samples": sum(len(b) for b in batches)},
    )
