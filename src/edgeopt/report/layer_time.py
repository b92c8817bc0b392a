"""The report's per-layer time section: where each profiled artifact's time goes.

An artifact in ``results.json`` may carry a ``layer_profile`` (the JSON form of
:class:`edgeopt.runtime.layer_profile.LayerProfile`, attached with
:func:`edgeopt.runtime.layer_profile.with_layer_profile`). For each such artifact the section
shows its slowest layers — measured time per run, share, MACs, bytes and the roofline estimate —
and the whole-model latency of the same run with what the layers leave over. When two profiled
artifacts of one candidate share layer names (fp32 and int8), the layers the second made
slower are listed. Nothing is shown when no artifact was profiled.
"""

from __future__ import annotations

from typing import Any

from edgeopt.artifact import Artifact
from edgeopt.errors import EdgeoptError
from edgeopt.report.markup import Markup, estimate_badge, join, table, tag
from edgeopt.report.schema import RunResults
from edgeopt.report.units import fmt_ms
from edgeopt.runtime.layer_profile import LayerProfile
from edgeopt.utils.units import format_bytes, format_count

TOP_LAYERS = 12


def layer_time_section(results: RunResults) -> Markup:
    """The section (heading included), or empty markup when no artifact carries a profile."""
    blocks = []
    for cand in results.candidates:
        profiled = [(art, p) for art in cand.artifacts if (p := profile_of(art)) is not None]
        for art, prof in profiled:
            blocks.append(_profile_block(cand.name, art, prof))
        if len(profiled) > 1:
            blocks.append(_slowed(cand.name, profiled[0][1], profiled[1:]))
    if not blocks:
        return Markup("")
    intro = tag("p", "Measured by each runtime's own kernel tracer (ONNX Runtime's session profiler, ExecuTorch's "
                "ETDump) and mapped to the model's layers; the roofline column is an ", estimate_badge(), ".",
                class_="muted")
    return join([tag("h2", "Where the time goes"), intro, *blocks])


def profile_of(art: Artifact) -> LayerProfile | None:
    """The artifact's per-layer profile, if it carries a readable one."""
    data: Any = (art.model_extra or {}).get("layer_profile")
    if not isinstance(data, dict):
        return None
    try:
        return LayerProfile.from_dict(data)
    except EdgeoptError:
        return None


def _profile_block(candidate: str, art: Artifact, prof: LayerProfile) -> Markup:
    title = tag("h3", f"{candidate} · {art.format} {prof.precision} · {prof.runtime}, {prof.threads} threads")
    if not prof.traced:
        whole = fmt_ms(prof.whole_model_ms)
        return tag("div", title, tag("p", f"Whole model: {whole} (measured). {prof.note}", class_="muted"),
                   class_="layer-time")
    total = prof.layer_sum_ms
    header = ["layer", "ops", "time", "share", "MACs", "bytes", "roofline"]
    rows = [
        [tag("code", layer.name), "+".join(dict.fromkeys(layer.op_types)), fmt_ms(layer.ms),
         f"{layer.ms / total:.1%}" if total else "—",
         "—" if layer.macs is None else format_count(layer.macs),
         "—" if layer.bytes is None else format_bytes(layer.bytes),
         "—" if layer.roofline_ms is None else fmt_ms(layer.roofline_ms)]
        for layer in prof.layers[:TOP_LAYERS]
    ]
    more = len(prof.layers) - len(rows)
    facts = [f"Layers: {fmt_ms(total)} in all"]
    if prof.whole_model_ms is not None and prof.coverage is not None:
        facts.append(f"whole model in the same run: {fmt_ms(prof.whole_model_ms)} — the layers are "
                     f"{prof.coverage:.0%} of it; the rest is runtime overhead outside kernels")
    if prof.tracer_cost_ms is not None:
        facts.append(f"ONNX Runtime's profiler cost inside kernel events ({fmt_ms(prof.tracer_cost_ms)}, measured) "
                     "is taken off the layer times")
    if more > 0:
        facts.append(f"{more} faster layers not shown")
    note = tag("p", "; ".join(facts) + "." + (f" {prof.note}." if prof.note else ""), class_="muted")
    return tag("div", title, tag("div", table(header, rows, numeric_from=2, class_="layers"), class_="scroll"), note,
               class_="layer-time")


def _slowed(candidate: str, base: LayerProfile, others: list[tuple[Artifact, LayerProfile]]) -> Markup:
    parts = []
    for art, prof in others:
        mine = {layer.name: layer for layer in base.layers}
        slower = sorted(((mine[layer.name], layer) for layer in prof.layers
                         if layer.name in mine and layer.ms > 1.05 * mine[layer.name].ms),
                        key=lambda pair: pair[0].ms - pair[1].ms)
        if not slower:
            continue
        rows = [[tag("code", a.name), fmt_ms(a.ms), fmt_ms(b.ms), f"{b.ms / a.ms:.2f}×" if a.ms else "—"]
                for a, b in slower[:TOP_LAYERS]]
        parts.append(tag("h3", f"{candidate}: layers slower in {art.format} {prof.precision} than in "
                               f"{base.precision}"))
        parts.append(table(["layer", base.precision, prof.precision, "×"], rows, numeric_from=1, class_="layers"))
    return join(parts)
