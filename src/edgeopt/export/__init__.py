"""Exporters: one per artifact format, each checked against the eager model (parity).

Names are imported lazily (PEP 562): ``edgeopt.export.parity`` or ``Artifact`` do not load
torch.onnx or ExecuTorch.

Example:
    >>> from edgeopt import export
    >>> art = export.onnx(model, torch.zeros(1, 1, 28, 28), "out/model.onnx")
    >>> art.size_bytes, art.parity.max_abs_error
    (857642, 2.1e-07)
    >>> export.executorch(model, torch.zeros(1, 1, 28, 28), "out/model.pte").format
    'executorch'
    >>> export.openvino(model, torch.zeros(1, 1, 28, 28), "out/model.xml").format   # + out/model.bin
    'openvino'
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from edgeopt.utils.lazy import lazy_exports

# public name -> module that defines it ("module:attribute" for an alias). The exporters live in
# onnx_export.py / executorch_export.py, not onnx.py / executorch.py: importing a submodule binds
# it on the package, and export.onnx would then be that module instead of the function.
_EXPORTS: dict[str, str] = {
    "onnx": "edgeopt.export.onnx_export:export_onnx",
    "export_onnx": "edgeopt.export.onnx_export",
    "executorch": "edgeopt.export.executorch_export:export_executorch",
    "export_executorch": "edgeopt.export.executorch_export",
    "openvino": "edgeopt.export.openvino_export:export_openvino",
    "export_openvino": "edgeopt.export.openvino_export",
    "check_parity": "edgeopt.export.parity",
    "compare_outputs": "edgeopt.export.parity",
    "parity_inputs": "edgeopt.export.parity",
    # the types live below every package that uses them; named here for API users
    "Artifact": "edgeopt.artifact",
    "ParityReport": "edgeopt.artifact",
}

# Literal, not sorted(_EXPORTS): mypy reads only a literal __all__ and would export nothing.
__all__ = [
    "Artifact",
    "ParityReport",
    "check_parity",
    "compare_outputs",
    "executorch",
    "export_executorch",
    "export_onnx",
    "export_openvino",
    "onnx",
    "openvino",
    "parity_inputs",
]

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())


if TYPE_CHECKING:  # for type checkers and IDEs; not executed at run time
    from edgeopt.artifact import Artifact as Artifact, ParityReport as ParityReport
    from edgeopt.export.executorch_export import export_executorch as executorch, export_executorch as export_executorch
    from edgeopt.export.onnx_export import export_onnx as export_onnx, export_onnx as onnx
    from edgeopt.export.openvino_export import export_openvino as export_openvino, export_openvino as openvino
    from edgeopt.export.parity import (
        check_parity as check_parity,
        compare_outputs as compare_outputs,
        parity_inputs as parity_inputs,
    )
