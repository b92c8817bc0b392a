"""int8 quantization: post-training (static, dynamic), quantization-aware training, per-layer
sensitivity with float fallback. Built on ONNX Runtime's quantization tools (the ONNX path) and
PT2E with the XNNPACK quantizer (the ExecuTorch path). Every accuracy it reports for an int8
model is measured on the exported artifact in its runtime.

Names are imported lazily (PEP 562).

Example:
    >>> from edgeopt import quantize
    >>> result = quantize.ptq(model, calib, backend="onnxruntime", path="out/model.int8.onnx",
    ...                       eval_data=splits.test)
    >>> result.artifact.size_bytes, result.accuracy_drop
"""

from __future__ import annotations

from edgeopt.utils.lazy import lazy_exports

# public name -> module that defines it
_EXPORTS: dict[str, str] = {
    "QuantizationResult": "edgeopt.quantize.result",
    "ptq": "edgeopt.quantize.api",
    "BACKENDS": "edgeopt.quantize.api",
    "CALIBRATION_METHODS": "edgeopt.quantize.calibration",
    "quantize_onnx_static": "edgeopt.quantize.onnx_static",
    # (modules named onnx_*: a submodule named like the function would shadow it once imported)
    "dynamic": "edgeopt.quantize.onnx_dynamic",
    "sensitivity": "edgeopt.quantize.onnx_sensitivity",
    "SensitivityReport": "edgeopt.quantize.onnx_sensitivity",
    "quantize_pt2e": "edgeopt.quantize.pt2e",
    "ptq_executorch": "edgeopt.quantize.pt2e",
    # the transforms (recipe steps, CLI options, lineage entries)
    "Ptq": "edgeopt.quantize.transforms",
    "Qat": "edgeopt.quantize.transforms",
    "DynamicQuant": "edgeopt.quantize.transforms",
}

__all__ = sorted([*_EXPORTS, "qat"])

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())

# ``qat`` is both a submodule and the function it defines. Bind the function eagerly: a lazy
# binding is replaced by the module the first time anything imports ``edgeopt.quantize.qat``.
from edgeopt.quantize.qat import qat  # noqa: E402
