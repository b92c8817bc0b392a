"""Dynamic int8 for ONNX Runtime: int8 weights, activations quantized at run time.

For Linear- and recurrent-heavy models (MLPs, LSTMs, GRUs, transformer blocks), where weights
dominate size and activation ranges vary per input: no calibration data is needed, each
MatMul/Gemm (and LSTM/GRU, when exported as such) computes its input's scale on the fly. Built on
``onnxruntime.quantization.quantize_dynamic`` (ORT's dynamic mode uses uint8 activations and
int8 weights on CPU). Convolutions gain little from it; use :func:`quantize_onnx_static`.

Example:
    >>> art = dynamic(mlp, "out/mlp.int8.onnx", example_input=torch.zeros(1, 64))
    >>> art.precision, art.metadata["mode"]
    ('int8', 'dynamic')
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import onnx
import onnxruntime
import torch
from onnxruntime.quantization import QuantType, quantize_dynamic
from onnxruntime.quantization.shape_inference import quant_pre_process
from torch import Tensor, nn

from edgeopt.artifact import Artifact
from edgeopt.errors import EdgeoptError
from edgeopt.export.onnx_export import export_onnx
from edgeopt.quantize.onnx_prepare import check_model, quiet_ort
from edgeopt.quantize.onnx_static import host_needs_reduce_range, int8_parity, strip_debug_info
from edgeopt.utils.atomic import atomic_path

DYNAMIC_OPS = ("MatMul", "Gemm", "LSTM", "GRU", "Attention")


def dynamic(
    model: nn.Module,
    path: str | os.PathLike[str],
    *,
    example_input: Tensor,
    per_channel: bool = True,
    op_types: Iterable[str] = DYNAMIC_OPS,
    parity_data: Tensor | None = None,
    reduce_range: bool | str = "auto",
) -> Artifact:
    """Export ``model`` and quantize its weighted MatMul/Gemm/recurrent ops to dynamic int8.

    Args:
        model: The float model (not modified).
        path: Where to write the int8 ``.onnx`` file (atomically).
        example_input: One input batch for export (its values must be finite).
        per_channel: One weight scale per output channel.
        op_types: ONNX op types to quantize.
        parity_data: Real inputs to compare eager and int8 outputs on (default: the example).
        reduce_range: 7-bit weights; ``"auto"``: on x86 without VNNI, where ORT's u8×s8
            MatMulInteger kernels saturate int16 sums (a random MLP's max error fell from 21% of
            the output scale to under 5% here).

    Returns:
        The int8 :class:`Artifact` (``metadata["mode"] == "dynamic"``, ``fp32_size_bytes``).

    Raises:
        EdgeoptError: NaN/Inf weights or inputs, nothing to quantize, an export failure.

    Example:
        >>> dynamic(lstm_model, "lstm.int8.onnx", example_input=torch.zeros(1, 20, 16)).size_bytes
        21503
    """
    check_model(model)
    if not isinstance(example_input, Tensor) or not bool(torch.isfinite(example_input).all()):
        raise EdgeoptError("the example input must be a finite tensor with a batch dimension",
                           hint="e.g. example_input=torch.zeros(1, 64)")
    check_data = parity_data if parity_data is not None else example_input
    rr = host_needs_reduce_range() if reduce_range == "auto" else bool(reduce_range)
    with tempfile.TemporaryDirectory(prefix="edgeopt-dyn-") as tmp:
        fp32 = export_onnx(model, example_input, Path(tmp) / "model.fp32.onnx")
        pre, raw = Path(tmp) / "model.pre.onnx", Path(tmp) / "model.int8.onnx"
        with quiet_ort():
            quant_pre_process(str(fp32.path), str(pre))
            quantize_dynamic(str(pre), str(raw), op_types_to_quantize=list(op_types),
                             per_channel=per_channel, weight_type=QuantType.QInt8,
                             reduce_range=rr)
        proto = strip_debug_info(onnx.load(str(raw)))
        quantized = [n.op_type for n in proto.graph.node
                     if n.op_type in ("DynamicQuantizeLSTM", "MatMulInteger", "DynamicQuantizeMatMul",
                                      "DynamicQuantizeLinear", "QAttention")]
        if not quantized:
            raise EdgeoptError(f"{type(model).__name__} has no {'/'.join(op_types)} layer to quantize dynamically",
                               hint="dynamic int8 suits Linear/LSTM/GRU layers; use static PTQ for convs")
        with atomic_path(path) as out:
            onnx.save(proto, str(out))
            parity = int8_parity(model, out, np.ascontiguousarray(check_data.detach().numpy(), np.float32))
    metadata = {"mode": "dynamic", "per_channel": per_channel, "reduce_range": rr, "op_types": list(op_types),
                "quantized_ops": sorted(set(quantized)), "fp32_size_bytes": fp32.size_bytes,
                "opset": fp32.metadata.get("opset"),
                "quantizer": f"onnxruntime.quantization.quantize_dynamic {onnxruntime.__version__}"}
    return Artifact.from_file(path, "onnx", "int8", tuple(example_input.shape), parity=parity,
                              metadata=metadata)
