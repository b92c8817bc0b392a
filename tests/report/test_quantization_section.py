"""The report's per-layer quantization section: worst layer first, escaped, robust to junk records."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from edgeopt.report import validate_results
from edgeopt.report.html import write_report
from edgeopt.report.quantization_section import has_quantized, quantization_sections
from edgeopt.utils import write_json_atomic


def _record() -> dict[str, Any]:
    rows = [
        {"index": 0, "layer": "features.0", "op_type": "Conv", "sqnr_db": 38.0, "accumulated_sqnr_db": 38.0,
         "max_abs_error": 0.01, "saturated": 0.0, "first": False},
        {"index": 1, "layer": "features.<bad>", "op_type": "Conv", "sqnr_db": 4.0, "accumulated_sqnr_db": 3.5,
         "max_abs_error": 2.5, "saturated": 0.125, "first": True},
        {"index": 2, "layer": "classifier", "op_type": "Gemm", "sqnr_db": 999.0, "accumulated_sqnr_db": 3.4,
         "max_abs_error": 0.0, "saturated": None, "first": False},
        {"index": 3, "layer": "output", "op_type": "Output", "sqnr_db": None, "accumulated_sqnr_db": -50.0,
         "max_abs_error": 9.0, "saturated": None, "first": False},
    ]
    diff = {"rows": rows, "output_sqnr_db": 3.4, "first_diverging": "features.<bad>", "threshold_db": 10.0,
            "samples": 64, "scope": "calibration split", "note": "ONNX Runtime, QDQ"}
    return {"backend": "onnxruntime", "method": "ptq", "calibration": "entropy", "float_layers": ["classifier"],
            "metadata": {"repair": {"max_drop": 1.0, "decided_on": "val"},
                         "self_check": {"passed": True, "deviation_rms": 0.001, "tolerance_rms": 0.01}},
            "diff": diff}


def _page(synthetic_data: dict[str, Any], record: Any, tmp_path: Path) -> str:
    data = copy.deepcopy(synthetic_data)
    if record is not None:
        data["candidates"][0]["details"] = {"quantization": record}
    write_json_atomic(tmp_path / "results.json", data)
    return write_report(tmp_path).read_text()


def _results(synthetic_data: dict[str, Any], record: Any) -> Any:
    data = copy.deepcopy(synthetic_data)
    data["candidates"][0]["details"] = {"quantization": record}
    return validate_results(data)


def test_no_quantized_candidate_no_section(synthetic_data, tmp_path):
    assert not has_quantized(validate_results(copy.deepcopy(synthetic_data)))
    assert "Quantization, layer by layer" not in _page(synthetic_data, None, tmp_path)


def test_rows_worst_first_escaped_and_facts_shown(synthetic_data, tmp_path):
    results = _results(synthetic_data, _record())
    assert has_quantized(results)
    html = str(quantization_sections(results))
    assert html.index("features.&lt;bad&gt;") < html.index("features.0") < html.index("classifier</td>")
    assert html.index("classifier</td>") < html.index(">output</td>")  # the output row is not a layer: last
    assert "<bad>" not in html
    assert "first to lose the signal" in html and "exact" in html and "12.50%" in html
    assert "kept float to meet max_drop 1.0 (decided on val): classifier" in html
    assert "self-check passed" in html and "calibration entropy" in html
    assert "Quantization, layer by layer" in _page(synthetic_data, _record(), tmp_path)


def test_junk_records_do_not_break_the_report(synthetic_data, tmp_path):
    for junk in ("text", 3, {"diff": "nope"}, {"diff": {"rows": []}}, {"metadata": ["x"], "diff": None}):
        results = _results(synthetic_data, junk)
        html = str(quantization_sections(results))
        assert "<script" not in html
        assert "<h1" in _page(synthetic_data, junk, tmp_path)
