"""How a per-layer diff's rows are stored and ranked: shared by :mod:`edgeopt.quantize.layer_diff`,
which makes them, and the HTML report, which reads them from ``results.json``.

Plain values only (no ONNX Runtime): the report imports this without loading a runtime.
"""

from __future__ import annotations

import math
from typing import Any

INF_DB = 999.0  # how an exact match (infinite SQNR) is stored in JSON
BORDER_ROWS = ("Input", "Output")  # the model's own input and output: not layers, ranked after them


def diff_row_rank(row: dict[str, Any]) -> tuple[bool, float, int]:
    """Sort key, worst first: lowest layer-alone SQNR (the accumulated one where it is missing).

    The model's output row carries every layer's error; ranked among the layers it would hide the
    culprit, so input and output rows come after every layer. Missing fields (a damaged
    ``results.json``) rank last rather than fail.
    """
    value = row.get("sqnr_db")
    if value is None:
        value = row.get("accumulated_sqnr_db")
    return (row.get("op_type") in BORDER_ROWS, math.inf if value is None else float(value),
            int(row.get("index") or 0))
