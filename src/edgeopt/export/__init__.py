"""Exporters: one per artifact format, each checked against the eager model (parity).

Example:
    >>> from edgeopt import export
    >>> art = export.onnx(model, torch.zeros(1, 1, 28, 28), "out/model.onnx")
    >>> art.size_bytes, art.parity.max_abs_error
    (857642, 2.1e-07)
    >>> export.executorch(model, torch.zeros(1, 1, 28, 28), "out/model.pte").format
    'executorch'
"""

from edgeopt.export.artifact import Artifact
from edgeopt.export.executorch import export_executorch
from edgeopt.export.onnx import export_onnx
from edgeopt.export.parity import ParityReport, check_parity, compare_outputs, parity_inputs

# ``edgeopt.export.onnx(...)`` is the exporter function, which shadows the submodule of the same
# name as an attribute: ``import edgeopt.export.onnx as m`` binds the function too. To reach the
# module's other names, use ``from edgeopt.export.onnx import export_error`` (or sys.modules).
onnx = export_onnx
# Likewise ``edgeopt.export.executorch(...)`` is the ExecuTorch exporter (the submodule is shadowed).
executorch = export_executorch

__all__ = [
    "Artifact",
    "ParityReport",
    "check_parity",
    "compare_outputs",
    "executorch",
    "export_executorch",
    "export_onnx",
    "onnx",
    "parity_inputs",
]
