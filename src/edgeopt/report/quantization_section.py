"""The report's per-layer section: for every quantized candidate, its int8 file against the float model.

Reads what the quantize step stored in the candidate's ``details["quantization"]``: the diff
(:func:`edgeopt.quantize.diff`, rows per quantized tensor), the layers the repair kept float and
the self-check. Rows are shown worst first (lowest SQNR of the layer alone), the layer that first
loses the signal marked; every figure is measured on the file in its runtime.
"""

from __future__ import annotations

from typing import Any

from edgeopt.quantize.diff_rows import INF_DB, diff_row_rank
from edgeopt.report.markup import Markup, join, table, tag
from edgeopt.report.schema import CandidateResult, RunResults


def quantization_details(cand: CandidateResult) -> dict[str, Any] | None:
    """The quantize step's record of a candidate (None for other candidates)."""
    details = (cand.model_extra or {}).get("details") or {}
    record = details.get("quantization") if isinstance(details, dict) else None
    return record if isinstance(record, dict) else None


def has_quantized(results: RunResults) -> bool:
    """Whether any candidate carries a quantize step's record."""
    return any(quantization_details(c) is not None for c in results.candidates)


def quantization_sections(results: RunResults) -> Markup:
    """One block per quantized candidate: summary line and the per-layer table."""
    blocks = [_block(c, record) for c in results.candidates
              for record in [quantization_details(c)] if record is not None]
    if not blocks:
        return tag("p", "No candidate of this run was quantized.", class_="muted")
    return join(blocks)


def _block(cand: CandidateResult, record: dict[str, Any]) -> Markup:
    title = tag("h3", f"{cand.name} · {record.get('backend', '?')} {record.get('method', '')}")
    facts = [_facts(record)]
    diff = record.get("diff")
    if not isinstance(diff, dict) or not diff.get("rows"):
        facts.append(tag("p", "No per-layer diff was recorded for this candidate.", class_="muted"))
        return tag("div", title, *facts, class_="artifact")
    rows = sorted(diff["rows"], key=diff_row_rank)
    header = ["#", "layer", "op", "SQNR alone (dB)", "SQNR accumulated (dB)", "max error", "saturated", ""]
    body = [[r.get("index", ""), r.get("layer", "?"), r.get("op_type", ""), _db(r.get("sqnr_db")),
             _db(r.get("accumulated_sqnr_db")), _num(r.get("max_abs_error")), _pct(r.get("saturated")),
             tag("span", "first to lose the signal", class_="fail") if r.get("first") else ""]
            for r in rows]
    first = diff.get("first_diverging")
    summary = (f"Output SQNR {_db(diff.get('output_sqnr_db'))} dB over {diff.get('samples', '?')} inputs "
               f"({diff.get('scope', '')}); " + (f"first layer to lose the signal (accumulated SQNR below "
               f"{diff.get('threshold_db', 10):g} dB): {first}." if first else
               f"no layer falls below {diff.get('threshold_db', 10):g} dB."))
    caption = tag("figcaption", f"{diff.get('note', '')}. Worst first, by the layer's SQNR alone (its nodes "
                  "fed the float model's input); accumulated: from the input to this layer. About 6 dB per bit.")
    return tag("div", title, *facts, tag("p", summary),
               tag("div", tag("figure", table(header, body, numeric_from=3, class_="layers"), caption),
                   class_="scroll"), class_="artifact")


def _facts(record: dict[str, Any]) -> Markup:
    parts = []
    if record.get("calibration"):
        parts.append(f"calibration {record['calibration']}")
    meta = record.get("metadata") or {}
    floats = record.get("float_layers") or []
    repair = meta.get("repair") if isinstance(meta, dict) else None
    if repair:
        parts.append(f"kept float to meet max_drop {repair.get('max_drop')} (decided on "
                     f"{repair.get('decided_on', '?')}): {', '.join(floats) if floats else 'none'}")
    check = meta.get("self_check") if isinstance(meta, dict) else None
    if isinstance(check, dict) and "passed" in check:
        parts.append(f"self-check {'passed' if check['passed'] else 'FAILED'} (file vs its own simulation: "
                     f"RMS {_num(check.get('deviation_rms'))}, allowed {_num(check.get('tolerance_rms'))})")
    return tag("p", "; ".join(parts) + ("." if parts else ""), class_="muted") if parts else Markup("")




def _db(value: Any) -> str:
    if value is None:
        return "—"
    return "exact" if float(value) >= INF_DB else f"{float(value):.1f}"


def _num(value: Any) -> str:
    return "—" if value is None else f"{float(value):.3g}"


def _pct(value: Any) -> str:
    return "—" if value is None else f"{100 * float(value):.2f}%"
