"""int8 quantization: post-training (static, dynamic; calibration chosen by hand or "auto";
cross-layer equalization, bias correction, AdaRound, 4-bit weights, per-tensor scales),
quantization-aware training, a per-layer diff of the deployed file against the float model, and
the float fallback (repair) it drives. Built on ONNX Runtime's quantization tools (the ONNX path) and
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

from typing import TYPE_CHECKING

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
    "diff": "edgeopt.quantize.layer_diff",
    "LayerDiff": "edgeopt.quantize.layer_diff",
    "SensitivityReport": "edgeopt.quantize.onnx_sensitivity",
    "quantize_pt2e": "edgeopt.quantize.pt2e",
    "ptq_executorch": "edgeopt.quantize.pt2e",
    "qat": "edgeopt.quantize.qat_training",
    # the transforms (recipe steps, CLI options, lineage entries)
    "Ptq": "edgeopt.quantize.transforms",
    "Qat": "edgeopt.quantize.transforms",
    "DynamicQuant": "edgeopt.quantize.transforms",
}

# Literal, not sorted(_EXPORTS): mypy reads only a literal __all__ and would export nothing.
__all__ = [
    "BACKENDS",
    "CALIBRATION_METHODS",
    "DynamicQuant",
    "LayerDiff",
    "Ptq",
    "Qat",
    "QuantizationResult",
    "SensitivityReport",
    "diff",
    "dynamic",
    "ptq",
    "ptq_executorch",
    "qat",
    "quantize_onnx_static",
    "quantize_pt2e",
    "sensitivity",
]

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())

if TYPE_CHECKING:  # for type checkers and IDEs; not executed at run time
    from edgeopt.quantize.api import BACKENDS as BACKENDS, ptq as ptq
    from edgeopt.quantize.calibration import CALIBRATION_METHODS as CALIBRATION_METHODS
    from edgeopt.quantize.layer_diff import LayerDiff as LayerDiff, diff as diff
    from edgeopt.quantize.onnx_dynamic import dynamic as dynamic
    from edgeopt.quantize.onnx_sensitivity import SensitivityReport as SensitivityReport, sensitivity as sensitivity
    from edgeopt.quantize.onnx_static import quantize_onnx_static as quantize_onnx_static
    from edgeopt.quantize.pt2e import ptq_executorch as ptq_executorch, quantize_pt2e as quantize_pt2e
    from edgeopt.quantize.qat_training import qat as qat
    from edgeopt.quantize.result import QuantizationResult as QuantizationResult
    from edgeopt.quantize.transforms import DynamicQuant as DynamicQuant, Ptq as Ptq, Qat as Qat
